import Redis

extension QueueScripts {
    /// Records failed attempts of leased jobs: each is retried after a delay, or buried in the dead set.
    ///
    /// ARGV: prefix, queue, then quads: id, attempt, retry delay (ms; -1 = dead), error text.
    /// Returns: per quad, 'retry', 'dead', or 'stale' when the lease was no longer held (nothing changed).
    /// Invariant: a failed job leaves `leased` and enters exactly one of ready (delay 0), delayed or dead,
    /// keeping its last error; `failed` counts attempts that failed, `dead` jobs that gave up.
    static let fail = LuaPrelude.script("fail", """
    local queue = ARGV[2]
    local now = now_ms()
    local out, failed, ready = {}, 0, false
    for i = 3, #ARGV, 4 do
      local id, attempt, delay, reason = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
      if holds_lease(queue, id, attempt) then
        failed = failed + 1
        redis.call('ZREM', queue_key(queue, 'leased'), id)
        redis.call('HSET', job_key(id), 'lastError', reason)
        redis.call('HDEL', job_key(id), 'worker')
        if delay < 0 then
          bury(queue, id, reason, now)
          out[#out + 1] = 'dead'
        else
          redis.call('HINCRBY', queue_key(queue, 'counters'), 'retried', 1)
          if delay == 0 then
            push_ready(queue, id, redis.call('HGET', job_key(id), 'priority'), now)
            ready = true
          else
            redis.call('ZADD', queue_key(queue, 'delayed'), now + delay, id)
            redis.call('HSET', job_key(id), 'state', 'delayed', 'runAt', now + delay)
          end
          out[#out + 1] = 'retry'
        end
      else
        out[#out + 1] = 'stale'
      end
    end
    if failed > 0 then
      redis.call('HINCRBY', queue_key(queue, 'counters'), 'failed', failed)
      count_minute(queue, 'failed', failed, now)
    end
    if ready then signal(queue) end
    return out
    """)
}
