--[[ End a batch of attempts. Each is a compare-and-set on (status = in_progress, attempt): a zombie attempt that
  finishes after its job was reclaimed changes nothing, not even the stream entry (the newer attempt owns it).
  The ended entries are acknowledged in one XACK; instead of deleting each (XDEL costs more than the rest of a
  job's settle), the stream is trimmed up to its oldest entry still in the pending list: every entry before it
  was delivered (delivery follows stream order) and acknowledged, so no undelivered entry is ever trimmed.
  Job events are published only while someone follows them (a live member in the listeners zset).
  KEYS[1] stream   KEYS[2] delayed zset   KEYS[3] dead-letter stream   KEYS[4] stats hash   KEYS[5] listeners zset
  ARGV[1] group   ARGV[2] job key prefix   ARGV[3] now (ms)   ARGV[4] dead-letter max length
  ARGV[5] queue key base   ARGV[6] retention (indexes.lua)
  Each entry is acknowledged on the stream of its job's priority (`prio`), and each stream trimmed on its own.
  ARGV[7..] octuples: job id, entry id, attempt, outcome, value, retry at (ms), log lines ('' none), the
    error's stack ('' none; kept for retry and fail)
  Log lines join the job's log; an attempt that does not end the job (retry, release) joins its history;
  finished and retrying jobs enter their status index (trimmed to the retention); per-minute counters count them.
    outcome complete: value = result JSON; retry: value = error, job waits in the delayed zset until retry at;
    fail: value = error, copy to the dead-letter stream; abort: value = reason; release (shutdown): back to
    the stream at once as a new entry, the interrupted attempt not counted (keeping its group's slot: it runs
    next). Every other outcome gives a group's slot back (lib/groups.lua).
  Returns 1 or 0 (stale attempt) per job. ]]
local listened = redis.call('ZCOUNT', KEYS[5], ARGV[3], '+inf') > 0
local base, now = ARGV[5], tonumber(ARGV[3])
-- acked: per priority ('' normal), the entries to acknowledge
local applied, acked, entered = {}, {}, {}
local counts = { processed = 0, failed = 0, retried = 0 }
for i = 7, #ARGV, 8 do
  local id, entry, attempt, outcome, value = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local key = ARGV[2] .. id
  local job = redis.call('HMGET', key, 'status', 'attempt', 'keep_s', 'rev', 'dedupe', 'prio', 'group', 'group_max')
  if job[1] ~= 'in_progress' or job[2] ~= attempt then
    applied[#applied + 1] = 0
  else
    local status
    local rev = succ[job[4]]
    if outcome == 'complete' then
      status = 'complete'
      redis.call('HSET', key, 'status', status, 'result', value, 'finished_at', ARGV[3], 'rev', rev)
      expireFinished(key, job[3])
      counts.processed = counts.processed + 1
    elseif outcome == 'retry' then
      status = 'retrying'
      local run = redis.call('HMGET', key, 'worker', 'started_at', 'history')
      redis.call('HSET', key, 'status', status, 'error', value, 'scheduled_for', ARGV[i + 5], 'rev', rev,
        'history', withAttempt(run[3], attempt, run[1], run[2], ARGV[3], 'retry'))
      redis.call('ZADD', KEYS[2], ARGV[i + 5], id)
      counts.retried = counts.retried + 1
    elseif outcome == 'fail' then
      status = 'failed'
      local dead = redis.call('HMGET', key, 'name', 'payload', 'max_tries')
      local letter = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'id', id, 'name', dead[1], 'payload', dead[2],
        'error', value, 'max_tries', dead[3], 'keep_s', job[3], 'failed_at', ARGV[3], unpack(letterTraits(job[6], job[7], job[8], job[5])))
      redis.call('HSET', key, 'status', status, 'error', value, 'finished_at', ARGV[3], 'rev', rev, 'letter', letter)
      expireFinished(key, job[3])
      counts.failed = counts.failed + 1
    elseif outcome == 'abort' then
      status = 'aborted'
      redis.call('HSET', key, 'status', status, 'error', value, 'finished_at', ARGV[3], 'rev', rev)
      expireFinished(key, job[3])
    else
      status = 'queued'
      local fresh = redis.call('XADD', streamOf(base, job[6]), '*', 'id', id)
      local run = redis.call('HMGET', key, 'worker', 'started_at', 'history')
      redis.call('HSET', key, 'status', status, 'attempt', tonumber(attempt) - 1, 'entry', fresh, 'rev', rev,
        'history', withAttempt(run[3], attempt, run[1], run[2], ARGV[3], 'release'))
    end
    if status ~= 'retrying' and status ~= 'queued' then releaseDedupe(job[5], id) end
    if job[7] and status ~= 'queued' then groupRelease(base, job[7], job[8], id) end
    if ARGV[i + 6] ~= '' then redis.call('HSET', key, 'logs', withLogs(redis.call('HGET', key, 'logs'), ARGV[i + 6])) end
    if ARGV[i + 7] ~= '' then redis.call('HSET', key, 'stack', ARGV[i + 7]) end
    if INDEXED[status] then -- added below, one ZADD per status
      local scored = entered[status] or {}
      entered[status] = scored
      scored[#scored + 1], scored[#scored + 2] = ARGV[3], id
    end
    local level = job[6] or ''
    local ack = acked[level] or {}
    acked[level] = ack
    ack[#ack + 1] = entry
    if listened then redis.call('PUBLISH', key, rev .. ' ' .. status) end
    applied[#applied + 1] = 1
  end
end
for counter, n in pairs(counts) do
  if n > 0 then redis.call('HINCRBY', KEYS[4], counter, n) end
end
countMinute(base, now, counts.processed, counts.failed)
local keep = retention(ARGV[6])
for status, scored in pairs(entered) do
  indexAdd(base, status, scored)
  if keep[status] then trimStatus(base, status, keep[status], now) end
end
for level, entries in pairs(acked) do ackAndTrim(streamOf(base, level), ARGV[1], entries) end
return applied
