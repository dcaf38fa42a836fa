import PhoenixRedis

extension QueueScripts {
    /// Enqueues a batch of jobs into one queue.
    ///
    /// KEYS: the queue's keys, the named jobs' hashes and their idempotency keys. ARGV: key base, queue,
    /// idempotency TTL (s), then groups of jobs: the group's job count, type, maxAttempts and options: '' for
    /// plain jobs (ready now, priority 0, no idempotency or fairness key), which ends the group's header; else
    /// '+' and four more: runAt (ms, 0 = now), priority, idempotency key ('' for none), fairness key ('' for
    /// none: in a fair queue such jobs share one key). Then each job's id and envelope JSON. A job with options
    /// has a group of its own; plain jobs of one type and maxAttempts in a row share one, so that each costs
    /// Redis two arguments, most of a bulk enqueue.
    /// A ready job of a fair queue waits in its key's list, with a ticket in the ready list (``line_up``). Each
    /// new job has a `queued` event; those ready now of one type and user share entries (``emit_together``).
    /// Returns: per job, 1 if created, 0 if a job of that id already existed, or the first job's id when one
    /// with the same idempotency key already existed.
    /// Invariant: a job id is in exactly one of ready / delayed as soon as its hash exists. An idempotency key
    /// lives the TTL past the job's due time, so a job delayed for days keeps its key until it ran. Refused
    /// while Redis is out of memory (no flag): the caller gets the error and nothing is half-written, since
    /// every key type is checked before the first write.
    /// Replay: every job of the batch exists by then, so a replay adds nothing and answers 0 for each (the
    /// id itself for a job with an idempotency key, whose key now names it).
    static let enqueue = LuaPrelude.script("enqueue", memory: .denyWhenFull, """
    local queue, ttl = ARGV[2], tonumber(ARGV[3])
    require_types(queue_key('ready'), 'list', queue_key('delayed'), 'zset', queue_key('counters'), 'hash')
    flow()
    -- The groups' headers, read first: every idempotency key's type is checked before the first write.
    local groups, i = {}, 4
    while i <= #ARGV do
      local group = {count = tonumber(ARGV[i]), jobType = ARGV[i + 1], maxAttempts = ARGV[i + 2], runAt = 0, priority = '0',
        idem = '', fairKey = '', first = i + 4}
      if ARGV[i + 3] ~= '' then
        group.runAt, group.priority, group.idem, group.fairKey = tonumber(ARGV[i + 4]), ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
        if group.idem ~= '' then require_types(idempotency_key(group.idem), 'string') end
        group.first = i + 8
      end
      groups[#groups + 1] = group
      i = group.first + 2 * group.count
    end
    local now = now_ms()
    local now_text = int_text(now)
    local out, ready, created, back, fair = {}, false, 0, {}, flow().fair
    for _, group in ipairs(groups) do
      local jobType, maxAttempts, runAt, priority, idem, fairKey =
        group.jobType, group.maxAttempts, group.runAt, group.priority, group.idem, group.fairKey
      local plain = runAt == 0 and priority == '0' and idem == '' and fairKey == ''
      for j = group.first, group.first + 2 * group.count - 1, 2 do
        local id, envelope = ARGV[j], ARGV[j + 1]
        local existing, key = false, job_key(id)
        if idem ~= '' then existing = redis.call('GET', idempotency_key(idem)) end
        if existing then
          out[#out + 1] = existing
        elseif redis.call('EXISTS', key) == 1 then
          out[#out + 1] = 0
        else
          local state, since, at = 'ready', 'readyAt', now_text
          if runAt > now then state, since, at = 'delayed', 'runAt', int_text(runAt) end
          if idem ~= '' then
            local keep = ttl
            if runAt > now then keep = ttl + math.ceil((runAt - now) / 1000) end
            redis.call('SET', idempotency_key(idem), id, 'EX', keep)
          end
          -- A compact record: what a field's absence says (attempt 0, priority 0, no idempotency or fairness
          -- key) is not written; every reader takes the absence so. A plain job's is written without a table.
          if plain then
            redis.call('HSET', key, 'envelope', envelope, 'type', jobType, 'maxAttempts', maxAttempts, 'state', state, since, at)
          else
            local record = {'envelope', envelope, 'type', jobType, 'maxAttempts', maxAttempts, 'state', state, since, at}
            if priority ~= '0' then record[#record + 1] = 'priority'; record[#record + 1] = priority end
            if idem ~= '' then record[#record + 1] = 'idempotencyKey'; record[#record + 1] = idem end
            if fairKey ~= '' then record[#record + 1] = 'fairKey'; record[#record + 1] = fairKey end
            redis.call('HSET', key, unpack(record))
          end
          if state == 'delayed' then
            redis.call('ZADD', queue_key('delayed'), at, id)
            emit(id, 'queued', fairKey, 'type', jobType, 'runAt', at)
          else
            -- Plain jobs (no fair share, no priority) join the back of the line together, in one LPUSH at the
            -- end: the same order as one LPUSH each, one command instead of one per job.
            if fair or (tonumber(priority) or 0) > 0 then line_up(id, priority, fairKey) else back[#back + 1] = id end
            ready = true
            emit_together(id, 'queued', fairKey, 'type', jobType)
          end
          created = created + 1
          out[#out + 1] = 1
        end
      end
    end
    if #back > 0 then redis.call('LPUSH', queue_key('ready'), unpack(back)) end
    if created > 0 then
      redis.call('HINCRBY', queue_key('counters'), 'enqueued', created)
    end
    if ready then signal() end
    emit_gathered()
    return out
    """)
}
