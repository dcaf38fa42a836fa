import PhoenixRedis

extension QueueScripts {
    /// Leases up to N ready jobs of a queue to one fetch call of a worker; a replay of the call returns the
    /// same jobs instead of leasing others.
    ///
    /// KEYS: the queue's keys and the call's record. ARGV: key base, queue, max jobs (at most 500), lease (ms),
    /// worker id, fetch token (unique per call; it is each delivery's lease token), retention (s) of a cancelled
    /// job's hash once its id leaves the line.
    /// Writes `<queue>:fetch:<token>`, the ids this call leased (comma-separated), kept for one lease period.
    /// Returns: `{'paused'}` for a paused queue, `{'limited', ms}` when its rate limit, token budget or a
    /// provider's hold lets no job start before `ms` from now, else `{'ok', id, envelope, attempt, delivery, …}` (delivery: how many times the job has
    /// been fetched, this time included).
    /// Invariants: every popped id ends, in this same script, leased (in `leased` scored by its deadline, its
    /// hash naming the token), dead (a job hash that is missing, foreign or has no envelope: the reason is its
    /// last error), or dropped (cancelled while waiting: its hash then expires). The attempt grows by one,
    /// unless the last delivery was handed back unstarted; `deliveries` always grows by one. If ready jobs
    /// remain (keys in turn, in a fair queue) and the queue's concurrency limit has room, the signal is raised
    /// again so another idle worker wakes. Every popped job is read before
    /// anything is written, and a foreign value at `leased`, `dead` or `counters` puts the ids back and fails
    /// the call before its first other write (checked only when a popped job needs that key, so the common
    /// call costs one type look-up: the event stream's, in ``flow``, before anything is popped). Each job
    /// leased has a `started` event, those of one attempt and user sharing entries (``emit_together``).
    /// Flow control (``FlowSettings``, read from the queue's `flow` hash):
    /// - Concurrency: the call leases no more than the queue's limit leaves room for beside `leased`.
    /// - Rate (`rpm`, jobs started per minute across every worker): no more than the rate allows now, a second's
    ///   worth at once at most (GCRA: `rateAt`, when the next start is on time, moves one interval per job);
    ///   the jobs started count in the queue's per-minute `started` counter.
    /// - Tokens (`tpm`): none starts while the tokens reported (``spendTokens``) are paid off more than a
    ///   second ahead of now (`tokensAt`). A provider tells a call's tokens only once it answered, so the
    ///   budget is charged after the fact; a concurrency limit bounds the calls in flight meanwhile.
    /// - Hold (`heldUntil`, set by ``holdBack``): none starts before it.
    /// - Fair share: the ids wait in one list per fairness key, and the keys with jobs waiting take turns
    ///   (`turns`). The call pops as many keys from the right as it may lease jobs; each gets its weight's part
    ///   of the call (`weights`, 1 unless set; at least w jobs for weight w), no more than its own concurrency
    ///   limit leaves room for. Keys not reached once the call is full go back to the right (first in turn
    ///   again), and a weighted key whose turn the call cut short goes on with it next time (`served`: what it
    ///   took so far). When every key popped had its turn, the keys visited fill what is left, in the same
    ///   order. Every key visited goes to the back of the turns, to `parked` when it is at its limit (a
    ///   finished job of it brings it back: ``end_lease``), or nowhere when it has no job left. One ticket
    ///   leaves the ready list per id taken. While a limit per key is set, each leased job counts in its key's
    ///   `running` entry and is marked `counted` (jobs leased before a limit was set do not count).
    ///   Invariants of a fair queue: the ready list holds as many tickets as the key lists hold ids; a key with
    ///   ids waiting is in exactly one of `turns` and `parked`, and in `turns` once.
    /// Replay: when the call's record exists, nothing is popped; the answer lists the jobs of the record that
    /// its token still holds (a job reaped or handed on since is left out).
    static let fetch = LuaPrelude.script("fetch", """
    local queue, limit, lease, worker, token, retention = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
    local ready, leased, record = queue_key('ready'), queue_key('leased'), queue_key('fetch:' .. token)
    local counters = queue_key('counters')
    local out = {'ok'}
    local earlier = redis.call('GET', record)
    if earlier then
      for id in string.gmatch(earlier, '[^,]+') do
        local fields = job_fields(id, 'envelope', 'attempt', 'lease', 'deliveries')
        if fields and fields[3] == token and redis.call('ZSCORE', leased, id) then
          out[#out + 1] = id; out[#out + 1] = fields[1]; out[#out + 1] = tonumber(fields[2]); out[#out + 1] = tonumber(fields[4])
        end
      end
      return out
    end
    if redis.call('EXISTS', queue_key('paused')) == 1 then return {'paused'} end
    local settings = flow()
    if settings.concurrency then
      limit = math.min(limit, settings.concurrency - redis.call('ZCARD', leased))
      if limit <= 0 then return out end
    end
    -- Holds and budgets, each answering when to come back: a provider's hold ('heldUntil'); the token budget,
    -- where a start waits while the tokens reported are paid off more than a second ahead ('tokensAt'); the
    -- request rate (GCRA): a job may start when `rateAt` (the next start on time) is at most a second's worth
    -- of starts ahead of now, and each start moves it one interval on.
    local interval, rate_from
    if settings.heldUntil or settings.tpm or settings.rpm then
      local now = now_ms()
      if settings.heldUntil and settings.heldUntil > now then return {'limited', math.ceil(settings.heldUntil - now)} end
      local debt = (settings.tokensAt or 0) - now
      if settings.tpm and debt > 1000 then return {'limited', math.ceil(debt - 1000)} end
      if settings.rpm then
        interval = 60000 / settings.rpm
        local burst = math.max(1, math.floor(settings.rpm / 60))
        rate_from = math.max(settings.rateAt or 0, now)
        local allowed = math.floor(burst - (rate_from - now) / interval + 1e-9)
        if allowed <= 0 then return {'limited', math.max(1, math.ceil(rate_from - (burst - 1) * interval - now))} end
        limit = math.min(limit, allowed)
      end
    end
    -- Fair share: the keys take turns, each for its weight's part of the call (see above). Returns the ids, the
    -- key of each, the keys visited in order, the weighted keys in the middle of their turn (with what they took
    -- so far) and those whose turn ended.
    local function take_turns()
      local turns, running = queue_key('turns'), queue_key('running')
      local taken, owners, visited, room, midturn, ended = {}, {}, {}, {}, {}, {}
      -- Pops up to `want` ids of `key`, no more than its room under its limit.
      local function take(key, want)
        if settings.keyConcurrency then
          room[key] = room[key] or settings.keyConcurrency - (tonumber(redis.call('HGET', running, key)) or 0)
          want = math.min(want, room[key])
        end
        if want <= 0 then return 0 end
        local popped = redis.call('RPOP', key_list(key), want) or {}
        for _, id in ipairs(popped) do
          taken[#taken + 1] = id
          owners[#taken] = key
        end
        if room[key] then room[key] = room[key] - #popped end
        return #popped
      end
      -- The keys whose turn it is (at most one per job to lease), and their weights (1 unless set).
      local keys = redis.call('RPOP', turns, limit) or {}
      local weights, total = {}, 0
      if #keys > 0 and redis.call('EXISTS', queue_key('weights')) == 1 then
        weights = redis.call('HMGET', queue_key('weights'), unpack(keys))
      end
      for i = 1, #keys do
        weights[i] = tonumber(weights[i]) or 1
        total = total + weights[i]
      end
      for i, key in ipairs(keys) do
        if #taken >= limit then
          -- No room left for the keys not reached: they keep their place at the front of the turns.
          for j = #keys, i, -1 do redis.call('RPUSH', turns, keys[j]) end
          break
        end
        visited[#visited + 1] = key
        local turn, before = math.max(weights[i], math.floor(limit * weights[i] / total)), 0
        if weights[i] > 1 then before = tonumber(redis.call('HGET', queue_key('served'), key)) or 0 end
        local wanted = math.min(limit - #taken, turn - before)
        local got = take(key, wanted)
        if weights[i] > 1 then
          -- A weighted key whose turn the call's size cut short goes on with it at the next fetch.
          if got == wanted and wanted < turn - before then midturn[key] = before + got else ended[#ended + 1] = key end
        end
      end
      -- Every key had its turn and room is left: the keys visited fill it, in the same order.
      for _, key in ipairs(visited) do
        if #taken >= limit then break end
        take(key, limit - #taken)
      end
      return taken, owners, visited, midturn, ended
    end
    local ids, owners, visited, midturn, ended
    if settings.fair then
      ids, owners, visited, midturn, ended = take_turns()
      if #ids == 0 and #visited == 0 then return out end
    else
      ids = redis.call('RPOP', ready, limit)
      if not ids then return out end
    end
    -- Puts the popped ids (and the keys whose turn it was) back where they were and fails the call: nothing
    -- else was written yet.
    local function undo(message)
      for i = #ids, 1, -1 do redis.call('RPUSH', settings.fair and key_list(owners[i]) or ready, ids[i]) end
      for i = #(visited or {}), 1, -1 do redis.call('RPUSH', queue_key('turns'), visited[i]) end
      return error({err = message})
    end
    -- Read everything first; the keys that only odd jobs need (dead, counters) are checked only then.
    local jobs, odd = {}, false
    for i, id in ipairs(ids) do
      local fields = job_fields(id, 'envelope', 'attempt', 'state', 'handedBack', 'deliveries', 'fairKey')
      local state = fields and fields[3]
      local kind = 'lease'
      if state == 'cancelled' then
        kind = 'drop'
      elseif not (fields and fields[1]) then
        kind = 'bury'
      elseif state and state ~= 'ready' then
        -- A stray copy of an id whose job is leased, delayed, dead or completed: that state accounts for it.
        kind = 'skip'
      end
      if kind == 'drop' or kind == 'bury' then odd = true end
      jobs[i] = {id = id, fields = fields, kind = kind}
    end
    if odd then
      for _, key in ipairs({queue_key('dead'), counters}) do
        local found = redis.call('TYPE', key)['ok']
        local wanted = key == counters and 'hash' or 'zset'
        if found ~= 'none' and found ~= wanted then
          undo('WRONGTYPE key ' .. key .. ' holds a ' .. found .. ' where the queue keeps a ' .. wanted .. '; nothing was changed')
        end
      end
    end
    local now = now_ms()
    local now_text, deadline = int_text(now), int_text(now + lease)
    -- Leased jobs count against their key only while a limit per key is set: without one nothing reads the
    -- counts, and a limit set later counts the jobs leased from then on.
    local taken, counts, counting = {}, {}, settings.fair and settings.keyConcurrency ~= nil
    -- One ZADD leases every job of the call. It is the call's first write after RPOP: a foreign value at
    -- `leased` fails it, and the ids go back untouched.
    local scored = {}
    for _, job in ipairs(jobs) do
      if job.kind == 'lease' then scored[#scored + 1] = deadline; scored[#scored + 1] = job.id end
    end
    if #scored > 0 and not pcall(redis.call, 'ZADD', leased, unpack(scored)) then
      undo('WRONGTYPE key ' .. leased .. ' does not hold a sorted set; nothing was changed')
    end
    for i, job in ipairs(jobs) do
      local id, fields, key = job.id, job.fields, job_key(job.id)
      if job.kind == 'lease' then
        local attempt = tonumber(fields[2]) or 0
        if fields[4] then
          redis.call('HDEL', key, 'handedBack')
        else
          attempt = attempt + 1
        end
        local delivery = (tonumber(fields[5]) or 0) + 1
        if counting then
          redis.call('HSET', key, 'attempt', int_text(attempt), 'deliveries', int_text(delivery), 'state', 'leased',
            'worker', worker, 'startedAt', now_text, 'lease', token, 'counted', '1')
          counts[owners[i]] = (counts[owners[i]] or 0) + 1
        else
          redis.call('HSET', key, 'attempt', int_text(attempt), 'deliveries', int_text(delivery), 'state', 'leased',
            'worker', worker, 'startedAt', now_text, 'lease', token)
        end
        taken[#taken + 1] = id
        emit_together(id, 'started', fields[6], 'attempt', int_text(attempt))
        out[#out + 1] = id; out[#out + 1] = fields[1]; out[#out + 1] = attempt; out[#out + 1] = delivery
      end
    end
    for _, job in ipairs(jobs) do
      local id, key = job.id, job_key(job.id)
      if job.kind == 'drop' then
        -- Cancelled while it waited: cancel leaves the id in line (removing it is O(N)); it is dropped here.
        redis.call('EXPIRE', key, retention)
        redis.call('HINCRBY', counters, 'cancelledWaiting', -1)
      elseif job.kind == 'bury' then
        if not job.fields then
          bury(queue, id, 'malformed job: job key holds a value of another type', now)
        elseif redis.call('EXISTS', key) == 0 then
          bury(queue, id, 'malformed job: job data is missing (expired or deleted while queued)', now)
        else
          bury(queue, id, 'malformed job: job hash has no envelope', now)
        end
      end
    end
    if #taken > 0 then redis.call('SET', record, table.concat(taken, ','), 'PX', lease) end
    if interval and #taken > 0 then
      redis.call('HSET', queue_key('flow'), 'rateAt', string.format('%.3f', rate_from + #taken * interval))
      count_minute('started', #taken, now)
    end
    local more
    if settings.fair then
      if #ids > 0 then redis.call('RPOP', ready, #ids) end
      for key, n in pairs(counts) do redis.call('HINCRBY', queue_key('running'), key, n) end
      local resumed, back = {}, {}
      for _, key in ipairs(visited) do
        if redis.call('LLEN', key_list(key)) == 0 then
          if midturn[key] then redis.call('HDEL', queue_key('served'), key) end
        elseif midturn[key] then
          resumed[#resumed + 1] = key
        elseif at_limit(key) then
          redis.call('SADD', queue_key('parked'), key)
        else
          back[#back + 1] = key
        end
      end
      -- One LPUSH puts them all at the back, in the order visited (as one LPUSH each would).
      if #back > 0 then redis.call('LPUSH', queue_key('turns'), unpack(back)) end
      for _, key in ipairs(ended) do redis.call('HDEL', queue_key('served'), key) end
      -- Keys in the middle of their turn go first next time, ahead of the keys this call did not reach.
      for _, key in ipairs(resumed) do
        redis.call('HSET', queue_key('served'), key, midturn[key])
        redis.call('RPUSH', queue_key('turns'), key)
      end
      more = redis.call('LLEN', queue_key('turns')) > 0
    else
      more = redis.call('LLEN', ready) > 0
    end
    if more and (not settings.concurrency or redis.call('ZCARD', leased) < settings.concurrency) then signal() end
    emit_gathered()
    return out
    """)
}
