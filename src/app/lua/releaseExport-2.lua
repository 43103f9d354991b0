-- Stops counting a reservation whose export will store nothing: the queue refused it, the request was a replay
-- of an export that already counts, or the export failed for good.
-- KEYS[1], KEYS[2] the principal's sorted set and hash (see reserveExport-2.lua)
-- ARGV[1] the reservation
-- Returns 1 when it counted, 0 when it did not (any more).
local held = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
if not held then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[2], 'total', -tonumber(held))
return 1
