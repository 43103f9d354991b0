-- Puts a finished export file in place and counts it against its principal at its real size, until it expires.
-- KEYS[1] the attempt's part (absent when the export wrote nothing), KEYS[2] the file
-- KEYS[3], KEYS[4] the principal's sorted set and hash (see reserveExport-2.lua)
-- ARGV[1] the export's reservation ('' for an export nobody owns: nothing is counted), ARGV[2] when the file
-- expires (epoch ms)
-- Returns the file's size in bytes.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('RENAME', KEYS[1], KEYS[2])
else
  redis.call('SET', KEYS[2], '')
end
redis.call('PEXPIREAT', KEYS[2], ARGV[2])
local size = redis.call('STRLEN', KEYS[2])
if ARGV[1] ~= '' then
  -- 0 when the reservation was already pruned: the file is counted afresh.
  local held = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
  redis.call('HSET', KEYS[4], ARGV[1], size)
  redis.call('HINCRBY', KEYS[4], 'total', size - held)
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
  local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[3], last[2])
  redis.call('PEXPIREAT', KEYS[4], last[2])
end
return size
