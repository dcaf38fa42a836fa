import PhoenixRedis

extension QueueScripts {
    /// Records failed attempts of leased jobs: each is retried after a delay, or buried in the dead set.
    ///
    /// KEYS: the queue's keys and the named jobs' hashes. ARGV: key base, queue, then quads: id, lease token, retry
    /// delay (ms; -1 = dead), error text.
    /// Returns: per quad, 'retry', 'dead', 'cancelled' (its cancellation was asked while it ran: it ends
    /// cancelled, ``end_if_cancelled``), or 'stale' when that delivery no longer held the lease (nothing
    /// changed).
    /// Invariant: a failed job leaves `leased` and enters exactly one of ready (delay 0), delayed, dead or
    /// cancelled, keeping its last error; `failed` counts attempts that failed (not cancelled ones), `dead`
    /// jobs that gave up.
    /// Replay: the job already left `leased` under that token, so every quad answers 'stale'.
    static let fail = LuaPrelude.script("fail", """
    local queue = ARGV[2]
    require_types(queue_key('ready'), 'list', queue_key('delayed'), 'zset', queue_key('dead'), 'zset')
    flow()
    local now = now_ms()
    local out, failed, ready = {}, 0, false
    for i = 3, #ARGV, 4 do
      local id, token, delay, reason = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
      if holds_lease(id, token) then
        redis.call('ZREM', queue_key('leased'), id)
        local counted = redis.call('HMGET', job_key(id), 'counted', 'fairKey', 'attempt')
        if end_lease(id, counted[1], counted[2]) then ready = true end
        redis.call('HSET', job_key(id), 'lastError', reason)
        if end_if_cancelled(id, now) then
          out[#out + 1] = 'cancelled'
        else
          failed = failed + 1
          redis.call('HDEL', job_key(id), 'worker')
          if delay < 0 then
            bury(queue, id, reason, now)
            out[#out + 1] = 'dead'
          else
            redis.call('HINCRBY', queue_key('counters'), 'retried', 1)
            if delay == 0 then
              push_ready(id, now)
              ready = true
            else
              redis.call('ZADD', queue_key('delayed'), now + delay, id)
              redis.call('HSET', job_key(id), 'state', 'delayed', 'runAt', now + delay)
            end
            emit(id, 'failed', counted[2], 'attempt', counted[3] or '0', 'error', reason, 'runAt', int_text(now + delay))
            out[#out + 1] = 'retry'
          end
        end
      else
        out[#out + 1] = 'stale'
      end
    end
    if failed > 0 then
      redis.call('HINCRBY', queue_key('counters'), 'failed', failed)
      count_minute('failed', failed, now)
    end
    if ready then signal() end
    return out
    """)
}
