--[[ Move due deferred and retrying jobs from the delayed zset into the stream, in one atomic step so a job is
  never in both or in neither.
  KEYS[1] delayed zset   KEYS[2] stream (normal priority; a job goes to its priority's stream)
  ARGV[1] job key prefix   ARGV[2] now (ms)   ARGV[3] most jobs to move   ARGV[4] queue key base
  Returns {moved, score of the next due job or false}. ]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
local moved = 0
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  local job = redis.call('HMGET', key, 'status', 'prio')
  local status = job[1]
  if status == 'deferred' or status == 'retrying' then
    local entry = redis.call('XADD', streamOf(ARGV[4], job[2]), '*', 'id', id)
    redis.call('HSET', key, 'status', 'queued', 'entry', entry)
    indexMove(ARGV[4], id, status, 'queued', ARGV[2])
    redis.call('PUBLISH', key, redis.call('HINCRBY', key, 'rev', 1) .. ' queued')
    moved = moved + 1
  end
  redis.call('ZREM', KEYS[1], id)
end
local nextDue = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {moved, nextDue[2] or false}
