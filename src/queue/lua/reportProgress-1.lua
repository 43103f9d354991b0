--[[ Record a running attempt's progress and tell event listeners; ignored once the attempt is stale.
  KEYS[1] job hash
  ARGV[1] attempt   ARGV[2] progress (JSON number)   ARGV[3] log lines written since the last write ('' none)
  Returns 1 when recorded, 0 for a stale attempt. ]]
local job = redis.call('HMGET', KEYS[1], 'status', 'attempt')
if job[1] ~= 'in_progress' or job[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'logs', withLogs(redis.call('HGET', KEYS[1], 'logs'), ARGV[3])) end
redis.call('PUBLISH', KEYS[1], redis.call('HINCRBY', KEYS[1], 'rev', 1) .. ' in_progress ' .. ARGV[2])
return 1
