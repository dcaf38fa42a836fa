import PhoenixRedis

extension QueueScripts {
    /// Registers a worker's heartbeat and forgets workers whose heartbeat went stale.
    ///
    /// KEYS: the registry (sorted set) and the worker's hash. ARGV: the registry's key (the base of its workers'
    /// hashes), worker id, time-to-live of the worker's hash (s), stale after (ms), then field/value pairs.
    /// Returns: how many stale workers were forgotten.
    /// Invariant: `workers` holds exactly the workers that beat within the stale window (after this call).
    /// Runs when Redis is out of memory (a worker's hash is small and bounded). Replay: beats again.
    static let heartbeat = LuaPrelude.script("heartbeat", """
    local id, ttl, staleMs = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
    local now = now_ms()
    local key = base .. ':' .. id
    local fields = {}
    for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
    redis.call('HSET', key, 'heartbeatAt', now, unpack(fields))
    redis.call('EXPIRE', key, ttl)
    redis.call('ZADD', base, now, id)
    local stale = redis.call('ZRANGEBYSCORE', base, '-inf', now - staleMs)
    for _, gone in ipairs(stale) do
      redis.call('ZREM', base, gone)
      redis.call('DEL', base .. ':' .. gone)
    end
    return #stale
    """)

    /// Lists live workers: those whose last heartbeat is within the stale window.
    ///
    /// KEYS: the registry. ARGV: the registry's key, stale after (ms).
    /// Returns: `{now, id, {field, value, …}, id, {…}, …}`.
    static let liveWorkers = LuaPrelude.script("liveWorkers", memory: .readOnly, """
    local staleMs = tonumber(ARGV[2])
    local now = now_ms()
    local out = {now}
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', base, now - staleMs, '+inf')) do
      out[#out + 1] = id
      out[#out + 1] = redis.call('HGETALL', base .. ':' .. id)
    end
    return out
    """)

    /// Removes a worker from the registry (clean shutdown).
    ///
    /// KEYS: the registry and the worker's hash. ARGV: the registry's key, worker id. Returns: 1 if it was registered
    /// (a replay: 0).
    static let unregister = LuaPrelude.script("unregister", """
    redis.call('DEL', base .. ':' .. ARGV[2])
    return redis.call('ZREM', base, ARGV[2])
    """)

    /// Records a running job's progress, while its lease is held.
    ///
    /// KEYS: the queue's keys and the named jobs' hashes. ARGV: key base, queue, id, lease token, progress (0-1),
    /// message. Returns: 1 if recorded (only the current delivery's reports are; a replay records the same values
    /// again, and appends a second, identical `progress` event).
    static let progress = LuaPrelude.script("progress", """
    local queue, id, token = ARGV[2], ARGV[3], ARGV[4]
    if not holds_lease(id, token) then return 0 end
    require_types(queue_key('events'), 'stream')
    redis.call('HSET', job_key(id), 'progress', ARGV[5], 'progressMessage', ARGV[6])
    emit(id, 'progress', redis.call('HGET', job_key(id), 'fairKey'), 'progress', ARGV[5], 'message', ARGV[6])
    return 1
    """)
}
