--[[ Enqueue the jobs producers asked for during one event-loop turn. Nothing at all when the call arrives past
  its deadline: by then its callers have answered 503 "not applied", so the jobs must not run later. Per job:
  return the existing job when it is the same job again (by its id, or by an idempotency-key index naming an id);
  else resolve it to the live job its dedupe key names (lib/dedupe.lua, HELD; throttle: as it is; debounce: with the
  new payload and a later start); else create its hash and either append it to the stream (queued) or schedule it (deferred).
  KEYS[1] stream (normal priority; a job of another priority goes to its own, indexes.lua streamOf)
  KEYS[2] delayed zset
  ARGV[1] job key prefix   ARGV[2] now (ms, the producer's clock: enqueued_at)   ARGV[3] deadline (ms, compared
    with Redis's clock)   ARGV[4] queue key base (status indexes)
  ARGV[5..] 13-tuples: job id, name, payload JSON, max tries, run at (ms, 0 = now), same ('' none, '=' by the
    job id, else the key of the idempotency index), keep result (s), owner ('' none), dedupe key ('' none),
    dedupe mode ('t' throttle, 'd' debounce, 'd<ms>' debounce whose start waits at most <ms> after the job's
    first enqueue), priority ('' normal, 'high', 'low'), group ('' none), the group's concurrency (lib/groups.lua)
  Returns -1 past the deadline (nothing written), else per job three items: 1 created, 0 the same job again,
  -1 a conflicting payload, 2 throttled, 3 debounced; its status; its id. ]]
local clock = redis.call('TIME')
if tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) > tonumber(ARGV[3]) then return -1 end
local now = tonumber(ARGV[2])
local replies = {}
for i = 5, #ARGV, 13 do
  local id, name, payload, maxTries, runAt, same, keep, owner = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local guard, mode, prio, group = ARGV[i + 8], ARGV[i + 9], ARGV[i + 10], ARGV[i + 11]
  local indexed = same ~= '' and same ~= '='
  local known = indexed and redis.call('GET', same)
  if known then id = known end
  local key = ARGV[1] .. id
  local existing = same ~= '' and redis.call('HMGET', key, 'name', 'payload', 'status', 'owner') or {}
  local holder = not existing[3] and guard ~= '' and redis.call('GET', guard)
  local held = holder and redis.call('HMGET', ARGV[1] .. holder, 'status', 'enqueued_at', 'entry', 'prio', 'group', 'group_max')
  if existing[3] then
    replies[#replies + 1] = (existing[1] == name and existing[2] == payload and (existing[4] or '') == owner) and 0 or -1
    replies[#replies + 1] = existing[3]
  elseif held and HELD[string.sub(mode, 1, 1)][held[1]] then
    id = holder
    local status = held[1]
    if mode == 't' then
      replies[#replies + 1] = 2
    else
      -- Debounce: the new payload, and the start pushed back to this enqueue's, capped by the first enqueue's wait.
      key = ARGV[1] .. id
      local cap = tonumber(string.sub(mode, 2))
      local due = cap and math.min(runAt, tonumber(held[2]) + cap) or runAt
      redis.call('HSET', key, 'payload', payload)
      if due > now then
        if status == 'queued' then
          -- Not started yet (startJobs-4 skips an entry its job no longer names): back to waiting for its time,
          -- out of its group's parked jobs or slot (lib/groups.lua).
          if held[3] then redis.call('XDEL', streamOf(ARGV[4], held[4]), held[3]) end
          if held[5] then groupLeave(ARGV[4], held[5], held[6], id, held[4]) end
          redis.call('HDEL', key, 'entry')
          indexMove(ARGV[4], id, status, 'deferred', now)
          status = 'deferred'
          redis.call('HSET', key, 'status', status)
          redis.call('PUBLISH', key, redis.call('HINCRBY', key, 'rev', 1) .. ' deferred')
        end
        redis.call('HSET', key, 'scheduled_for', due)
        redis.call('ZADD', KEYS[2], due, id)
      elseif status == 'deferred' then
        -- The cap has passed: due now, promoted with the next due jobs.
        redis.call('HSET', key, 'scheduled_for', now)
        redis.call('ZADD', KEYS[2], now, id)
      end
      replies[#replies + 1] = 3
    end
    replies[#replies + 1] = status
  else
    -- An index naming a job that expired: a new job, under the new random id.
    if known then id = ARGV[i]; key = ARGV[1] .. id end
    local status = 'queued'
    if runAt > now then
      status = 'deferred'
      redis.call('HSET', key, 'name', name, 'payload', payload, 'status', status, 'attempt', 0,
        'max_tries', maxTries, 'keep_s', keep, 'enqueued_at', ARGV[2], 'scheduled_for', runAt)
      redis.call('ZADD', KEYS[2], runAt, id)
    else
      local entry = redis.call('XADD', streamOf(ARGV[4], prio), '*', 'id', id)
      redis.call('HSET', key, 'name', name, 'payload', payload, 'status', status, 'attempt', 0,
        'max_tries', maxTries, 'keep_s', keep, 'enqueued_at', ARGV[2], 'entry', entry)
    end
    indexMove(ARGV[4], id, nil, status, ARGV[2])
    if owner ~= '' then redis.call('HSET', key, 'owner', owner) end
    if prio ~= '' then redis.call('HSET', key, 'prio', prio) end
    if group ~= '' then redis.call('HSET', key, 'group', group, 'group_max', ARGV[i + 12]) end
    -- The key is remembered while the job can be: until it is due, then as long as its result is kept.
    if indexed then redis.call('SET', same, id, 'EX', keep + math.ceil(math.max(0, runAt - now) / 1000)) end
    -- The dedupe key names the job until releaseDedupe (indexes.lua) lets it go; the job remembers the key.
    if guard ~= '' then
      redis.call('SET', guard, id)
      redis.call('HSET', key, 'dedupe', string.sub(mode, 1, 1) .. guard)
    end
    replies[#replies + 1] = 1
    replies[#replies + 1] = status
  end
  replies[#replies + 1] = id
end
return replies
