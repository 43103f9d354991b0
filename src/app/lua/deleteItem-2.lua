-- Deletes an item and its index entries atomically.
-- KEYS[1] item hash, KEYS[2] index of all ids
-- ARGV[1] the request's deadline (epoch ms; the guard prepended at load refuses past it, src/redis/guard.ts),
-- ARGV[2] tag index key prefix (same {items} slot)
-- Returns 1 when deleted, 0 when it did not exist.
local fields = redis.call('HMGET', KEYS[1], 'id', 'tags')
if not fields[1] then return 0 end
for _, t in ipairs(cjson.decode(fields[2] or '[]')) do redis.call('ZREM', ARGV[2] .. t, fields[1]) end
redis.call('ZREM', KEYS[2], fields[1])
redis.call('DEL', KEYS[1])
return 1
