-- One page of items in id order, read in one round trip.
-- KEYS[1] the index to walk (all ids, or one tag's ids)
-- ARGV[1] item key prefix (same {items} slot), ARGV[2] cursor (last id of the previous page, '' to start),
-- ARGV[3] page size
-- Returns { more (0/1), fields of item 1, fields of item 2, ... }
local from = ARGV[2] == '' and '-' or '(' .. ARGV[2]
local limit = tonumber(ARGV[3])
local ids = redis.call('ZRANGE', KEYS[1], from, '+', 'BYLEX', 'LIMIT', 0, limit + 1)
local out = { #ids > limit and 1 or 0 }
for i = 1, math.min(#ids, limit) do
  local fields = redis.call('HGETALL', ARGV[1] .. ids[i])
  if #fields > 0 then out[#out + 1] = fields end
end
return out
