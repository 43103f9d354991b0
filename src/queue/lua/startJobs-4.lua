--[[ Start the entries a worker just read (blocking XREADGROUP), and up to ARGV[6] new entries read here (so a
  worker refills its free slots in the same round trip that settles its last batch): each becomes a new attempt
  owned by this worker. Entries whose job ended, was aborted, expired or re-queued under a newer entry are
  acknowledged and deleted; a job re-queued by requeueStalled-1 past its tries fails into the dead-letter stream.
  A job whose group has no free slot is parked instead (lib/groups.lua).
  Job events are published only while someone follows them (a live member in the listeners zset).
  KEYS[1] stream (normal priority; the others derive from the base)   KEYS[2] dead-letter stream   KEYS[3] stats hash
  KEYS[4] listeners zset
  ARGV[1] group   ARGV[2] job key prefix   ARGV[3] worker (consumer)   ARGV[4] now (ms)   ARGV[5] dead-letter max length
  ARGV[6] new entries to read (0: none), from the priorities' streams as the cycle says (indexes.lua, readNew)
  ARGV[7] queue key base   ARGV[8] retention (indexes.lua)   ARGV[9] rate limit 'jobs,perMs' ('' none)
  ARGV[10..] triples: entry id, job id, priority of its stream ('' normal)
  A paused queue (its `paused` key set) starts nothing: the given entries go back to their stream's end as new
  entries, nothing new is read, and the script returns -1.
  Rate limit: at most `jobs` starts in any `perMs`, across workers, counted on Redis's clock (TIME; the started
  jobs' started_at): a sliding log, `rate` (a list of 'ms count', one per call that started jobs, oldest first).
  The script reads no more entries than the limit lets start; a given entry past it goes back to its stream's end.
  Returns a flat list of quintuples, one per started job: job id, entry id, name, payload, attempt; with a rate
  limit, then two more items: ms until the limit allows another start (0: it does now), and when the streams ran
  out of entries the ids of their last ones, high normal low, space-separated ('0-0' for none: wait for newer
  ones), else ''. ]]
local listened = redis.call('ZCOUNT', KEYS[4], ARGV[4], '+inf') > 0
local function publish(key, event)
  if listened then redis.call('PUBLISH', key, event) end
end
local base = ARGV[7]
-- Retires a read entry; a job it still names is queued again under a new one at its stream's end.
local function putBack(stream, key, id, entry, queued)
  if queued then redis.call('HSET', key, 'entry', redis.call('XADD', stream, '*', 'id', id)) end
  redis.call('XACK', stream, ARGV[1], entry)
  redis.call('XDEL', stream, entry)
end
if redis.call('EXISTS', base .. 'paused') == 1 then
  for i = 10, #ARGV, 3 do
    local key = ARGV[2] .. ARGV[i + 1]
    local job = redis.call('HMGET', key, 'status', 'entry')
    putBack(streamOf(base, ARGV[i + 2]), key, ARGV[i + 1], ARGV[i], job[1] == 'queued' and job[2] == ARGV[i])
  end
  return -1
