--[[ End a batch of attempts. Each is a compare-and-set on (status = in_progress, attempt): a zombie attempt that
  finishes after its job was reclaimed changes nothing, not even the stream entry (the newer attempt owns it).
  KEYS[1] stream   KEYS[2] delayed zset   KEYS[3] dead-letter stream   KEYS[4] stats hash
  ARGV[1] group   ARGV[2] job key prefix   ARGV[3] now (ms)   ARGV[4] dead-letter max length
  ARGV[5..] sextuples: job id, entry id, attempt, outcome, value, retry at (ms)
    outcome complete: value = result JSON; retry: value = error, job waits in the delayed zset until retry at;
    fail: value = error, copy to the dead-letter stream; abort: value = reason; release (shutdown): back to
    the stream at once as a new entry, the interrupted attempt not counted.
  Returns 1 or 0 (stale attempt) per job. ]]
local applied = {}
for i = 5, #ARGV, 6 do
  local id, entry, attempt, outcome, value = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local key = ARGV[2] .. id
  local job = redis.call('HMGET', key, 'status', 'attempt', 'keep_s')
  if job[1] ~= 'in_progress' or job[2] ~= attempt then
    applied[#applied + 1] = 0
  else
    local status
    if outcome == 'complete' then
      status = 'complete'
      redis.call('HSET', key, 'status', status, 'result', value, 'finished_at', ARGV[3])
      redis.call('EXPIRE', key, job[3])
      redis.call('HINCRBY', KEYS[4], 'processed', 1)
    elseif outcome == 'retry' then
      status = 'retrying'
      redis.call('HSET', key, 'status', status, 'error', value, 'scheduled_for', ARGV[i + 5])
      redis.call('ZADD', KEYS[2], ARGV[i + 5], id)
      redis.call('HINCRBY', KEYS[4], 'retried', 1)
    elseif outcome == 'fail' then
      status = 'failed'
      redis.call('HSET', key, 'status', status, 'error', value, 'finished_at', ARGV[3])
      redis.call('EXPIRE', key, job[3])
      local dead = redis.call('HMGET', key, 'name', 'payload', 'max_tries')
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'id', id, 'name', dead[1], 'payload', dead[2],
        'error', value, 'max_tries', dead[3], 'keep_s', job[3], 'failed_at', ARGV[3])
      redis.call('HINCRBY', KEYS[4], 'failed', 1)
    elseif outcome == 'abort' then
      status = 'aborted'
      redis.call('HSET', key, 'status', status, 'error', value, 'finished_at', ARGV[3])
      redis.call('EXPIRE', key, job[3])
    else
      status = 'queued'
      local fresh = redis.call('XADD', KEYS[1], '*', 'id', id)
      redis.call('HSET', key, 'status', status, 'attempt', tonumber(attempt) - 1, 'entry', fresh)
    end
    redis.call('XACK', KEYS[1], ARGV[1], entry)
    redis.call('XDEL', KEYS[1], entry)
    redis.call('PUBLISH', key, redis.call('HINCRBY', key, 'rev', 1) .. ' ' .. status)
    applied[#applied + 1] = 1
  end
end
return applied
