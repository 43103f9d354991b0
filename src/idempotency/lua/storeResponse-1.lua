--[[ Store the response of the request that holds a claim; from now on a retry gets it. Nothing when the record
  expired or belongs to another operation meanwhile.
  KEYS[1] record hash   ARGV[1] operation id   ARGV[2] status   ARGV[3] headers JSON   ARGV[4] body
  Returns 1 stored, 0 not. ]]
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4])
redis.call('HDEL', KEYS[1], 'lease')
return 1
