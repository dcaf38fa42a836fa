import Redis

extension QueueScripts {
    /// Completes a batch of leased jobs.
    ///
    /// ARGV: prefix, queue, retention (s), then pairs: id, attempt (the one the lease was granted for).
    /// Returns: per pair, 1 if completed, 0 if the lease was no longer held (expired and reaped, or the job
    /// was handed to another worker), which leaves the job untouched.
    /// Invariant: only the holder of the current lease completes a job; completed hashes expire after the
    /// retention period; the completed counters grow by exactly the number of 1s returned.
    static let ack = LuaPrelude.script("ack", """
    local queue, retention = ARGV[2], ARGV[3]
    local now = now_ms()
    local now_text, leased = int_text(now), queue_key(queue, 'leased')
    local out, done = {}, 0
    for i = 4, #ARGV, 2 do
      local id, attempt = ARGV[i], ARGV[i + 1]
      local key = job_key(id)
      -- The lease is held when the job is at that attempt and still in the leased set (ZREM says so).
      local readable, current = pcall(redis.call, 'HGET', key, 'attempt')
      if readable and current == attempt and redis.call('ZREM', leased, id) == 1 then
        -- 'worker' stays: the worker that completed the job.
        redis.call('HSET', key, 'state', 'completed', 'finishedAt', now_text)
        redis.call('EXPIRE', key, retention)
        done = done + 1
        out[#out + 1] = 1
      else
        out[#out + 1] = 0
      end
    end
    if done > 0 then
      redis.call('HINCRBY', queue_key(queue, 'counters'), 'completed', done)
      count_minute(queue, 'completed', done, now)
    end
    return out
    """)
}
