--[[ Prepended to the scripts that enqueue, start, end, abort or delete jobs (scripts.ts): group concurrency. A job with a
  group (hash fields `group`, `group_max`) runs only while it holds one of the group's slots, its id in the set
  `group-running:<group>` (at most group_max ids). It takes a slot when a worker starts it, or when a slot frees
  while it is parked; it keeps the slot while it is queued again after a lost lease or a shutdown (it runs next
  either way); it gives the slot back when it ends, waits for a retry, or is aborted or deleted. A job that finds
  its group full is parked: out of the stream (a queued job without an `entry`), in `group-waiting:<group>` in
  stream order, and in `waiting` (what operators count and list). Jobs without a group touch none of this. ]]

-- Whether the job may start: it holds a slot already, or takes a free one.
local function groupAdmit(base, group, max, id)
  local running = base .. 'group-running:' .. group
  if redis.call('SADD', running, id) == 0 or redis.call('SCARD', running) <= tonumber(max) then return true end
  redis.call('SREM', running, id)
  return false
end

-- Parks a job read from the stream (its entry is acknowledged and deleted by the caller). Scored in stream order:
-- the entry's ms and sequence (sequences past 999 within one ms share a score).
local function groupPark(base, group, id, entry, now)
  local ms, seq = string.match(entry, '^(%d+)-(%d+)$')
  redis.call('ZADD', base .. 'group-waiting:' .. group, tonumber(ms) * 1000 + math.min(tonumber(seq), 999), id)
  redis.call('ZADD', base .. 'waiting', now, id)
  redis.call('HDEL', base .. 'job:' .. id, 'entry')
end

-- Gives back the slot the job holds (if any) and hands it to the group's first parked job: a new stream entry,
-- the slot taken for it at once, so no job of the group enqueued later overtakes it.
local function groupRelease(base, group, max, id)
  local running = base .. 'group-running:' .. group
  if redis.call('SREM', running, id) == 0 or redis.call('SCARD', running) >= tonumber(max) then return end
  local waiting = base .. 'group-waiting:' .. group
  while true do -- a parked job whose hash is gone is dropped
    local first = redis.call('ZPOPMIN', waiting)
    if #first == 0 then return end
    local key = base .. 'job:' .. first[1]
    redis.call('ZREM', base .. 'waiting', first[1])
    local job = redis.call('HMGET', key, 'status', 'prio')
    if job[1] == 'queued' then
      redis.call('SADD', running, first[1])
      redis.call('HSET', key, 'entry', redis.call('XADD', streamOf(base, job[2]), '*', 'id', first[1]))
      return
    end
  end
end

-- A queued job of a group stops waiting to run (aborted, deleted, debounced back to deferred): its place among
-- the parked goes, or the slot it held passes on.
local function groupLeave(base, group, max, id)
  if redis.call('ZREM', base .. 'group-waiting:' .. group, id) == 1 then
    redis.call('ZREM', base .. 'waiting', id)
  else
    groupRelease(base, group, max, id)
  end
end

-- A queued job leaves for good (aborted, deleted): its entry in its priority's stream (a parked job has none) and
-- its group's hold.
local function leaveQueue(base, consumerGroup, id, entry, prio, group, max)
  if entry then
    redis.call('XACK', streamOf(base, prio), consumerGroup, entry)
    redis.call('XDEL', streamOf(base, prio), entry)
  end
  if group then groupLeave(base, group, max, id) end
end
