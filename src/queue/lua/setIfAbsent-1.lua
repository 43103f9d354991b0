--[[ Name a value under a key unless the key names one already (SET NX GET, which Redis takes only from 7.0 on): an
  idempotency key's index on a partitioned queue (the id of its job, while the key is remembered), or the queue's
  partition count (for good).
  KEYS[1] the key
  ARGV[1] the value   ARGV[2] seconds the key lasts ('' for good)
  Returns what the key named, or nil when it named nothing and now names ARGV[1]. ]]
local named = redis.call('GET', KEYS[1])
if named then return named end
if ARGV[2] == '' then redis.call('SET', KEYS[1], ARGV[1]) else redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return false
