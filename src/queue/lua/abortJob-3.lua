--[[ Abort a job. Waiting (queued, deferred, retrying): aborted at once, its entry, parking place (lib/groups.lua)
  or schedule removed. Running: flagged, and the owning worker is told on the abort channel (the flag also reaches
  it via its heartbeat, and a reclaimed flagged job ends aborted instead of running again).
  KEYS[1] stream (normal priority; a queued job's entry is in its priority's stream)   KEYS[2] delayed zset
  KEYS[3] job hash
  ARGV[1] group   ARGV[2] job id   ARGV[3] now (ms)   ARGV[4] abort channel   ARGV[5] caller's principal ('' none)
  ARGV[6] '1' when the caller is an operator (may abort any job)   ARGV[7] queue key base   ARGV[8] retention
  Returns 'aborted', 'aborting', 'not_found' (also for a job owned by somebody else), or the terminal status the
  job already has. ]]
local job = redis.call('HMGET', KEYS[3], 'status', 'entry', 'keep_s', 'owner', 'dedupe', 'prio', 'group', 'group_max')
local status = job[1]
if not status or (job[4] and job[4] ~= ARGV[5] and ARGV[6] ~= '1') then return 'not_found' end
if status == 'queued' or status == 'deferred' or status == 'retrying' then
  redis.call('HSET', KEYS[3], 'status', 'aborted', 'error', 'aborted by request', 'finished_at', ARGV[3])
  expireFinished(KEYS[3], job[3])
  redis.call('PUBLISH', KEYS[3], redis.call('HINCRBY', KEYS[3], 'rev', 1) .. ' aborted')
  redis.call('ZREM', KEYS[2], ARGV[2])
  indexMove(ARGV[7], ARGV[2], status, 'aborted', ARGV[3])
  releaseDedupe(job[5], ARGV[2])
  trimStatus(ARGV[7], 'aborted', retention(ARGV[8]).aborted, tonumber(ARGV[3]))
  if status == 'queued' then leaveQueue(ARGV[7], ARGV[1], ARGV[2], job[2], job[6], job[7], job[8]) end
  return 'aborted'
end
if status == 'in_progress' then
  redis.call('HSET', KEYS[3], 'abort', 1)
  redis.call('PUBLISH', ARGV[4], ARGV[2])
  return 'aborting'
end
return status
