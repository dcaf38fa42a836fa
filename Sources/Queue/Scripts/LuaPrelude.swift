import Redis

/// Helpers shared by every queue script, prepended to each script's source.
///
/// Job keys are derived inside the scripts from the prefix (ARGV[1]), so the engine expects a single Redis
/// (or a primary with replicas), not Redis Cluster. Time is always the Redis server's clock (`TIME`), one
/// clock for every worker and API process.
enum LuaPrelude {
    static let source = """
    local prefix = ARGV[1]
    local function now_ms()
      local t = redis.call('TIME')
      return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    -- A whole number as text. Redis turns a Lua number argument into text with '%.14g', which costs more
    -- than the command itself, so scripts convert a time once per call and pass the text for every job.
    local function int_text(n) return string.format('%d', n) end
    local function job_key(id) return prefix .. ':job:' .. id end
    local function queue_key(queue, name) return prefix .. ':queue:' .. queue .. ':' .. name end
    -- Wakes idle workers: the signal list holds at most one token.
    local function signal(queue)
      local key = queue_key(queue, 'signal')
      redis.call('LPUSH', key, '1')
      redis.call('LTRIM', key, 0, 0)
    end
    -- Puts a job id in line: priority jobs go to the end workers pop from, others join the back.
    local function line_up(queue, id, priority)
      if tonumber(priority or '0') > 0 then
        redis.call('RPUSH', queue_key(queue, 'ready'), id)
      else
        redis.call('LPUSH', queue_key(queue, 'ready'), id)
      end
    end
    -- Puts a job in line and marks it ready.
    local function push_ready(queue, id, priority, now)
      line_up(queue, id, priority)
      redis.call('HSET', job_key(id), 'state', 'ready', 'readyAt', now)
    end
    -- Puts a job that was leased back at the end workers pop from: it has waited already.
    local function requeue_front(queue, id, now)
      redis.call('HDEL', job_key(id), 'worker')
      redis.call('RPUSH', queue_key(queue, 'ready'), id)
      redis.call('HSET', job_key(id), 'state', 'ready', 'readyAt', now)
    end
    -- Adds n to a per-minute throughput counter kept for two hours.
    local function count_minute(queue, name, n, now)
      if n > 0 then
        local key = queue_key(queue, name) .. ':' .. math.floor(now / 60000)
        redis.call('INCRBY', key, n)
        redis.call('EXPIRE', key, 7200)
      end
    end
    -- Moves a job to the dead set with its last error.
    local function bury(queue, id, reason, now)
      redis.call('HSET', job_key(id), 'state', 'dead', 'lastError', reason, 'diedAt', now, 'queue', queue)
      redis.call('HDEL', job_key(id), 'worker')
      redis.call('ZADD', queue_key(queue, 'dead'), now, id)
      redis.call('HINCRBY', queue_key(queue, 'counters'), 'dead', 1)
    end
    -- The job's attempt if it is leased under that attempt now, else nil (lease lost or job gone).
    local function holds_lease(queue, id, attempt)
      if not redis.call('ZSCORE', queue_key(queue, 'leased'), id) then return false end
      local ok, current = pcall(redis.call, 'HGET', job_key(id), 'attempt')
      return ok and current == attempt
    end

    """

    /// A script of the queue engine: the prelude followed by `body`.
    static func script(_ name: String, _ body: String) -> RedisScript {
        RedisScript(name: name, source: source + body)
    }
}
