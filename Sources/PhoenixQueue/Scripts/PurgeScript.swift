import PhoenixRedis

extension QueueScripts {
    /// Removes the waiting or dead jobs among a page of ids whose envelope mentions a value (a user's id,
    /// for the right to be forgotten): their id leaves the list or set, their hash and the idempotency key
    /// that names them are deleted.
    ///
    /// KEYS: the queue's keys and the named jobs' hashes. ARGV: key base, queue, where (`ready`, `delayed` or `dead`:
    /// the structure the ids were read from), the value to look for (lowercase; compared with the lowercased
    /// envelope), then job ids.
    /// Returns: how many jobs were removed.
    /// Invariant: only a job whose state is `where` and whose id is still in that structure is touched, so a
    /// job fetched, retried or completed since the page was read is left as it is; counters gain `purged`.
    /// A job cancelled while it waited (its id still in the ready list) keeps a hash with its state alone,
    /// so that the fetch that meets its id drops it.
    /// In a fair queue a ready job leaves its key's list and the ready list one ticket; a key left with no job
    /// leaves the turns (or the parked set), keeping the fair queue's invariants (fetch).
    /// Replaying it removes nothing more (the removed jobs have no hash left, stripped ones no envelope).
    static let purge = LuaPrelude.script("purge", """
    local queue, where, needle = ARGV[2], ARGV[3], ARGV[4]
    local fair = flow().fair
    local removed = 0
    for i = 5, #ARGV do
      local id = ARGV[i]
      local key = job_key(id)
      if redis.call('TYPE', key)['ok'] == 'hash' then
        local job = redis.call('HMGET', key, 'state', 'envelope', 'idempotencyKey', 'fairKey')
        local mentioned = job[2] and string.find(string.lower(job[2]), needle, 1, true)
        local gone = 0
        local tombstone = where == 'ready' and job[1] == 'cancelled'
        if mentioned and tombstone then
          gone = 1
        elseif mentioned and job[1] == where and where == 'ready' and fair then
          local owner = job[4] or ''
          gone = redis.call('LREM', key_list(owner), 1, id)
          if gone > 0 then
            if redis.call('LREM', queue_key('ready'), 1, id) == 0 then redis.call('LPOP', queue_key('ready')) end
            if redis.call('LLEN', key_list(owner)) == 0 then
              redis.call('LREM', queue_key('turns'), 0, owner)
              redis.call('SREM', queue_key('parked'), owner)
              redis.call('HDEL', queue_key('served'), owner)
            end
          end
        elseif mentioned and job[1] == where and where == 'ready' then
          gone = redis.call('LREM', queue_key('ready'), 1, id)
        elseif mentioned and job[1] == where then
          gone = redis.call('ZREM', queue_key(where), id)
        end
        if gone > 0 then
          redis.call('DEL', key)
          if tombstone then redis.call('HSET', key, 'state', 'cancelled') end
          if job[3] and job[3] ~= '' then
            local idempotency = idempotency_key(job[3])
            if redis.call('GET', idempotency) == id then redis.call('DEL', idempotency) end
          end
          redis.call('HINCRBY', queue_key('counters'), 'purged', 1)
          removed = removed + 1
        end
      end
    end
    return removed
    """)
}
