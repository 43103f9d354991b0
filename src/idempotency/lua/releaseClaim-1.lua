--[[ Give up a claim without a response (the handler failed): the next retry runs at once, under the same
  operation id. Nothing when the record expired, belongs to another operation, or already has its response.
  KEYS[1] record hash   ARGV[1] operation id
  Returns 1 released, 0 not. ]]
local record = redis.call('HMGET', KEYS[1], 'id', 'status')
if record[1] ~= ARGV[1] or record[2] then return 0 end
redis.call('HSET', KEYS[1], 'lease', 0)
return 1
