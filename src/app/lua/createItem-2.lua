-- Stores a new item and indexes it (all ids, and each tag) in one atomic step.
-- KEYS[1] item hash, KEYS[2] index of all ids
-- ARGV[1] the request's deadline (epoch ms; the guard prepended at load refuses past it, src/redis/guard.ts),
-- ARGV[2] tag index key prefix (same {items} slot), ARGV[3] the id, ARGV[4] tags as JSON,
-- ARGV[5..] field, value pairs of the hash
-- Returns 1.
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], 0, ARGV[3])
for _, t in ipairs(cjson.decode(ARGV[4])) do redis.call('ZADD', ARGV[2] .. t, 0, ARGV[3]) end
return 1
