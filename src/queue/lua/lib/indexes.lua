--[[ Prepended to every script that moves a job (scripts.ts): the per-status indexes, their retention, the
  per-minute counters and the attempts history. All keys derive from the queue's base (`<prefix>q:{queue}:`), so
  they share its hash tag and slot with the keys the script declares.
  Status index: zset `status:<status>` of job ids scored by when the job entered that status (ms). Queued and
  running jobs need none (and the hot path pays for none): they are the stream's undelivered entries and the
  group's pending list. ]]
local INDEXED = { deferred = true, retrying = true, complete = true, failed = true, aborted = true }

-- Adds jobs to a status index (scored: score, id, score, id, ...) in one ZADD per 1000 jobs: a batch that moves
-- many jobs to one status pays one call, and unpack is bounded by Lua's C stack.
local function indexAdd(base, status, scored)
  local key = base .. 'status:' .. status
  for from = 1, #scored, 2000 do redis.call('ZADD', key, unpack(scored, from, math.min(from + 1999, #scored))) end
end

local function indexMove(base, id, from, to, now)
  if INDEXED[from] then redis.call('ZREM', base .. 'status:' .. from, id) end
  if INDEXED[to] then indexAdd(base, to, { now, id }) end
end

-- Jobs deleted per terminal status and call: trimming stays O(log n + TRIM_MAX) per move.
local TRIM_MAX = 1000

-- Retention 'completeCount,completeMs,failedCount,failedMs' (-1: no bound); aborted jobs follow failed's.
local function retention(spec)
  local cc, cms, fc, fms = string.match(spec, '^(-?%d+),(-?%d+),(-?%d+),(-?%d+)$')
  return { complete = { tonumber(cc), tonumber(cms) }, failed = { tonumber(fc), tonumber(fms) }, aborted = { tonumber(fc), tonumber(fms) } }
end

-- Deletes the hashes of the given jobs in one DEL (at most TRIM_MAX of them).
local function deleteHashes(jobPrefix, ids)
  local keys = {}
  for n, id in ipairs(ids) do keys[n] = jobPrefix .. id end
  redis.call('DEL', unpack(keys))
end

-- Drops the oldest jobs of a terminal status past its count or age, hashes included, at most TRIM_MAX of each.
-- The count is let run over by 1% before it is trimmed, then back to the count in one chunk: a move past the
-- bound costs one ZCARD, and the range delete is paid once per count/100 moves instead of on every move.
local function trimStatus(base, status, keep, now)
  local jobPrefix = base .. 'job:'
  local key = base .. 'status:' .. status
  local count, ageMs = keep[1], keep[2]
  if count >= 0 then
    local excess = redis.call('ZCARD', key) - count
    if excess > math.floor(count / 100) then
      excess = math.min(excess, TRIM_MAX)
      deleteHashes(jobPrefix, redis.call('ZRANGE', key, 0, excess - 1))
      redis.call('ZREMRANGEBYRANK', key, 0, excess - 1)
    end
  end
  if ageMs >= 0 then
    local old = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. (now - ageMs), 'LIMIT', 0, TRIM_MAX)
    if #old > 0 then
      deleteHashes(jobPrefix, old)
      redis.call('ZREM', key, unpack(old))
    end
  end
end

-- A finished job's hash expires keep_s seconds after it finished, set as PEXPIREAT on Redis's clock: Redis rewrites
-- every EXPIRE into a PEXPIREAT for replicas and the AOF, which costs more than the rest of the call, and the
-- deadline is worked out once per keep_s and script call.
local expiresAt = setmetatable({}, { __index = function(memo, keepS)
  local clock = redis.call('TIME')
  local at = string.format('%d', tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) + tonumber(keepS) * 1000)
  memo[keepS] = at
  return at
end })
local function expireFinished(key, keepS)
  redis.call('PEXPIREAT', key, expiresAt[keepS])
end

-- Processed and failed jobs per minute for the last hour: a 60-slot ring in one hash (m<slot> = the minute it
-- holds, p<slot> / f<slot> its counts), so it never grows and needs no expiry.
local function countMinute(base, now, processed, failed)
  if processed == 0 and failed == 0 then return end
  local minute = math.floor(now / 60000)
  local slot = minute % 60
  local key = base .. 'minutes'
  if redis.call('HGET', key, 'm' .. slot) ~= tostring(minute) then
    redis.call('HSET', key, 'm' .. slot, minute, 'p' .. slot, processed, 'f' .. slot, failed)
  else
    if processed > 0 then redis.call('HINCRBY', key, 'p' .. slot, processed) end
    if failed > 0 then redis.call('HINCRBY', key, 'f' .. slot, failed) end
  end
end

-- An attempt that did not end the job, as a history line ('attempt worker started ended outcome': retry,
-- release, lost); the last attempt is the job's own started_at, worker, finished_at and status. Stops at 4 KiB.
local HISTORY_MAX = 4096
local function withAttempt(history, attempt, worker, startedAt, now, outcome)
  history = history or ''
  if #history >= HISTORY_MAX then return history end
  return history .. attempt .. ' ' .. (worker or '-') .. ' ' .. (startedAt or '-') .. ' ' .. now .. ' ' .. outcome .. '\n'
end

