import PhoenixRedis

extension QueueScripts {
    /// Completes a batch of leased jobs.
    ///
    /// KEYS: the queue's keys and the named jobs' hashes. ARGV: key base, queue, retention (s), then pairs: id, lease
    /// token (the delivery's).
    /// Returns: per pair, 1 if this delivery completed the job (now, or in the call this one replays), 0 if it
    /// no longer held the lease (expired and reaped, or handed on to another delivery): the job is untouched.
    /// Invariant: only the current delivery completes a job; completed hashes expire after the retention
    /// period; the completed counters grow by exactly the number of jobs completed. A job a fair fetch counted
    /// leaves its key's running count (``end_lease``), and workers are woken when that gives a parked key its
    /// turn back or the queue's concurrency limit held ready jobs.
    /// Replay: the job already left `leased`; the replay answers 1 again and changes nothing.
    static let ack = LuaPrelude.script("ack", """
    local queue, retention = ARGV[2], ARGV[3]
    flow()
    local now = now_ms()
    local now_text, leased = int_text(now), queue_key('leased')
    local out, done, wake = {}, 0, false
    for i = 4, #ARGV, 2 do
      local id, token = ARGV[i], ARGV[i + 1]
      local key = job_key(id)
      -- The lease is held when the hash names the token and the job is still in the leased set (ZREM says so).
      local fields = job_fields(id, 'lease', 'state', 'counted', 'fairKey')
      if fields and fields[1] == token and redis.call('ZREM', leased, id) == 1 then
        if end_lease(id, fields[3], fields[4]) then wake = true end
        -- 'worker' stays: the worker that completed the job.
        redis.call('HSET', key, 'state', 'completed', 'finishedAt', now_text)
        redis.call('EXPIRE', key, retention)
        emit(id, 'completed', fields[4])
        done = done + 1
        out[#out + 1] = 1
      elseif fields and fields[1] == token and fields[2] == 'completed' then
        out[#out + 1] = 1
      else
        out[#out + 1] = 0
      end
    end
    if done > 0 then
      redis.call('HINCRBY', queue_key('counters'), 'completed', done)
      count_minute('completed', done, now)
    end
    if wake then signal() end
    return out
    """)
}
