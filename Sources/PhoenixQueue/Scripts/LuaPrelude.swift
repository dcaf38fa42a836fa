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
    -- Puts a job id in line: priority jobs go to the end workers pop from, others join the back.
    local function line_up(id, priority)
      if tonumber(priority or '0') > 0 then
        redis.call('RPUSH', queue_key('ready'), id)
      else
        redis.call('LPUSH', queue_key('ready'), id)
      end
    end
    -- Puts a job in line and marks it ready.
    local function push_ready(id, priority, now)
      line_up(id, priority)
      redis.call('HSET', job_key(id), 'state', 'ready', 'readyAt', now)
    end
    -- Puts a job that was leased back at the end workers pop from: it has waited already.
    local function requeue_front(id, now)
      redis.call('HDEL', job_key(id), 'worker')
      redis.call('RPUSH', queue_key('ready'), id)
      redis.call('HSET', job_key(id), 'state', 'ready', 'readyAt', now)
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
