--[[ Enqueue one job: dedupe by id when it derives from an idempotency key, then create its hash and either
  append it to the stream (queued) or schedule it (deferred).
  KEYS[1] stream   KEYS[2] delayed zset   KEYS[3] job hash
  ARGV[1] job id   ARGV[2] name   ARGV[3] payload JSON   ARGV[4] max tries   ARGV[5] now (ms)
  ARGV[6] run at (ms, 0 = now)   ARGV[7] '1' when the id derives from an idempotency key   ARGV[8] keep result (s)
  Returns {1, status} when created, {0, status} for the same job again, {-1, status} for a conflicting payload. ]]
if ARGV[7] == '1' then
  local existing = redis.call('HMGET', KEYS[3], 'name', 'payload', 'status')
  if existing[3] then
    if existing[1] == ARGV[2] and existing[2] == ARGV[3] then return {0, existing[3]} end
    return {-1, existing[3]}
  end
end
local runAt = tonumber(ARGV[6])
if runAt > tonumber(ARGV[5]) then
  redis.call('HSET', KEYS[3], 'name', ARGV[2], 'payload', ARGV[3], 'status', 'deferred', 'attempt', 0,
    'max_tries', ARGV[4], 'keep_s', ARGV[8], 'enqueued_at', ARGV[5], 'scheduled_for', ARGV[6], 'rev', 1)
  redis.call('ZADD', KEYS[2], runAt, ARGV[1])
  return {1, 'deferred'}
end
local entry = redis.call('XADD', KEYS[1], '*', 'id', ARGV[1])
redis.call('HSET', KEYS[3], 'name', ARGV[2], 'payload', ARGV[3], 'status', 'queued', 'attempt', 0,
  'max_tries', ARGV[4], 'keep_s', ARGV[8], 'enqueued_at', ARGV[5], 'entry', entry, 'rev', 1)
return {1, 'queued'}
