import PhoenixRedis

extension QueueScripts {
    /// Changes a queue's flow control (``FlowSettings``).
    ///
    /// KEYS: the queue's keys. ARGV: key base, queue, fair share ('1' on, '0' off, '' unchanged, 'default': on
    /// unless the hash records a choice already), concurrency per key, concurrency of the queue, jobs
    /// started per minute and tokens spent per minute (each a number of 1 or more, '0' for no limit, ''
    /// unchanged). Removing a rate forgets its schedule (`rateAt`, `tokensAt`).
    /// Returns: `{'ok'}`, or `{'busy', depth}` (nothing changed) when asked to switch fair share while jobs
    /// wait in the ready list (cancelled ids not yet dropped by a fetch included).
    /// Invariant: fair share changes only while the ready list is empty, so no id is ever in the other
    /// structure than the one fetch reads; every parked key gets its turn back (a fetch that finds it still
    /// at the new limit parks it again), so a raised or removed limit frees waiting keys at once.
    /// Replay: sets the same values again; the parked set is already empty.
    static let configureFlow = LuaPrelude.script("configureFlow", """
    local fair, keyLimit, limit, rpm, tpm = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
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
    if tpm == '0' then redis.call('HDEL', key, 'tokensAt') end
    for field, value in pairs({keyConcurrency = keyLimit, concurrency = limit, rpm = rpm, tpm = tpm}) do
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

    /// Charges the tokens one call of a running job spent (a provider's usage figures) to its queue: they count
    /// in the per-minute `tokens` counter and in the job's `tokens` total, and, under a token budget (`tpm`),
    /// move `tokensAt` (when the tokens reported are paid off) on by their share of a minute.
    ///
    /// KEYS: the queue's keys and the job's hash. ARGV: key base, queue, job id, report id (unique per report),
    /// tokens (1 or more).
    /// Returns: 1 when counted, 0 for a replay.
    /// Invariant: each report counts once: the job's hash keeps the last report id (`tokenReport`), and a
    /// delivery sends its reports one after another, so a replay always names the last one. A report of a job
    /// whose hash is gone (it cannot be, while it runs) counts without that check.
    static let spendTokens = LuaPrelude.script("spendTokens", """
    local id, report, tokens = ARGV[3], ARGV[4], tonumber(ARGV[5])
    local settings = flow()
    local fields = job_fields(id, 'tokenReport')
    if fields and fields[1] == report then return 0 end
    local now = now_ms()
    if fields and redis.call('EXISTS', job_key(id)) == 1 then
      redis.call('HSET', job_key(id), 'tokenReport', report)
      redis.call('HINCRBY', job_key(id), 'tokens', tokens)
    end
    count_minute('tokens', tokens, now)
    if settings.tpm then
      local from = math.max(settings.tokensAt or 0, now)
      redis.call('HSET', queue_key('flow'), 'tokensAt', string.format('%.3f', from + tokens * 60000 / settings.tpm))
    end
    return 1
    """)

    /// Holds a queue's fetches back (a provider answered 429, or 503 with Retry-After): no job of it starts
    /// until the hold is over, on any worker.
    ///
    /// KEYS: the queue's keys. ARGV: key base, queue, hold (ms, 1 or more).
    /// Returns: how long the queue is held from now (ms): this hold, or a longer one already in force.
    /// Invariant: a hold only ever ends later, never earlier. Replay: holds from the replay's time, at most
    /// the time between the two calls longer.
    static let holdBack = LuaPrelude.script("holdBack", """
    local hold = tonumber(ARGV[3])
    require_types(queue_key('flow'), 'hash')
    local now = now_ms()
    local until_ms = math.max(tonumber(redis.call('HGET', queue_key('flow'), 'heldUntil')) or 0, now + hold)
    redis.call('HSET', queue_key('flow'), 'heldUntil', int_text(until_ms))
    return until_ms - now
    """)
}
