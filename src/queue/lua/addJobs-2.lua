--[[ Enqueue the jobs producers asked for during one event-loop turn. Nothing at all when the call arrives past
  its deadline: by then its callers have answered 503 "not applied", so the jobs must not run later. Per job:
  return the existing job when it dedupes (by its id, or by an idempotency-key index naming an id); else create
  its hash and either append it to the stream (queued) or schedule it (deferred).
  KEYS[1] stream   KEYS[2] delayed zset
  ARGV[1] job key prefix   ARGV[2] now (ms, the producer's clock: enqueued_at)   ARGV[3] deadline (ms, compared
    with Redis's clock)   ARGV[4] queue key base (status indexes)
  ARGV[5..] octuples: job id, name, payload JSON, max tries, run at (ms, 0 = now), dedupe ('' none, '=' by the
    job id, else the key of the idempotency index), keep result (s), owner ('' none)
  Returns -1 past the deadline (nothing written), else per job three items: 1 created, 0 the same job again,
  -1 a conflicting payload; its status; its id. ]]
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > tonumber(ARGV[3]) then return -1 end
local replies = {}
for i = 5, #ARGV, 8 do
  local id, name, payload, maxTries, runAt, dedupe, keep, owner = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local indexed = dedupe ~= '' and dedupe ~= '='
  local known = indexed and redis.call('GET', dedupe)
  if known then id = known end
  local key = ARGV[1] .. id
  local existing = dedupe ~= '' and redis.call('HMGET', key, 'name', 'payload', 'status', 'owner') or {}
  if existing[3] then
    replies[#replies + 1] = (existing[1] == name and existing[2] == payload and (existing[4] or '') == owner) and 0 or -1
    replies[#replies + 1] = existing[3]
  else
    -- An index naming a job that expired: a new job, under the new random id.
    if known then id = ARGV[i]; key = ARGV[1] .. id end
    local status = 'queued'
    if runAt > tonumber(ARGV[2]) then
      status = 'deferred'
      redis.call('HSET', key, 'name', name, 'payload', payload, 'status', status, 'attempt', 0,
        'max_tries', maxTries, 'keep_s', keep, 'enqueued_at', ARGV[2], 'scheduled_for', runAt)
      redis.call('ZADD', KEYS[2], runAt, id)
    else
      local entry = redis.call('XADD', KEYS[1], '*', 'id', id)
      redis.call('HSET', key, 'name', name, 'payload', payload, 'status', status, 'attempt', 0,
        'max_tries', maxTries, 'keep_s', keep, 'enqueued_at', ARGV[2], 'entry', entry)
    end
    indexMove(ARGV[4], id, nil, status, ARGV[2])
    if owner ~= '' then redis.call('HSET', key, 'owner', owner) end
    -- The key is remembered while the job can be: until it is due, then as long as its result is kept.
    if indexed then redis.call('SET', dedupe, id, 'EX', keep + math.ceil(math.max(0, runAt - tonumber(ARGV[2])) / 1000)) end
    replies[#replies + 1] = 1
    replies[#replies + 1] = status
  end
  replies[#replies + 1] = id
end
return replies
