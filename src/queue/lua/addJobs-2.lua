--[[ Enqueue the jobs producers asked for during one event-loop turn. Per job: dedupe by id when it derives from
  an idempotency key, then create its hash and either append it to the stream (queued) or schedule it (deferred).
  KEYS[1] stream   KEYS[2] delayed zset
  ARGV[1] job key prefix   ARGV[2] now (ms)
  ARGV[3..] septuples: job id, name, payload JSON, max tries, run at (ms, 0 = now), '1' when the id derives
    from an idempotency key, keep result (s)
  Returns per job two items: 1 created, 0 the same job again, -1 a conflicting payload; and its status. ]]
local replies = {}
for i = 3, #ARGV, 7 do
  local id, name, payload, maxTries, runAt, keep = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 6]
  local key = ARGV[1] .. id
  local existing = ARGV[i + 5] == '1' and redis.call('HMGET', key, 'name', 'payload', 'status') or {}
  if existing[3] then
    replies[#replies + 1] = (existing[1] == name and existing[2] == payload) and 0 or -1
    replies[#replies + 1] = existing[3]
  elseif runAt > tonumber(ARGV[2]) then
    redis.call('HSET', key, 'name', name, 'payload', payload, 'status', 'deferred', 'attempt', 0,
      'max_tries', maxTries, 'keep_s', keep, 'enqueued_at', ARGV[2], 'scheduled_for', runAt)
    redis.call('ZADD', KEYS[2], runAt, id)
    replies[#replies + 1] = 1
    replies[#replies + 1] = 'deferred'
  else
    local entry = redis.call('XADD', KEYS[1], '*', 'id', id)
    redis.call('HSET', key, 'name', name, 'payload', payload, 'status', 'queued', 'attempt', 0,
      'max_tries', maxTries, 'keep_s', keep, 'enqueued_at', ARGV[2], 'entry', entry)
    replies[#replies + 1] = 1
    replies[#replies + 1] = 'queued'
  end
end
return replies
