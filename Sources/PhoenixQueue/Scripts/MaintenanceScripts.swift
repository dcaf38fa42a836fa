import PhoenixRedis

extension QueueScripts {
    /// Moves delayed jobs whose time has come to the ready list.
    ///
    /// KEYS: the queue's keys. ARGV: key base, queue, max jobs.
    /// Returns: how many jobs were promoted (a due job whose key holds a foreign value is buried instead).
    /// Invariant: a job leaves `delayed` and joins ready (or dead) in the same step; safe to run from many
    /// processes at once, and to replay, since each due job is moved by exactly one call.
    static let promote = LuaPrelude.script("promote", """
    local queue, limit = ARGV[2], tonumber(ARGV[3])
    require_types(queue_key('ready'), 'list', queue_key('dead'), 'zset')
    flow()
    local now = now_ms()
    local due = redis.call('ZRANGEBYSCORE', queue_key('delayed'), '-inf', now, 'LIMIT', 0, limit)
    local promoted = 0
    for _, id in ipairs(due) do
      redis.call('ZREM', queue_key('delayed'), id)
      if job_fields(id, 'priority') then
        push_ready(id, now)
        promoted = promoted + 1
      else
        bury(queue, id, 'malformed job: job key holds a value of another type', now)
      end
    end
    if promoted > 0 then signal() end
    return promoted
    """)

    /// Returns jobs whose lease expired (their worker crashed or froze) to the front of the ready list, or
    /// buries them when that attempt was their last.
    ///
    /// KEYS: the queue's keys. ARGV: key base, queue, max jobs.
    /// Returns: `{requeued, buried}`.
    /// Invariant: an expired lease is handled once and counts as a failed attempt, unless the job's
    /// cancellation was asked while it ran (it then ends cancelled); the delivery's token stays in the hash
    /// but no longer holds anything (the job left `leased`), and the next fetch grants a new one.
    /// Replay: only what is still expired in `leased` is moved, so a replay moves nothing twice.
    static let reap = LuaPrelude.script("reap", """
    local queue, limit = ARGV[2], tonumber(ARGV[3])
    require_types(queue_key('ready'), 'list', queue_key('dead'), 'zset')
    flow()
    local now = now_ms()
    local expired = redis.call('ZRANGEBYSCORE', queue_key('leased'), '-inf', now, 'LIMIT', 0, limit)
    local requeued, buried, cancelled, wake = 0, 0, 0, false
    for _, id in ipairs(expired) do
      redis.call('ZREM', queue_key('leased'), id)
      local job = job_fields(id, 'attempt', 'maxAttempts', 'worker', 'counted', 'fairKey')
      if job and end_lease(id, job[4], job[5]) then wake = true end
      if end_if_cancelled(id, now) then
        cancelled = cancelled + 1
      elseif not job then
        bury(queue, id, 'malformed job: job key holds a value of another type', now)
        buried = buried + 1
      else
        local reason = 'lease expired on attempt ' .. (job[1] or '?') .. ' (worker ' .. (job[3] or '?') .. ' stopped heart-beating)'
        redis.call('HSET', job_key(id), 'lastError', reason)
        if tonumber(job[1] or '0') >= tonumber(job[2] or '1') then
          bury(queue, id, reason, now)
          buried = buried + 1
        else
          requeue_front(id, now)
          requeued = requeued + 1
          emit(id, 'failed', job[5], 'attempt', job[1] or '0', 'error', reason, 'runAt', int_text(now))
        end
      end
    end
    if #expired > cancelled then
      redis.call('HINCRBY', queue_key('counters'), 'failed', #expired - cancelled)
      count_minute('failed', #expired - cancelled, now)
    end
    if requeued > 0 then redis.call('HINCRBY', queue_key('counters'), 'retried', requeued) end
    if requeued > 0 or wake then signal() end
    return {requeued, buried}
    """)

    /// Extends the leases of running jobs (the worker's heartbeat).
    ///
    /// KEYS: the queue's keys and the named jobs' hashes. ARGV: key base, queue, lease (ms), then pairs: id, lease
    /// token.
    /// Returns: per pair, 1 if extended, 2 if extended but the job's cancellation was asked (the worker should
    /// cancel its handler), 0 if that delivery no longer holds the lease (the worker should stop caring about it).
    /// Invariant: only the current delivery's deadline moves. Replay: sets the same kind of deadline again.
    static let extend = LuaPrelude.script("extend", """
    local queue, lease = ARGV[2], tonumber(ARGV[3])
    local deadline = now_ms() + lease
    local out = {}
    for i = 4, #ARGV, 2 do
      local id, token = ARGV[i], ARGV[i + 1]
      if holds_lease(id, token) then
        redis.call('ZADD', queue_key('leased'), 'XX', deadline, id)
        out[#out + 1] = redis.call('HEXISTS', job_key(id), 'cancelRequested') == 1 and 2 or 1
      else
        out[#out + 1] = 0
      end
    end
    return out
    """)

    /// Hands leased jobs that a worker will not run (fetched while it stopped, or cancelled at the end of its
    /// grace period) back: to the front of the ready list, or after a delay (a job type this worker does not
    /// know, waiting for a newer worker). The attempt is not counted: the next fetch keeps its number.
    ///
    /// KEYS: the queue's keys and the named jobs' hashes. ARGV: key base, queue, delay (ms; 0 = ready at once), then
    /// pairs: id, lease token.
    /// Returns: how many jobs were handed back.
    /// Invariant: a job leaves `leased` for exactly one of ready or delayed, marked `handedBack` (or ends
    /// cancelled, when its cancellation was asked while it ran); attempts never go down. Replay: the job left `leased` under that token (and a later delivery has another
    /// token), so a replay hands back nothing, never a newer delivery's job.
    static let release = LuaPrelude.script("release", """
    local queue, delay = ARGV[2], tonumber(ARGV[3])
    require_types(queue_key('ready'), 'list', queue_key('delayed'), 'zset')
    flow()
    local now = now_ms()
    local released, ready = 0, false
    for i = 4, #ARGV, 2 do
      local id, token = ARGV[i], ARGV[i + 1]
      if holds_lease(id, token) then
        redis.call('ZREM', queue_key('leased'), id)
        local counted = redis.call('HMGET', job_key(id), 'counted', 'fairKey')
        if end_lease(id, counted[1], counted[2]) then ready = true end
        redis.call('HSET', job_key(id), 'handedBack', '1')
        if end_if_cancelled(id, now) then
          -- Its cancellation was asked while it ran: it does not go back.
        elseif delay > 0 then
          redis.call('HDEL', job_key(id), 'worker')
          redis.call('ZADD', queue_key('delayed'), now + delay, id)
          redis.call('HSET', job_key(id), 'state', 'delayed', 'runAt', now + delay)
          emit(id, 'queued', counted[2], 'runAt', int_text(now + delay))
        else
          requeue_front(id, now)
          ready = true
          emit(id, 'queued', counted[2])
        end
        released = released + 1
      end
    end
    if ready then signal() end
    return released
    """)
}
