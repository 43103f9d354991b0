--[[ An operator's retry: failed jobs go back to the stream as fresh runs (attempt 0) under their ids, their
  history and logs kept, and their dead letters dropped. Any other status is left alone (so a retry is
  idempotent: the second one finds the job queued and skips it). A job takes its dedupe key back unless another live
  job holds it (lib/dedupe.lua, retakeDedupe).
  KEYS[1] stream (normal priority; a job goes to its priority's stream)   KEYS[2] dead-letter stream
  ARGV[1] queue key base   ARGV[2] now (ms)   ARGV[3..] job ids
  Returns {retried, skipped}. ]]
local base = ARGV[1]
local retried = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local key = base .. 'job:' .. id
  local job = redis.call('HMGET', key, 'status', 'letter', 'prio', 'dedupe')
  if job[1] == 'failed' then
    local entry = redis.call('XADD', streamOf(base, job[3]), '*', 'id', id)
    redis.call('HDEL', key, 'error', 'result', 'finished_at', 'started_at', 'worker', 'progress', 'abort', 'scheduled_for', 'letter', 'stack')
    redis.call('HSET', key, 'status', 'queued', 'attempt', 0, 'entry', entry)
    redis.call('PERSIST', key)
    redis.call('PUBLISH', key, redis.call('HINCRBY', key, 'rev', 1) .. ' queued')
    if job[2] then redis.call('XDEL', KEYS[2], job[2]) end
    indexMove(base, id, 'failed', 'queued', ARGV[2])
    retakeDedupe(base .. 'job:', job[4], id)
    retried = retried + 1
  end
end
return {retried, #ARGV - 2 - retried}
