import PhoenixRedis

extension QueueScripts {
    /// Changes a queue's flow control (``FlowSettings``).
    ///
    /// KEYS: the queue's keys. ARGV: key base, queue, fair share ('1' on, '0' off, '' unchanged, 'default': on
    /// unless the hash records a choice already), concurrency per key, concurrency of the queue and jobs
    /// started per minute (a number of 1 or more, '0' for no limit, '' unchanged).
    /// Returns: `{'ok'}`, or `{'busy', depth}` (nothing changed) when asked to switch fair share while jobs
    /// wait in the ready list (cancelled ids not yet dropped by a fetch included).
    /// Invariant: fair share changes only while the ready list is empty, so no id is ever in the other
    /// structure than the one fetch reads; every parked key gets its turn back (a fetch that finds it still
    /// at the new limit parks it again), so a raised or removed limit frees waiting keys at once.
    /// Replay: sets the same values again; the parked set is already empty.
    static let configureFlow = LuaPrelude.script("configureFlow", """
    local fair, keyLimit, limit, rpm = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
    require_types(queue_key('flow'), 'hash', queue_key('turns'), 'list', queue_key('parked'), 'set', queue_key('ready'), 'list')
    local settings, key = flow(), queue_key('flow')
    if fair == 'default' then
      fair = redis.call('HEXISTS', key, 'fair') == 1 and '' or '1'
    end
    if fair ~= '' and (fair == '1') ~= settings.fair then
      local depth = redis.call('LLEN', queue_key('ready'))
      if depth > 0 then return {'busy', depth} end
      if fair == '0' then redis.call('DEL', queue_key('turns'), queue_key('parked'), queue_key('served')) end
    end
    if fair ~= '' then redis.call('HSET', key, 'fair', fair) end
    if rpm == '0' then redis.call('HDEL', key, 'rateAt') end
    for field, value in pairs({keyConcurrency = keyLimit, concurrency = limit, rpm = rpm}) do
      if value == '0' then
        redis.call('HDEL', key, field)
      elseif value ~= '' then
        redis.call('HSET', key, field, value)
      end
    end
    for _, parked in ipairs(redis.call('SMEMBERS', queue_key('parked'))) do redis.call('LPUSH', queue_key('turns'), parked) end
    redis.call('DEL', queue_key('parked'))
    if redis.call('LLEN', queue_key('ready')) > 0 then signal() end
    return {'ok'}
    """)
}
