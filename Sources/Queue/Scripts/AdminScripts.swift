import Redis

extension QueueScripts {
    /// Cancels a job that has not started: removes it from ready or delayed.
    ///
    /// ARGV: prefix, job id, retention (s).
    /// Returns: 'ok' once cancelled, 'missing', or the job's state when it cannot be cancelled (leased,
    /// completed, dead, cancelled).
    /// Invariant: a cancelled job is in no list or set; its hash stays for the retention period.
    static let cancel = LuaPrelude.script("cancel", """
    local id, retention = ARGV[2], tonumber(ARGV[3])
    local key = job_key(id)
    if redis.call('TYPE', key)['ok'] ~= 'hash' then return 'missing' end
    local job = redis.call('HMGET', key, 'state', 'queue')
    local state, queue = job[1], job[2]
    local removed = 0
    if state == 'ready' then
      removed = redis.call('LREM', queue_key(queue, 'ready'), 1, id)
    elseif state == 'delayed' then
      removed = redis.call('ZREM', queue_key(queue, 'delayed'), id)
    end
    if removed == 0 then return state or 'missing' end
    redis.call('HSET', key, 'state', 'cancelled', 'finishedAt', now_ms())
    redis.call('EXPIRE', key, retention)
    redis.call('HINCRBY', queue_key(queue, 'counters'), 'cancelled', 1)
    return 'ok'
    """)

    /// Resumes a paused queue and wakes its idle workers if jobs are waiting.
    ///
    /// ARGV: prefix, queue. Returns: 1 if the queue was paused, else 0.
    static let resume = LuaPrelude.script("resume", """
    local queue = ARGV[2]
    local was = redis.call('DEL', queue_key(queue, 'paused'))
    if redis.call('LLEN', queue_key(queue, 'ready')) > 0 then signal(queue) end
    return was
    """)

    /// Gives dead jobs a new set of attempts: back to the ready list with attempt 0.
    ///
    /// ARGV: prefix, queue, then job ids.
    /// Returns: per id, 1 if requeued, 0 if it was not in the dead set or has no envelope left to run.
    static let retryDead = LuaPrelude.script("retryDead", """
    local queue = ARGV[2]
    local now = now_ms()
    local out, any = {}, false
    for i = 3, #ARGV do
      local id = ARGV[i]
      local runnable = redis.call('ZSCORE', queue_key(queue, 'dead'), id)
        and redis.call('TYPE', job_key(id))['ok'] == 'hash'
        and redis.call('HEXISTS', job_key(id), 'envelope') == 1
      if runnable then
        redis.call('ZREM', queue_key(queue, 'dead'), id)
        redis.call('HSET', job_key(id), 'attempt', 0)
        redis.call('HDEL', job_key(id), 'diedAt')
        push_ready(queue, id, redis.call('HGET', job_key(id), 'priority'), now)
        any = true
        out[#out + 1] = 1
      else
        out[#out + 1] = 0
      end
    end
    if any then signal(queue) end
    return out
    """)

    /// Deletes dead jobs for good (their hash and any `:corrupt` copy).
    ///
    /// ARGV: prefix, queue, then job ids. Returns: per id, 1 if discarded, 0 if it was not in the dead set.
    static let discardDead = LuaPrelude.script("discardDead", """
    local queue = ARGV[2]
    local out = {}
    for i = 3, #ARGV do
      local id = ARGV[i]
      if redis.call('ZREM', queue_key(queue, 'dead'), id) == 1 then
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
    /// ARGV: prefix, queue, minutes of throughput history.
    /// Returns: `{now, ready, delayed, leased, dead, paused, readyAt of the next job or '', counters (flat
    /// hash), completed per minute (oldest first), failed per minute (oldest first)}`.
    static let stats = LuaPrelude.script("stats", """
    local queue, minutes = ARGV[2], tonumber(ARGV[3])
    local now = now_ms()
    local head = redis.call('LINDEX', queue_key(queue, 'ready'), -1)
    local headReadyAt = ''
    if head and redis.call('TYPE', job_key(head))['ok'] == 'hash' then
      headReadyAt = redis.call('HGET', job_key(head), 'readyAt') or ''
    end
    local current = math.floor(now / 60000)
    local completed, failed = {}, {}
    for m = current - minutes + 1, current do
      completed[#completed + 1] = redis.call('GET', queue_key(queue, 'completed') .. ':' .. m) or '0'
      failed[#failed + 1] = redis.call('GET', queue_key(queue, 'failed') .. ':' .. m) or '0'
    end
    return {now,
      redis.call('LLEN', queue_key(queue, 'ready')),
      redis.call('ZCARD', queue_key(queue, 'delayed')),
      redis.call('ZCARD', queue_key(queue, 'leased')),
      redis.call('ZCARD', queue_key(queue, 'dead')),
      redis.call('EXISTS', queue_key(queue, 'paused')),
      headReadyAt,
      redis.call('HGETALL', queue_key(queue, 'counters')),
      completed, failed}
    """)
}
