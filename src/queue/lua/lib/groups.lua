--[[ Prepended to the scripts that enqueue, start, end, abort or delete jobs (scripts.ts): group concurrency. A job with a
  group (hash fields `group`, `group_max`) runs only while it holds one of the group's slots, its id in the set
  `group-running:<group>` (at most group_max ids). It takes a slot when a worker starts it, or when a slot frees
  while it is parked; it keeps the slot while it is queued again after a lost lease or a shutdown (it runs next
  either way); it gives the slot back when it ends, waits for a retry, or is aborted or deleted. A job that finds
  its group full is parked: out of the stream (a queued job without an `entry`), in its priority's waiting line
  `group-waiting[-high|-low]:<group>` in stream order, and in `waiting` (what operators count and list). A freed
  slot goes to the first job of the line the group's own priority cycle picks (groupNext). Jobs without a group
  touch none of this. ]]

-- The group's waiting line of a priority (keys.ts groupWaiting): normal's keeps the name it had before priorities.
local function groupLine(base, group, prio)
  if prio == 'high' or prio == 'low' then return base .. 'group-waiting-' .. prio .. ':' .. group end
  return base .. 'group-waiting:' .. group
end

-- Whether the job may start: it holds a slot already, or takes a free one.
local function groupAdmit(base, group, max, id)
  local running = base .. 'group-running:' .. group
  if redis.call('SADD', running, id) == 0 or redis.call('SCARD', running) <= tonumber(max) then return true end
  redis.call('SREM', running, id)
  return false
end

-- Parks a job read from the stream of level `prio` (its entry is acknowledged and deleted by the caller) in that
-- level's line, scored in stream order:
-- the entry's ms and sequence (sequences past 999 within one ms share a score).
local function groupPark(base, group, id, entry, prio, now)
  local ms, seq = string.match(entry, '^(%d+)-(%d+)$')
  redis.call('ZADD', groupLine(base, group, prio), tonumber(ms) * 1000 + math.min(tonumber(seq), 999), id)
  redis.call('ZADD', base .. 'waiting', now, id)
  redis.call('HDEL', base .. 'job:' .. id, 'entry')
end

-- Takes the group's next parked job off its line: the queue's cycle (indexes.lua PICK, 4 high : 2 normal : 1 low)
-- with the group's own place in it (`group-turn:<group>`), a turn of an empty line going to the highest line with
-- jobs, as readNew does. So while every line has jobs, a low one waits at most 6 hand-offs for each low one ahead
-- of it. The place is kept only while jobs wait: the group's last parked job takes its key along.
local function groupNext(base, group)
  local sizes, total = {}, 0
  for _, level in ipairs(LEVELS) do
    sizes[level] = redis.call('ZCARD', groupLine(base, group, level))
    total = total + sizes[level]
  end
  if total == 0 then return nil end
  local turnKey = base .. 'group-turn:' .. group
  local turn = tonumber(redis.call('GET', turnKey) or '0')
  local level = PICK[turn % 7 + 1]
  if sizes[level] == 0 then
    for _, other in ipairs(LEVELS) do
      if sizes[other] > 0 then level = other break end
    end
  end
  if total > 1 then redis.call('SET', turnKey, (turn + 1) % 7) else redis.call('DEL', turnKey) end
  return redis.call('ZPOPMIN', groupLine(base, group, level))[1]
end

-- Gives back the slot the job holds (if any) and hands it to the group's next parked job (groupNext): a new stream
-- entry, the slot taken for it at once, so no job of the group enqueued later overtakes it.
local function groupRelease(base, group, max, id)
  local running = base .. 'group-running:' .. group
  if redis.call('SREM', running, id) == 0 or redis.call('SCARD', running) >= tonumber(max) then return end
  while true do -- a parked job whose hash is gone is dropped
    local parked = groupNext(base, group)
    if not parked then return end
    local key = base .. 'job:' .. parked
    redis.call('ZREM', base .. 'waiting', parked)
    local job = redis.call('HMGET', key, 'status', 'prio')
    if job[1] == 'queued' then
      redis.call('SADD', running, parked)
      redis.call('HSET', key, 'entry', redis.call('XADD', streamOf(base, job[2]), '*', 'id', parked))
      return
    end
  end
end

-- A queued job of a group stops waiting to run (aborted, deleted, debounced back to deferred): its place among
-- the parked goes, or the slot it held passes on.
local function groupLeave(base, group, max, id, prio)
  if redis.call('ZREM', groupLine(base, group, prio), id) == 1 then
    redis.call('ZREM', base .. 'waiting', id)
    if redis.call('EXISTS', groupLine(base, group, 'high'), groupLine(base, group, 'normal'), groupLine(base, group, 'low')) == 0 then
      redis.call('DEL', base .. 'group-turn:' .. group)
    end
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
  if group then groupLeave(base, group, max, id, prio) end
end
