import Redis

extension QueueScripts {
    /// Leases up to N ready jobs of a queue to a worker.
    ///
    /// ARGV: prefix, queue, max jobs, lease (ms), worker id.
    /// Returns: `{'paused'}` for a paused queue, else `{'ok', id, envelope, attempt, id, envelope, attempt, …}`.
    /// Ids whose job hash is missing, not a hash, or has no envelope go to the dead set with the reason (a key
    /// of another type is renamed to `<job key>:corrupt`, kept for inspection), so garbage never stalls a queue.
    /// Invariant: every popped id ends, in this same script, either leased (in `leased` scored by its lease
    /// deadline, attempt + 1) or dead; if ready jobs remain, the signal is raised again so another idle worker wakes.
    static let fetch = LuaPrelude.script("fetch", """
    local queue, limit, lease, worker = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
    if redis.call('EXISTS', queue_key(queue, 'paused')) == 1 then return {'paused'} end
    local ids = redis.call('RPOP', queue_key(queue, 'ready'), limit)
    local out = {'ok'}
    if not ids then return out end
    local now = now_ms()
    local now_text, deadline = int_text(now), int_text(now + lease)
    local leased = queue_key(queue, 'leased')
    for _, id in ipairs(ids) do
      local key = job_key(id)
      -- HMGET fails on a key of another type; only then is the key's type looked up.
      local readable, fields = pcall(redis.call, 'HMGET', key, 'envelope', 'attempt')
      local envelope = readable and fields[1]
      if envelope then
        local attempt = (tonumber(fields[2]) or 0) + 1
        redis.call('HSET', key, 'attempt', int_text(attempt), 'state', 'leased', 'worker', worker, 'startedAt', now_text)
        redis.call('ZADD', leased, deadline, id)
        out[#out + 1] = id; out[#out + 1] = envelope; out[#out + 1] = attempt
      else
        local kind = redis.call('TYPE', key)['ok']
        local reason = 'job hash has no envelope'
        if kind == 'none' then
          reason = 'job data is missing (expired or deleted while queued)'
        elseif kind ~= 'hash' then
          redis.call('RENAME', key, key .. ':corrupt')
          reason = 'job key held a ' .. kind .. ' instead of a hash; kept as ' .. key .. ':corrupt'
        end
        bury(queue, id, 'malformed job: ' .. reason, now)
      end
    end
    if redis.call('LLEN', queue_key(queue, 'ready')) > 0 then signal(queue) end
    return out
    """)
}
