-- Releases a fill lock if this filler still holds it (a lock that expired and was re-taken is left alone).
-- KEYS[1] fill lock
-- ARGV[1] lock token
-- Returns 1 when released.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
