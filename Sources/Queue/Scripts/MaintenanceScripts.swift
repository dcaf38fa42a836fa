import Redis

extension QueueScripts {
    /// Moves delayed jobs whose time has come to the ready list.
    ///
    /// ARGV: prefix, queue, max jobs.
    /// Returns: how many jobs were promoted.
    /// Invariant: a job leaves `delayed` and joins ready in the same step; safe to run from many processes
    /// at once, since each due job is moved by exactly one of them.
    static let promote = LuaPrelude.script("promote", """
    local queue, limit = ARGV[2], tonumber(ARGV[3])
    local now = now_ms()
    local due = redis.call('ZRANGEBYSCORE', queue_key(queue, 'delayed'), '-inf', now, 'LIMIT', 0, limit)
    for _, id in ipairs(due) do
      redis.call('ZREM', queue_key(queue, 'delayed'), id)
      push_ready(queue, id, redis.call('HGET', job_key(id), 'priority'), now)
    end
    if #due > 0 then signal(queue) end
    return #due
    """)

    /// Returns jobs whose lease expired (their worker crashed or froze) to the front of the ready list, or
    /// buries them when that attempt was their last.
    ///
    /// ARGV: prefix, queue, max jobs.
    /// Returns: `{requeued, buried}`.
    /// Invariant: an expired lease is handled once and counts as a failed attempt; the next fetch grants
    /// attempt + 1.
    static let reap = LuaPrelude.script("reap", """
    local queue, limit = ARGV[2], tonumber(ARGV[3])
    local now = now_ms()
    local expired = redis.call('ZRANGEBYSCORE', queue_key(queue, 'leased'), '-inf', now, 'LIMIT', 0, limit)
    local requeued, buried = 0, 0
    for _, id in ipairs(expired) do
      redis.call('ZREM', queue_key(queue, 'leased'), id)
      local job = redis.call('HMGET', job_key(id), 'attempt', 'maxAttempts', 'worker')
      local reason = 'lease expired on attempt ' .. (job[1] or '?') .. ' (worker ' .. (job[3] or '?') .. ' stopped heart-beating)'
      redis.call('HSET', job_key(id), 'lastError', reason)
      if tonumber(job[1] or '0') >= tonumber(job[2] or '1') then
        bury(queue, id, reason, now)
        buried = buried + 1
      else
        requeue_front(queue, id, now)
        requeued = requeued + 1
      end
    end
    if #expired > 0 then
      redis.call('HINCRBY', queue_key(queue, 'counters'), 'failed', #expired)
      count_minute(queue, 'failed', #expired, now)
    end
    if requeued > 0 then
      redis.call('HINCRBY', queue_key(queue, 'counters'), 'retried', requeued)
      signal(queue)
    end
    return {requeued, buried}
    """)

    /// Extends the leases of running jobs (the worker's heartbeat).
    ///
    /// ARGV: prefix, queue, lease (ms), then pairs: id, attempt.
    /// Returns: per pair, 1 if extended, 0 if the lease was lost (the worker should stop caring about it).
    static let extend = LuaPrelude.script("extend", """
    local queue, lease = ARGV[2], tonumber(ARGV[3])
    local deadline = now_ms() + lease
    local out = {}
    for i = 4, #ARGV, 2 do
      local id, attempt = ARGV[i], ARGV[i + 1]
      if holds_lease(queue, id, attempt) then
        redis.call('ZADD', queue_key(queue, 'leased'), 'XX', deadline, id)
        out[#out + 1] = 1
      else
        out[#out + 1] = 0
      end
    end
    return out
    """)

    /// Returns leased jobs that a worker will not run (prefetched, then shutting down) to the front of the
    /// ready list, giving back the attempt they were leased for.
    ///
    /// ARGV: prefix, queue, then pairs: id, attempt.
    /// Returns: how many jobs were handed back.
    static let release = LuaPrelude.script("release", """
    local queue = ARGV[2]
    local now = now_ms()
    local released = 0
    for i = 3, #ARGV, 2 do
      local id, attempt = ARGV[i], ARGV[i + 1]
      if holds_lease(queue, id, attempt) then
        redis.call('ZREM', queue_key(queue, 'leased'), id)
        redis.call('HINCRBY', job_key(id), 'attempt', -1)
        requeue_front(queue, id, now)
        released = released + 1
      end
    end
    if released > 0 then signal(queue) end
    return released
    """)
}
