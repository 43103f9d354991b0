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
