import PhoenixRedis

/// Helpers shared by every queue script, prepended to each script's source.
///
/// A queue script acts on one queue: ARGV[1] is the queue's key base (``QueueKeys/base(_:)``, which carries the
/// queue's hash tag) and ARGV[2] its name. KEYS declares the queue's keys and the hashes of the jobs the call
/// names (``JobQueue``'s `declaredKeys`); the script builds the same names from the base. What else a script
/// touches (the jobs a fetch pops or a promote finds due, a corrupt job's copy, per-minute counters, an
/// idempotency key read from a job's hash) is built from the same base too, so it shares the queue's hash tag
/// and lives in the declared keys' slot: on Redis Cluster every call runs on the one node holding the queue.
/// No queue script touches a key outside its queue. Time is always the Redis server's clock (`TIME`),
/// one clock for every worker and API process.
///
/// Rules every script keeps:
/// - **Replay.** The client sends a call again when its connection broke before the reply, so the server
///   may run a call twice. Each script does on a replay what it did the first time, or nothing.
/// - **Deliveries.** Each fetch of a job is a delivery with a token of its own (the fetch call's token,
///   stored in the job's `lease` field). Only the delivery whose token is current and whose id is in
///   `leased` may ack, fail, extend, release or report progress; a token is never given out twice.
/// - **No half-done writes.** Redis does not roll back a script that fails part-way, so a script checks the
///   types of the queue keys it writes after its first write (``requireTypes``) before it writes anything,
///   and reads a job hash that may hold a foreign value through `pcall`.
enum LuaPrelude {
    static let source = """
    local base = ARGV[1]
    local function now_ms()
      local t = redis.call('TIME')
      return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    -- A whole number as text. Redis turns a Lua number argument into text with '%.14g', which costs more
    -- than the command itself, so scripts convert a time once per call and pass the text for every job.
    local function int_text(n) return string.format('%d', n) end
    local function job_key(id) return base .. ':job:' .. id end
    local function queue_key(name) return base .. ':' .. name end
    local function idempotency_key(key) return base .. ':idempotency:' .. key end
    -- Fails the call, before it wrote anything, when a key holds another type than the one named: pairs of
    -- key, type ('list', 'zset', 'hash', 'string'). A missing key is fine.
    local function require_types(...)
      local args = {...}
      for i = 1, #args, 2 do
        local kind = redis.call('TYPE', args[i])['ok']
        if kind ~= 'none' and kind ~= args[i + 1] then
          return error({err = 'WRONGTYPE key ' .. args[i] .. ' holds a ' .. kind .. ' where the queue keeps a ' .. args[i + 1] .. '; nothing was changed'})
        end
      end
    end
    -- Fields of a job hash, or nil when the key holds something else (never fails).
    local function job_fields(id, ...)
      local ok, fields = pcall(redis.call, 'HMGET', job_key(id), ...)
      if ok then return fields end
      return nil
    end
    -- Wakes idle workers: the signal list holds at most one token.
    local function signal()
      local key = queue_key('signal')
      redis.call('LPUSH', key, '1')
      redis.call('LTRIM', key, 0, 0)
    end
    -- The queue's flow control (``FlowSettings``), read once per call: fair share on ('fair'), jobs running at
    -- once per fairness key ('keyConcurrency') and in the queue ('concurrency'), jobs started per minute
    -- ('rpm') and when the next start is on time under that rate ('rateAt', ms), tokens spent per minute
    -- ('tpm') and when the tokens reported so far are paid off under that rate ('tokensAt', ms), and until when
    -- a provider asked the queue to hold off ('heldUntil', ms). A script that may line a job
    -- up or finish a lease calls it before its first write, so a foreign value at 'flow', or at the event
    -- stream those scripts append to (``emit``), fails it unchanged.
    -- In a fair queue it also checks the types of the keys fair share writes, so that a foreign value there
    -- fails the call before its first write too.
    local flow_settings
    local function flow()
      if not flow_settings then
        local f = redis.call('HMGET', queue_key('flow'), 'fair', 'keyConcurrency', 'concurrency', 'rpm', 'rateAt', 'tpm',
          'tokensAt', 'heldUntil')
        flow_settings = {fair = f[1] == '1', keyConcurrency = tonumber(f[2]), concurrency = tonumber(f[3]),
          rpm = tonumber(f[4]), rateAt = tonumber(f[5]), tpm = tonumber(f[6]), tokensAt = tonumber(f[7]),
          heldUntil = tonumber(f[8])}
        require_types(queue_key('events'), 'stream')
        if flow_settings.fair then
          require_types(queue_key('turns'), 'list', queue_key('parked'), 'set', queue_key('running'), 'hash',
            queue_key('weights'), 'hash', queue_key('served'), 'hash')
        end
      end
      return flow_settings
    end
    -- Appends a job's event to the queue's event stream (what `JobEvent` reads): the job, what happened to it,
    -- its fairness key (its user; no `user` field for none), then pairs of further fields. The stream keeps
    -- about the last 10,000 entries (trimmed by whole nodes, `MAXLEN ~`, which costs next to nothing). Only a
    -- script that changed a job calls it, so a replay, which changes nothing, adds no event. Callers checked
    -- the stream's type first (``flow``).
    local function emit(id, kind, user, ...)
      if user and user ~= '' then
        redis.call('XADD', queue_key('events'), 'MAXLEN', '~', '10000', '*', 'job', id, 'event', kind, 'user', user, ...)
      else
        redis.call('XADD', queue_key('events'), 'MAXLEN', '~', '10000', '*', 'job', id, 'event', kind, ...)
      end
    end
    -- Jobs that changed the same way in one call (the same event, user and fields) share stream entries:
    -- `emit_together` files a job's event under its group, and `emit_gathered`, at the end of the call,
    -- appends each group, in the order the groups began, as entries of up to 16 jobs whose `jobs` field lists
    -- their ids (comma-separated) where a lone job's entry has `job`. One XADD then stands for up to 16 jobs.
    local gathered, gathered_order = {}, {}
    -- The group the last job joined and what it was filed under (at most two fields): most jobs of a call
    -- change the same way as the one before, and join its group without building the group's key.
    local last_group, last_kind, last_user, last_count, last_first, last_second
    local function emit_together(id, kind, user, ...)
      local count = select('#', ...)
      if last_group and kind == last_kind and user == last_user and count == last_count then
        local first, second = ...
        if first == last_first and second == last_second then
          last_group.ids[#last_group.ids + 1] = id
          return
        end
      end
      local fields = {...}
      -- The user's length goes first: a user holding the separator cannot make two groups' keys equal.
      local key = kind .. '\0' .. #(user or '') .. ':' .. (user or '') .. '\0' .. table.concat(fields, '\0')
      local group = gathered[key]
      if not group then
        group = {kind = kind, user = user, fields = fields, ids = {}}
        gathered[key] = group
        gathered_order[#gathered_order + 1] = group
      end
      group.ids[#group.ids + 1] = id
      if count <= 2 then
        last_group, last_kind, last_user, last_count, last_first, last_second = group, kind, user, count, fields[1], fields[2]
      else
        last_group = nil
      end
    end
    local function emit_gathered()
      for _, group in ipairs(gathered_order) do
        local ids = group.ids
        for first = 1, #ids, 16 do
          local last = math.min(first + 15, #ids)
          if first == last then
            emit(ids[first], group.kind, group.user, unpack(group.fields))
          else
            local entry = {'jobs', table.concat(ids, ',', first, last), 'event', group.kind}
            if group.user and group.user ~= '' then entry[#entry + 1] = 'user'; entry[#entry + 1] = group.user end
            for _, value in ipairs(group.fields) do entry[#entry + 1] = value end
            redis.call('XADD', queue_key('events'), 'MAXLEN', '~', '10000', '*', unpack(entry))
          end
        end
      end
      gathered, gathered_order, last_group = {}, {}, nil
    end
    -- The list of the waiting job ids of one fairness key, in a fair queue.
    local function key_list(key) return queue_key('key:' .. key) end
    -- Whether a fairness key runs as many jobs as its limit allows.
    local function at_limit(key)
      local limit = flow().keyConcurrency
      return limit ~= nil and (tonumber(redis.call('HGET', queue_key('running'), key)) or 0) >= limit
    end
    -- Gives a fairness key that has jobs waiting its place: at the back of the turns, or parked while it is at
    -- its limit (it gets its turn back when one of its jobs ends: end_lease).
    local function offer_turn(key)
      if at_limit(key) then
        redis.call('SADD', queue_key('parked'), key)
      else
        redis.call('LPUSH', queue_key('turns'), key)
      end
    end
    -- Puts a job id in line. Priority jobs, and jobs going back to the `front`, go to the end workers pop from;
    -- others join the back. In a fair queue the id waits in its key's list (priority orders a key's own jobs)
    -- and the ready list gets a ticket, so that its length stays the queue's depth.
    local function line_up(id, priority, key, front)
      local first = front or tonumber(priority or '0') > 0
      if flow().fair then
        key = key or ''
        local list, n = key_list(key)
        if first then n = redis.call('RPUSH', list, id) else n = redis.call('LPUSH', list, id) end
        redis.call('LPUSH', queue_key('ready'), id)
        if n == 1 then offer_turn(key) end
      elseif first then
        redis.call('RPUSH', queue_key('ready'), id)
      else
        redis.call('LPUSH', queue_key('ready'), id)
      end
    end
    -- Puts a job in line and marks it ready.
    local function push_ready(id, now)
      local fields = redis.call('HMGET', job_key(id), 'priority', 'fairKey')
      line_up(id, fields[1], fields[2])
      redis.call('HSET', job_key(id), 'state', 'ready', 'readyAt', now)
    end
    -- Puts a job that was leased back at the end workers pop from: it has waited already.
    local function requeue_front(id, now)
      redis.call('HDEL', job_key(id), 'worker')
      line_up(id, nil, redis.call('HGET', job_key(id), 'fairKey'), true)
      redis.call('HSET', job_key(id), 'state', 'ready', 'readyAt', now)
    end
    -- Ends the count of a job that leaves `leased` (acked, failed, reaped, handed back) against its fairness
    -- key, when the fetch that leased it counted it ('counted' in its hash): the key's running count goes
    -- down, and a key parked at its limit gets its turn back. Returns true when workers should look again:
    -- a key got its turn back, or the queue's own limit kept ready jobs waiting.
    local function end_lease(id, counted, key)
      local wake = false
      if counted then
        key = key or ''
        redis.call('HDEL', job_key(id), 'counted')
        if redis.call('HINCRBY', queue_key('running'), key, -1) <= 0 then redis.call('HDEL', queue_key('running'), key) end
        if redis.call('SREM', queue_key('parked'), key) == 1 then
          redis.call('LPUSH', queue_key('turns'), key)
          wake = true
        end
      end
      return wake or (flow().concurrency ~= nil and redis.call('LLEN', queue_key('ready')) > 0)
    end
    -- Ends a job that left `leased` as cancelled when its cancellation was asked while it ran ('cancelRequested',
    -- set by ``cancel``): it is kept for the retention the cancel named and counts as cancelled, not failed.
    -- Returns whether it did; a job without the mark is left to the caller.
    local function end_if_cancelled(id, now)
      local fields = job_fields(id, 'cancelRequested', 'cancelRetention', 'fairKey')
      if not (fields and fields[1]) then return false end
      redis.call('HSET', job_key(id), 'state', 'cancelled', 'finishedAt', now)
      redis.call('EXPIRE', job_key(id), tonumber(fields[2]) or 86400)
      redis.call('HINCRBY', queue_key('counters'), 'cancelled', 1)
      emit(id, 'cancelled', fields[3])
      return true
    end
    -- Adds n to a per-minute throughput counter kept for two hours.
    local function count_minute(name, n, now)
      if n > 0 then
        local key = queue_key(name) .. ':' .. math.floor(now / 60000)
        redis.call('INCRBY', key, n)
        redis.call('EXPIRE', key, 7200)
      end
    end
    -- Moves a job to the dead set with its last error. A job key holding a foreign value is moved aside to
    -- '<job key>:corrupt' first, so that the dead entry has a hash to describe it.
    local function bury(queue, id, reason, now)
      local key = job_key(id)
      local kind = redis.call('TYPE', key)['ok']
      if kind ~= 'hash' and kind ~= 'none' then
        redis.call('RENAME', key, key .. ':corrupt')
        reason = reason .. ' (job key held a ' .. kind .. '; kept as ' .. key .. ':corrupt)'
      end
      redis.call('HSET', key, 'state', 'dead', 'lastError', reason, 'diedAt', now, 'queue', queue)
      redis.call('HDEL', key, 'worker')
      redis.call('ZADD', queue_key('dead'), now, id)
      redis.call('HINCRBY', queue_key('counters'), 'dead', 1)
      local job = redis.call('HMGET', key, 'fairKey', 'attempt')
      emit(id, 'dead', job[1], 'attempt', job[2] or '0', 'error', reason)
    end
    -- Whether delivery `token` holds the lease on job `id` now: the job is in `leased` and its hash names
    -- the token. A token is unique to one delivery, so a replayed or late call of an earlier delivery of the
    -- same job (same attempt or not) never matches.
    local function holds_lease(id, token)
      if not redis.call('ZSCORE', queue_key('leased'), id) then return false end
      local fields = job_fields(id, 'lease')
      return fields ~= nil and fields[1] == token
    end

    """

    /// What a script may do when Redis is out of memory (Redis 7 script flags, the `#!lua` first line).
    enum Memory {
        /// Refused while `maxmemory` is reached (the default for a script that writes): enqueueing new work.
        case denyWhenFull
        /// Runs even when `maxmemory` is reached: scripts that keep leases alive, finish, move or free jobs,
        /// and grow memory by a bounded amount at most, so a full Redis drains instead of reaping running jobs.
        case allowWhenFull
        /// Writes nothing: runs when full, and on read-only replicas.
        case readOnly

        var shebang: String {
            switch self {
            case .denyWhenFull: "#!lua\n"
            case .allowWhenFull: "#!lua flags=allow-oom\n"
            case .readOnly: "#!lua flags=no-writes,allow-oom\n"
            }
        }
    }

    /// A script of the queue engine: its flags line, the prelude, then `body`.
    static func script(_ name: String, memory: Memory = .allowWhenFull, _ body: String) -> RedisScript {
        RedisScript(name: name, source: memory.shebang + source + body)
    }
}
