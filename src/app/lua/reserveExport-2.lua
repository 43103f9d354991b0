-- Counts an export against its principal's cap on stored export bytes, or refuses it: check and reserve in one
-- atomic step, so concurrent requests can never pass the cap together. Reservations past their time are pruned
-- first (a bounded number per call; the rest go on the next calls).
-- KEYS[1] the principal's sorted set: reservation → when it stops counting (epoch ms)
-- KEYS[2] the principal's hash: reservation → bytes it counts for, plus `total` (their sum)
-- ARGV[1] now (epoch ms), ARGV[2] the cap (bytes), ARGV[3] bytes to reserve, ARGV[4] the reservation,
-- ARGV[5] when the reservation stops counting unless its export stores a file first (epoch ms)
-- Returns {1, bytes held} when reserved, {2, bytes held} when this reservation already counts (a replayed
-- request), {0, bytes held, when the first reservation stops counting} when it would pass the cap.
local now = tonumber(ARGV[1])
local total = tonumber(redis.call('HGET', KEYS[2], 'total') or '0')
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)
if #expired > 0 then
  for _, reservation in ipairs(expired) do total = total - tonumber(redis.call('HGET', KEYS[2], reservation) or '0') end
  redis.call('ZREM', KEYS[1], unpack(expired))
  redis.call('HDEL', KEYS[2], unpack(expired))
  redis.call('HSET', KEYS[2], 'total', total)
end
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return { 2, total } end
local bytes = tonumber(ARGV[3])
if total + bytes > tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return { 0, total, tonumber(first[2] or now) }
end
redis.call('ZADD', KEYS[1], ARGV[5], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[4], bytes, 'total', total + bytes)
-- Both keys live as long as their last reservation, so an idle principal leaves nothing behind.
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
redis.call('PEXPIREAT', KEYS[2], last[2])
return { 1, total + bytes }
