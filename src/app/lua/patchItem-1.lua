-- Updates an item and moves it between tag indexes in one atomic step.
-- KEYS[1] item hash
-- ARGV[1] tag index key prefix (same {items} slot), ARGV[2] new tags as JSON or '' when unchanged,
-- ARGV[3..] field, value pairs to set (updated_at included)
-- Returns the item's fields (HGETALL) or false when it does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local id = redis.call('HGET', KEYS[1], 'id')
if ARGV[2] ~= '' then
  local old = cjson.decode(redis.call('HGET', KEYS[1], 'tags') or '[]')
  local new = cjson.decode(ARGV[2])
  local keep = {}
  for _, t in ipairs(new) do keep[t] = true end
  for _, t in ipairs(old) do
    if not keep[t] then redis.call('ZREM', ARGV[1] .. t, id) end
  end
  for _, t in ipairs(new) do redis.call('ZADD', ARGV[1] .. t, 0, id) end
  redis.call('HSET', KEYS[1], 'tags', ARGV[2])
end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return redis.call('HGETALL', KEYS[1])