-- Log lines the handler wrote (JSON lines), appended while the job's log is under 64 KiB.
local LOG_MAX = 65536
local function withLogs(old, lines)
  old = old or ''
  if lines == '' or #old >= LOG_MAX then return old end
  return old .. string.sub(lines, 1, LOG_MAX - #old)
end

-- A job's dedupe key (its hash's `dedupe` field: 't' or 'd', then the key) stops naming it once it no longer
-- dedupes (addJobs-2): a debounced job when it starts (`started`), any job when it ends or is deleted.
local function releaseDedupe(dedupe, id, started)
  if not dedupe or (started and string.sub(dedupe, 1, 1) ~= 'd') then return end
  local key = string.sub(dedupe, 2)
  if redis.call('GET', key) == id then redis.call('DEL', key) end
end

-- The job traits a dead letter carries after its fields, named as in the job's hash: its priority, group and
-- dedupe key, each only when the job has one (most have none: nothing added). A replay after the job's record
-- expired takes them from the letter (replayDead-3). `prio` as a stream level ('', 'normal': none).
local LETTER_TRAITS = { 'prio', 'group', 'group_max', 'dedupe' }
local function letterTraits(prio, group, groupMax, dedupe)
  local traits = {}
  if prio == 'high' or prio == 'low' then traits[1], traits[2] = 'prio', prio end
  if group then traits[#traits + 1], traits[#traits + 2], traits[#traits + 3], traits[#traits + 4] = 'group', group, 'group_max', groupMax end
  if dedupe then traits[#traits + 1], traits[#traits + 2] = 'dedupe', dedupe end
  return traits
end

-- Priorities: each level's jobs wait in a stream of their own (keys.ts `streams`); a job's hash names its level in
-- `prio`, absent for normal, whose stream is the queue's first one: jobs without a priority pay nothing for it.
local function streamOf(base, prio)
  if prio == 'high' or prio == 'low' then return base .. 'stream:' .. prio end
  return base .. 'stream'
end

-- Each level's stream by the name a job hash or entry triple gives it (absent, '' or 'normal': normal), for the
-- per-job paths of a batch.
local function streamsOf(base)
  local normal = streamOf(base)
  return { [false] = normal, [''] = normal, normal = normal, high = streamOf(base, 'high'), low = streamOf(base, 'low') }
end

-- A counter's next value as a string ('' or absent: '1'), memoized per script call: Redis formats every Lua number
-- passed to redis.call, and a batch's jobs share the same few attempts and revisions.
local succ = setmetatable({}, { __index = function(memo, n)
  local s = string.format('%d', (tonumber(n) or 0) + 1)
  memo[n] = s
  return s
end })

-- The weighted pick: while every level has jobs waiting, starts follow this cycle, 4 high : 2 normal : 1 low; the
-- queue's `turn` key keeps the place in it across calls and workers. Turns of a level with none waiting go to the
-- highest level that has some, so low jobs get at least 1 start in 7 however many high ones arrive.
local PICK = { 'high', 'normal', 'high', 'low', 'high', 'normal', 'high' }
local LEVELS = { 'high', 'normal', 'low' }

-- Reads up to `count` new entries for `consumer` as the cycle says, appending triples (entry, job id, level) to `into`.
local function readNew(base, group, consumer, count, into)
  local turn = tonumber(redis.call('GET', base .. 'turn') or '0')
  local full = math.floor(count / 7)
  local want = { high = 4 * full, normal = 2 * full, low = full }
  for t = turn + 7 * full, turn + count - 1 do
    local level = PICK[t % 7 + 1]
    want[level] = want[level] + 1
  end
  redis.call('SET', base .. 'turn', (turn + count) % 7)
  local left = count
  -- A level that gave fewer than asked has no more: the second pass does not ask it again.
  local dry = {}
  local function take(level, n)
    if n <= 0 or dry[level] then return end
    local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', n, 'STREAMS', streamOf(base, level), '>')
    local entries = read and read[1][2] or {}
    dry[level] = #entries < n
    for _, e in ipairs(entries) do
      into[#into + 1], into[#into + 2], into[#into + 3] = e[1], e[2][2], level
    end
    left = left - #entries
  end
  for _, level in ipairs(LEVELS) do take(level, want[level]) end
  for _, level in ipairs(LEVELS) do take(level, left) end
end

-- Acknowledges a settled batch's entries of one stream, then trims the stream below its oldest entry still pending:
-- every entry before it was delivered (delivery follows stream order) and acknowledged, so no undelivered entry is
-- ever trimmed. Instead of an XDEL per entry, which costs more than the rest of a job's settle.
local function ackAndTrim(stream, group, entries)
  for from = 1, #entries, 1000 do -- unpack is bounded by Lua's C stack
    redis.call('XACK', stream, group, unpack(entries, from, math.min(from + 999, #entries)))
  end
  local pending = redis.call('XPENDING', stream, group)
  if pending[1] > 0 then
    -- Whole stream nodes only (~): cheap, and the few entries left wait for a later batch.
    redis.call('XTRIM', stream, 'MINID', '~', pending[2])
  else
    -- Nothing pending: everything up to the group's last delivered entry goes, so an idle queue's stream is empty.
    for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
      local g = {}
      for j = 1, #info, 2 do g[info[j]] = info[j + 1] end
      if g.name == group then
        local ms, seq = string.match(g['last-delivered-id'], '^(%d+)-(%d+)$')
        redis.call('XTRIM', stream, 'MINID', ms .. '-' .. (tonumber(seq) + 1))
      end
    end
  end
end
