import Redis

extension QueueScripts {
    /// Leases up to N ready jobs of a queue to one fetch call of a worker; a replay of the call returns the
    /// same jobs instead of leasing others.
    ///
    /// ARGV: prefix, queue, max jobs (at most 500), lease (ms), worker id, fetch token (unique per call; it is
    /// each delivery's lease token), retention (s) of a cancelled job's hash once its id leaves the line.
    /// Writes `<queue>:fetch:<token>`, the list of ids this call leased, kept for one lease period.
    /// Returns: `{'paused'}` for a paused queue, else `{'ok', id, envelope, attempt, delivery, …}` (delivery:
    /// how many times the job has been fetched, this time included).
    /// Invariants: every popped id ends, in this same script, leased (in `leased` scored by its deadline, its
    /// hash naming the token), dead (a job hash that is missing, foreign or has no envelope: the reason is its
    /// last error), or dropped (cancelled while waiting: its hash then expires). The attempt grows by one,
    /// unless the last delivery was handed back unstarted; `deliveries` always grows by one. If ready jobs
    /// remain, the signal is raised again so another idle worker wakes.
    /// Replay: when the call's record exists, nothing is popped; the answer lists the jobs of the record that
    /// its token still holds (a job reaped or handed on since is left out).
    static let fetch = LuaPrelude.script("fetch", """
    local queue, limit, lease, worker, token, retention = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
    local leased, record, counters = queue_key(queue, 'leased'), queue_key(queue, 'fetch:' .. token), queue_key(queue, 'counters')
    local out = {'ok'}
    local earlier = redis.call('LRANGE', record, 0, -1)
    if #earlier > 0 then
      for _, id in ipairs(earlier) do
        local fields = job_fields(id, 'envelope', 'attempt', 'lease', 'deliveries')
        if fields and fields[3] == token and redis.call('ZSCORE', leased, id) then
          out[#out + 1] = id; out[#out + 1] = fields[1]; out[#out + 1] = tonumber(fields[2]); out[#out + 1] = tonumber(fields[4])
        end
      end
      return out
    end
    if redis.call('EXISTS', queue_key(queue, 'paused')) == 1 then return {'paused'} end
    require_types(leased, 'zset', queue_key(queue, 'dead'), 'zset', counters, 'hash')
    local ids = redis.call('RPOP', queue_key(queue, 'ready'), limit)
    if not ids then return out end
    local now = now_ms()
    local now_text, deadline = int_text(now), int_text(now + lease)
    local taken = {}
    for _, id in ipairs(ids) do
      local key = job_key(id)
      local fields = job_fields(id, 'envelope', 'attempt', 'state', 'handedBack', 'deliveries')
      local state = fields and fields[3]
      if state == 'cancelled' then
        -- Cancelled while it waited: cancel leaves the id in line (removing it is O(N)); it is dropped here.
        redis.call('EXPIRE', key, retention)
        redis.call('HINCRBY', counters, 'cancelledWaiting', -1)
      elseif fields and fields[1] and (state == 'ready' or not state) then
        local attempt = tonumber(fields[2]) or 0
        if fields[4] then
          redis.call('HDEL', key, 'handedBack')
        else
          attempt = attempt + 1
        end
        local delivery = (tonumber(fields[5]) or 0) + 1
        redis.call('HSET', key, 'attempt', int_text(attempt), 'deliveries', int_text(delivery), 'state', 'leased',
          'worker', worker, 'startedAt', now_text, 'lease', token)
        redis.call('ZADD', leased, deadline, id)
        taken[#taken + 1] = id
        out[#out + 1] = id; out[#out + 1] = fields[1]; out[#out + 1] = attempt; out[#out + 1] = delivery
      elseif fields and fields[1] then
        -- A stray copy of an id whose job is leased, delayed, dead or completed: that state accounts for it.
      elseif not fields then
        bury(queue, id, 'malformed job: job key holds a value of another type', now)
      elseif redis.call('EXISTS', key) == 0 then
        bury(queue, id, 'malformed job: job data is missing (expired or deleted while queued)', now)
      else
        bury(queue, id, 'malformed job: job hash has no envelope', now)
      end
    end
    if #taken > 0 then
      redis.call('RPUSH', record, unpack(taken))
      redis.call('PEXPIRE', record, lease)
    end
    if redis.call('LLEN', queue_key(queue, 'ready')) > 0 then signal(queue) end
    return out
    """)
}
