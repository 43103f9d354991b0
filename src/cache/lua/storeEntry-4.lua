-- Stores a filled entry and indexes it for invalidation, unless an invalidation ran since the fill began
-- (the epoch moved: what the handler read may predate a write); releases the fill lock either way.
-- KEYS[1] entry   KEYS[2] fill lock   KEYS[3] namespace epoch   KEYS[4] namespace index   KEYS[5..] tag indexes
-- ARGV[1] entry value   ARGV[2] lifetime (ms)   ARGV[3] epoch read when the fill began   ARGV[4] lock token
-- ARGV[5] now (epoch ms)
-- Returns 1 when stored, 0 when an invalidation intervened.
local stored = 0
if (redis.call('GET', KEYS[3]) or '0') == ARGV[3] then
  local lifetime = tonumber(ARGV[2])
  local now = tonumber(ARGV[5])
  redis.call('SET', KEYS[1], ARGV[1], 'PX', lifetime)
  for i = 4, #KEYS do
    -- Indexes are scored by expiry: pruning expired members keeps them as small as the live entries.
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    redis.call('ZADD', KEYS[i], now + lifetime, KEYS[1])
    if redis.call('PTTL', KEYS[i]) < lifetime then
      redis.call('PEXPIRE', KEYS[i], lifetime)
    end
  end
  stored = 1
end
if redis.call('GET', KEYS[2]) == ARGV[4] then
  redis.call('DEL', KEYS[2])
end
return stored