end
local limit, per = string.match(ARGV[9], '^(%d+),(%d+)$')
local rate, allowed, startedAt, window = base .. 'rate', math.huge, ARGV[4], {}
if limit then
  local clock = redis.call('TIME')
  startedAt, per, allowed = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000), tonumber(per), tonumber(limit)
  local expired = 0
  for j, logged in ipairs(redis.call('LRANGE', rate, 0, -1)) do
    local ms, n = string.match(logged, '^(%d+) (%d+)$')
    if tonumber(ms) <= startedAt - per then
      if expired == j - 1 then expired = j end
    else
      allowed = allowed - tonumber(n)
      window[#window + 1] = { tonumber(ms), tonumber(n) }
    end
  end
  if expired > 0 then redis.call('LTRIM', rate, expired, -1) end
end
local keep = retention(ARGV[8])
local ended = {}
local failures = 0
local todo = {}
for i = 10, #ARGV do todo[#todo + 1] = ARGV[i] end
local want = math.max(0, math.min(tonumber(ARGV[6]), allowed))
if want > 0 then readNew(base, ARGV[1], ARGV[3], want, todo) end
local got = (#todo - (#ARGV - 9)) / 3
local started = {}
local streams = streamsOf(base)
for i = 1, #todo, 3 do
  local entry, id, stream = todo[i], todo[i + 1], streams[todo[i + 2]]
  local key = ARGV[2] .. id
  -- What starting needs; the rare ends below (aborted, out of tries) read keep_s themselves.
  local job = redis.call('HMGET', key, 'status', 'attempt', 'max_tries', 'name', 'payload', 'entry', 'abort', 'rev', 'dedupe', 'group', 'group_max')
  local status, group = job[1], job[10]
  if status == 'queued' and job[6] == entry then
    local tries = tonumber(job[2])
    -- Every move below bumps the revision inside its HSET (no HINCRBY): one write per job.
    local rev = succ[job[8]]
    if job[7] or tries >= tonumber(job[3]) then
      releaseDedupe(job[9], id)
      if group then groupRelease(base, group, job[11], id) end
    end
    if job[7] then
      redis.call('HSET', key, 'status', 'aborted', 'finished_at', ARGV[4], 'rev', rev)
      expireFinished(key, redis.call('HGET', key, 'keep_s'))
      indexMove(base, id, 'queued', 'aborted', ARGV[4])
      ended.aborted = true
      publish(key, rev .. ' aborted')
      redis.call('XACK', stream, ARGV[1], entry)
      redis.call('XDEL', stream, entry)
    elseif tries >= tonumber(job[3]) then
      local err = 'lease expired on each of ' .. job[3] .. ' tries (worker crashed or stalled)'
      local keep = redis.call('HGET', key, 'keep_s')
      local letter = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'id', id, 'name', job[4], 'payload', job[5],
        'error', err, 'max_tries', job[3], 'keep_s', keep, 'failed_at', ARGV[4], unpack(letterTraits(todo[i + 2], group, job[11], job[9])))
      redis.call('HSET', key, 'status', 'failed', 'error', err, 'finished_at', ARGV[4], 'rev', rev, 'letter', letter)
      expireFinished(key, keep)
      publish(key, rev .. ' failed')
      indexMove(base, id, 'queued', 'failed', ARGV[4])
      ended.failed = true
      failures = failures + 1
      redis.call('HINCRBY', KEYS[3], 'failed', 1)
      redis.call('XACK', stream, ARGV[1], entry)
      redis.call('XDEL', stream, entry)
    elseif #started >= 5 * allowed then
      putBack(stream, key, id, entry, true)
    elseif group and not groupAdmit(base, group, job[11], id) then
      groupPark(base, group, id, entry, todo[i + 2], ARGV[4])
      redis.call('XACK', stream, ARGV[1], entry)
      redis.call('XDEL', stream, entry)
    else
      releaseDedupe(job[9], id, true)
      redis.call('HSET', key, 'status', 'in_progress', 'attempt', succ[job[2]], 'started_at', startedAt, 'worker', ARGV[3], 'rev', rev)
      if listened then redis.call('PUBLISH', key, rev .. ' in_progress') end
      local n = #started
      started[n + 1], started[n + 2], started[n + 3], started[n + 4], started[n + 5] = id, entry, job[4], job[5], tries + 1
    end
  else
    redis.call('XACK', stream, ARGV[1], entry)
    redis.call('XDEL', stream, entry)
  end
end
for status in pairs(ended) do trimStatus(base, status, keep[status], tonumber(ARGV[4])) end
countMinute(base, tonumber(ARGV[4]), 0, failures)
if limit then
  local n = #started / 5
  if n > 0 then
    redis.call('RPUSH', rate, startedAt .. ' ' .. n)
    redis.call('PEXPIRE', rate, per)
    window[#window + 1] = { startedAt, n }
  end
  -- Nothing left to start: the wait until enough of the window's starts age out of it to allow one.
  local left, waitMs, last = allowed - n, 0, ''
  for _, logged in ipairs(window) do
    if left > 0 then break end
    left, waitMs = left + logged[2], logged[1] + per - startedAt
  end
  if got < want then
    local lasts = {}
    for _, level in ipairs(LEVELS) do
      local tail = redis.call('XREVRANGE', streamOf(base, level), '+', '-', 'COUNT', 1)
      lasts[#lasts + 1] = tail[1] and tail[1][1] or '0-0'
    end
    last = table.concat(lasts, ' ')
  end
  started[#started + 1] = waitMs
  started[#started + 1] = last
end
return started
