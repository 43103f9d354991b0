-- Deletes every entry listed in the given indexes and the indexes themselves, then bumps the namespace epoch
-- so that fills already running do not store what they read before the invalidation.
-- KEYS[1] namespace epoch   KEYS[2..] indexes (the namespace's `all` index, or tag indexes)
-- Returns the number of entries deleted.
local deleted = 0
for i = 2, #KEYS do
  local members = redis.call('ZRANGE', KEYS[i], 0, -1)
  for j = 1, #members, 500 do
    deleted = deleted + redis.call('UNLINK', unpack(members, j, math.min(j + 499, #members)))
  end
  redis.call('DEL', KEYS[i])
end
redis.call('INCR', KEYS[1])
return deleted
