--[[ An operator's delete: each job that is not running loses its hash, its index entry and its place in the
  stream, among its group's parked jobs (lib/groups.lua) or in the delayed zset. A running job is left alone
  (abort it first); an unknown id is skipped.
  KEYS[1] stream (normal priority; a queued job's entry is in its priority's stream)   KEYS[2] delayed zset
  ARGV[1] queue key base   ARGV[2] group   ARGV[3] '1': only waiting jobs (queued, deferred, retrying; a drain)
  ARGV[4..] job ids
  Returns {deleted, running (left alone)}. ]]
local WAITING = { queued = true, deferred = true, retrying = true }
local base = ARGV[1]
local deleted, running = 0, 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local key = base .. 'job:' .. id
  local job = redis.call('HMGET', key, 'status', 'entry', 'dedupe', 'prio', 'group', 'group_max')
  local status = job[1]
  if status == 'in_progress' then
    running = running + 1
  elseif status and (ARGV[3] ~= '1' or WAITING[status]) then
    if status == 'queued' then leaveQueue(base, ARGV[2], id, job[2], job[4], job[5], job[6]) end
    redis.call('ZREM', KEYS[2], id)
    redis.call('DEL', key)
    releaseDedupe(job[3], id)
    indexMove(base, id, status, nil, 0)
    deleted = deleted + 1
  end
end
return {deleted, running}
