-- Updates an item and moves it between tag indexes in one atomic step.
-- KEYS[1] item hash
-- ARGV[1] the request's deadline (epoch ms; the guard prepended at load refuses past it, src/redis/guard.ts),
-- ARGV[2] tag index key prefix (same {items} slot), ARGV[3] new tags as JSON or '' when unchanged,
-- ARGV[4..] field, value pairs to set (updated_at included)
-- Returns the item's fields (HGETALL) or false when it does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local id = redis.call('HGET', KEYS[1], 'id')
if ARGV[3] ~= '' then
  local old = cjson.decode(redis.call('HGET', KEYS[1], 'tags') or '[]')
  local new = cjson.decode(ARGV[3])
  local keep = {}
  for _, t in ipairs(new) do keep[t] = true end
  for _, t in ipairs(old) do
    if not keep[t] then redis.call('ZREM', ARGV[2] .. t, id) end
  end
  for _, t in ipairs(new) do redis.call('ZADD', ARGV[2] .. t, 0, id) end
  redis.call('HSET', KEYS[1], 'tags', ARGV[3])
end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return redis.call('HGETALL', KEYS[1])
