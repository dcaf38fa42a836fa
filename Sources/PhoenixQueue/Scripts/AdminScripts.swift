import PhoenixRedis

extension QueueScripts {
    /// Cancels a job, in O(1): a delayed job leaves the delayed set; a ready job is marked cancelled and its id
    /// stays in line until a fetch drops it (removing it from the list would scan it: 52 ms of a blocked Redis
    /// per cancel with a million jobs ready); a running (leased) job is marked `cancelRequested`, which the
    /// next lease extension tells its worker, and ends cancelled when its delivery ends (``end_if_cancelled``).
    ///
    /// KEYS: the queue's keys and the job's hash. ARGV: key base, queue, job id, retention (s).
    /// Returns: 'ok' once cancelled, 'cancelling' for a running job now marked, 'missing', or the job's state
    /// when it cannot be cancelled (completed, dead, cancelled).
    /// Invariant: a cancelled job never runs again. A delayed one is in no list or set and its hash expires
    /// after the retention period; a ready one's id waits in line (counted in `cancelledWaiting`, which stats
    /// take off the ready count) and its hash expires once a fetch dropped it. A marked running job stays in
    /// `leased` until its worker acks it (it completed: the mark changes nothing), fails it, hands it back or
    /// its lease expires: each of those ends it cancelled instead of retrying it.
    /// Replay: a cancelled job answers 'cancelled' and changes nothing; a marked running job is marked again
    /// ('cancelling').
    static let cancel = LuaPrelude.script("cancel", """
    local id, retention = ARGV[3], tonumber(ARGV[4])
    local key = job_key(id)
    if redis.call('TYPE', key)['ok'] ~= 'hash' then return 'missing' end
    require_types(queue_key('events'), 'stream')
    local state = redis.call('HGET', key, 'state')
    if state == 'ready' then
      redis.call('HINCRBY', queue_key('counters'), 'cancelledWaiting', 1)
    elseif state == 'delayed' then
      redis.call('ZREM', queue_key('delayed'), id)
      redis.call('EXPIRE', key, retention)
    elseif state == 'leased' then
      redis.call('HSET', key, 'cancelRequested', now_ms(), 'cancelRetention', retention)
      return 'cancelling'
    else
      return state or 'missing'
    end
    redis.call('HSET', key, 'state', 'cancelled', 'finishedAt', now_ms())
    redis.call('HINCRBY', queue_key('counters'), 'cancelled', 1)
    emit(id, 'cancelled', redis.call('HGET', key, 'fairKey'))
    return 'ok'
    """)

    /// Resumes a paused queue and wakes its idle workers if jobs are waiting.
    ///
    /// KEYS: the queue's keys. ARGV: key base, queue. Returns: 1 if the queue was paused, else 0 (a replay: 0).
    static let resume = LuaPrelude.script("resume", """
    local queue = ARGV[2]
    local was = redis.call('DEL', queue_key('paused'))
    if redis.call('LLEN', queue_key('ready')) > 0 then signal() end
    return was
    """)

    /// Gives dead jobs a new set of attempts: back to the ready list with attempt 0.
    ///
    /// KEYS: the queue's keys and the named jobs' hashes. ARGV: key base, queue, then job ids.
    /// Returns: per id, 1 if requeued, 0 if it was not in the dead set or has no envelope left to run.
    /// Invariant: an operator's retry is the one step that sets attempts back (to 0); `deliveries` keeps
    /// counting, so the worker still looks for a run an earlier delivery completed. Replay: the job already
    /// left the dead set, so it answers 0.
    static let retryDead = LuaPrelude.script("retryDead", """
    local queue = ARGV[2]
    require_types(queue_key('ready'), 'list')
    flow()
    local now = now_ms()
    local out, any = {}, false
    for i = 3, #ARGV do
      local id = ARGV[i]
      local runnable = redis.call('ZSCORE', queue_key('dead'), id)
        and redis.call('TYPE', job_key(id))['ok'] == 'hash'
        and redis.call('HEXISTS', job_key(id), 'envelope') == 1
      if runnable then
        redis.call('ZREM', queue_key('dead'), id)
        redis.call('HSET', job_key(id), 'attempt', 0)
        redis.call('HDEL', job_key(id), 'diedAt', 'handedBack')
        push_ready(id, now)
        emit(id, 'queued', redis.call('HGET', job_key(id), 'fairKey'))
        any = true
        out[#out + 1] = 1
      else
        out[#out + 1] = 0
      end
    end
    if any then signal() end
    return out
    """)

    /// Deletes dead jobs for good (their hash and any `:corrupt` copy).
    ///
    /// KEYS: the queue's keys and the named jobs' hashes. ARGV: key base, queue, then job ids. Returns: per id, 1 if
    /// discarded, 0 if it was not in the dead set (a replay: it was discarded already).
    static let discardDead = LuaPrelude.script("discardDead", """
    local queue = ARGV[2]
    local out = {}
    for i = 3, #ARGV do
      local id = ARGV[i]
      if redis.call('ZREM', queue_key('dead'), id) == 1 then
        redis.call('DEL', job_key(id), job_key(id) .. ':corrupt')
        out[#out + 1] = 1
      else
        out[#out + 1] = 0
      end
    end
    return out
    """)

    /// Reads a consistent snapshot of one queue's numbers (writes nothing).
    ///
    /// KEYS: the queue's keys. ARGV: key base, queue, minutes of throughput history.
    /// Returns: `{now, ready list length (cancelled ids still in line included: `cancelledWaiting` in the
    /// counters), delayed, leased, dead, paused, readyAt of the next job or '', counters (flat hash), completed
    /// per minute (oldest first), failed per minute (oldest first), the flow settings (fair, keyConcurrency,
    /// concurrency, rpm, tpm, heldUntil), keys in turn, keys parked at their limit, jobs started in the last
    /// minute and in this one so far, tokens reported in the last minute and in this one so far}`.
    static let stats = LuaPrelude.script("stats", memory: .readOnly, """
    local queue, minutes = ARGV[2], tonumber(ARGV[3])
    local now = now_ms()
    local head = redis.call('LINDEX', queue_key('ready'), -1)
    local headReadyAt = ''
    if head and redis.call('TYPE', job_key(head))['ok'] == 'hash' then
      headReadyAt = redis.call('HGET', job_key(head), 'readyAt') or ''
    end
    local current = math.floor(now / 60000)
    local completed, failed = {}, {}
    for m = current - minutes + 1, current do
      completed[#completed + 1] = redis.call('GET', queue_key('completed') .. ':' .. m) or '0'
      failed[#failed + 1] = redis.call('GET', queue_key('failed') .. ':' .. m) or '0'
    end
    return {now,
      redis.call('LLEN', queue_key('ready')),
      redis.call('ZCARD', queue_key('delayed')),
      redis.call('ZCARD', queue_key('leased')),
      redis.call('ZCARD', queue_key('dead')),
      redis.call('EXISTS', queue_key('paused')),
      headReadyAt,
      redis.call('HGETALL', queue_key('counters')),
      completed, failed,
      redis.call('HMGET', queue_key('flow'), 'fair', 'keyConcurrency', 'concurrency', 'rpm', 'tpm', 'heldUntil'),
      redis.call('LLEN', queue_key('turns')),
      redis.call('SCARD', queue_key('parked')),
      {redis.call('GET', queue_key('started') .. ':' .. (current - 1)) or '0', redis.call('GET', queue_key('started') .. ':' .. current) or '0'},
      {redis.call('GET', queue_key('tokens') .. ':' .. (current - 1)) or '0', redis.call('GET', queue_key('tokens') .. ':' .. current) or '0'}}
    """)
}
