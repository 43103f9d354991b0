--[[ An operator's promote: a deferred or retrying job runs now (queued at the stream's end); any other status is
  left alone, so promoting twice is harmless.
  KEYS[1] delayed zset   KEYS[2] stream (normal priority; the job goes to its priority's stream)
  ARGV[1] queue key base   ARGV[2] now (ms)   ARGV[3] job id
  Returns 1 when promoted, else 0. ]]
local id = ARGV[3]
local key = ARGV[1] .. 'job:' .. id
local job = redis.call('HMGET', key, 'status', 'prio')
local status = job[1]
if status ~= 'deferred' and status ~= 'retrying' then return 0 end
redis.call('HSET', key, 'status', 'queued', 'entry', redis.call('XADD', streamOf(ARGV[1], job[2]), '*', 'id', id))
redis.call('ZREM', KEYS[1], id)
redis.call('PUBLISH', key, redis.call('HINCRBY', key, 'rev', 1) .. ' queued')
indexMove(ARGV[1], id, status, 'queued', ARGV[2])
return 1
