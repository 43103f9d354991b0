--[[ Start the entries a worker just read (blocking XREADGROUP), and up to ARGV[6] new entries read here (so a
  worker refills its free slots in the same round trip that settles its last batch): each becomes a new attempt
  owned by this worker. Entries whose job ended, was aborted, expired or re-queued under a newer entry are
  acknowledged and deleted; a job re-queued by requeueStalled-1 past its tries fails into the dead-letter stream.
  Job events are published only while someone follows them (a live member in the listeners zset).
  KEYS[1] stream (normal priority; the others derive from the base)   KEYS[2] dead-letter stream   KEYS[3] stats hash
  KEYS[4] listeners zset
  ARGV[1] group   ARGV[2] job key prefix   ARGV[3] worker (consumer)   ARGV[4] now (ms)   ARGV[5] dead-letter max length
  ARGV[6] new entries to read (0: none), from the priorities' streams as the cycle says (indexes.lua, readNew)
  ARGV[7] queue key base   ARGV[8] retention (indexes.lua)
  ARGV[9..] triples: entry id, job id, priority of its stream ('' normal)
  A paused queue (its `paused` key set) starts nothing: the given entries go back to their stream's end as new
  entries, nothing new is read, and the script returns -1.
  Returns a flat list of quintuples, one per started job: job id, entry id, name, payload, attempt. ]]
local listened = redis.call('ZCOUNT', KEYS[4], ARGV[4], '+inf') > 0
local function publish(key, event)
  if listened then redis.call('PUBLISH', key, event) end
end
local base = ARGV[7]
if redis.call('EXISTS', base .. 'paused') == 1 then
  for i = 9, #ARGV, 3 do
    local key, stream = ARGV[2] .. ARGV[i + 1], streamOf(base, ARGV[i + 2])
    local job = redis.call('HMGET', key, 'status', 'entry')
    if job[1] == 'queued' and job[2] == ARGV[i] then
      redis.call('HSET', key, 'entry', redis.call('XADD', stream, '*', 'id', ARGV[i + 1]))
    end
    redis.call('XACK', stream, ARGV[1], ARGV[i])
    redis.call('XDEL', stream, ARGV[i])
  end
  return -1
end
local keep = retention(ARGV[8])
local ended = {}
local failures = 0
local todo = {}
for i = 9, #ARGV do todo[#todo + 1] = ARGV[i] end
if tonumber(ARGV[6]) > 0 then readNew(base, ARGV[1], ARGV[3], tonumber(ARGV[6]), todo) end
local started = {}
for i = 1, #todo, 3 do
  local entry, id, stream = todo[i], todo[i + 1], streamOf(base, todo[i + 2])
  local key = ARGV[2] .. id
  local job = redis.call('HMGET', key, 'status', 'attempt', 'max_tries', 'name', 'payload', 'entry', 'abort', 'keep_s', 'rev', 'dedupe')
  local status = job[1]
  if status == 'queued' and job[6] == entry then
    local attempt = tonumber(job[2]) + 1
    -- Every move below bumps the revision inside its HSET (no HINCRBY): one write per job.
    local rev = (tonumber(job[9]) or 0) + 1
    releaseDedupe(job[10], id, not job[7] and attempt <= tonumber(job[3]))
    if job[7] then
      redis.call('HSET', key, 'status', 'aborted', 'finished_at', ARGV[4], 'rev', rev)
      redis.call('EXPIRE', key, job[8])
      indexMove(base, id, 'queued', 'aborted', ARGV[4])
      ended.aborted = true
      publish(key, rev .. ' aborted')
      redis.call('XACK', stream, ARGV[1], entry)
      redis.call('XDEL', stream, entry)
    elseif attempt > tonumber(job[3]) then
      local err = 'lease expired on each of ' .. job[3] .. ' tries (worker crashed or stalled)'
      local letter = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'id', id, 'name', job[4], 'payload', job[5],
        'error', err, 'max_tries', job[3], 'keep_s', job[8], 'failed_at', ARGV[4])
      redis.call('HSET', key, 'status', 'failed', 'error', err, 'finished_at', ARGV[4], 'rev', rev, 'letter', letter)
      redis.call('EXPIRE', key, job[8])
      publish(key, rev .. ' failed')
      indexMove(base, id, 'queued', 'failed', ARGV[4])
      ended.failed = true
      failures = failures + 1
      redis.call('HINCRBY', KEYS[3], 'failed', 1)
      redis.call('XACK', stream, ARGV[1], entry)
      redis.call('XDEL', stream, entry)
    else
      redis.call('HSET', key, 'status', 'in_progress', 'attempt', attempt, 'started_at', ARGV[4], 'worker', ARGV[3], 'rev', rev)
      publish(key, rev .. ' in_progress')
      local n = #started
      started[n + 1], started[n + 2], started[n + 3], started[n + 4], started[n + 5] = id, entry, job[4], job[5], attempt
    end
  else
    redis.call('XACK', stream, ARGV[1], entry)
    redis.call('XDEL', stream, entry)
  end
end
for status in pairs(ended) do trimStatus(base, status, keep[status], tonumber(ARGV[4])) end
countMinute(base, tonumber(ARGV[4]), 0, failures)
return started
