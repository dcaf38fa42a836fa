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
    /// A batch naming the same delivery twice completes it once and answers 1 for both. Each job completed has a
    /// `completed` event, those of one user sharing entries (``emit_together``).
    /// Replay: the job already left `leased`; the replay answers 1 again and changes nothing.
    static let ack = LuaPrelude.script("ack", """
    local queue, retention = ARGV[2], ARGV[3]
    flow()
    local now = now_ms()
    local now_text, leased = int_text(now), queue_key('leased')
    -- Reads first: each job's hash, then, in one ZMSCORE, whether the jobs whose hash names the token are
    -- still in `leased`; the lease is held when both hold.
    local jobs, named = {}, {}
    for i = 4, #ARGV, 2 do
      local id = ARGV[i]
      local fields = job_fields(id, 'lease', 'counted', 'fairKey')
      local job = {id = id, fields = fields, named = fields ~= nil and fields[1] == ARGV[i + 1]}
      jobs[#jobs + 1] = job
      if job.named then named[#named + 1] = id end
    end
    local held = {}
    if #named > 0 then
      local scores = redis.call('ZMSCORE', leased, unpack(named))
      for i, id in ipairs(named) do
        if scores[i] then held[id] = true end
      end
    end
    local completing = {}
    for id in pairs(held) do completing[#completing + 1] = id end
    if #completing > 0 then redis.call('ZREM', leased, unpack(completing)) end
    local out, done, wake = {}, 0, false
    for _, job in ipairs(jobs) do
      local id, fields = job.id, job.fields
      if job.named and held[id] then
        -- Completed once, even when the batch names the same delivery twice.
        held[id] = nil
        local key = job_key(id)
        if end_lease(id, fields[2], fields[3]) then wake = true end
        -- 'worker' stays: the worker that completed the job.
        redis.call('HSET', key, 'state', 'completed', 'finishedAt', now_text)
        redis.call('EXPIRE', key, retention)
        emit_together(id, 'completed', fields[3])
        done = done + 1
        out[#out + 1] = 1
      elseif job.named and redis.call('HGET', job_key(id), 'state') == 'completed' then
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
    emit_gathered()
    return out
    """)
}
