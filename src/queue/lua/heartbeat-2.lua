--[[ A worker's heartbeat: record it as alive, and keep the leases of the attempts it still owns fresh by
  re-claiming their entries to itself (XCLAIM JUSTID resets idle time without counting a delivery), so XAUTOCLAIM
  elsewhere never steals a long job from a live worker.
  Entries are re-claimed on the stream of their job's priority.
  KEYS[1] stream (normal priority)   KEYS[2] workers zset (score: when the worker counts as gone)
  ARGV[1] group   ARGV[2] consumer   ARGV[3] job key prefix   ARGV[4] now (ms)   ARGV[5] alive until (ms)
  ARGV[6] queue key base   ARGV[7] what operators see of the worker (JSON: host, pid, running, jobs, beat)
  ARGV[8..] triples: job id, entry id, attempt
  Returns per job: 0 still ours, 1 lost (a newer attempt or an end exists), 2 abort requested. ]]
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[2])
local info = ARGV[6] .. 'worker-info'
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4], 'LIMIT', 0, 100)
if #gone > 0 then
  redis.call('HDEL', info, unpack(gone))
  redis.call('ZREM', KEYS[2], unpack(gone))
end
redis.call('HSET', info, ARGV[2], ARGV[7])
-- owned: per priority ('' normal), the entries to re-claim
local owned, states = {}, {}
for i = 8, #ARGV, 3 do
  local job = redis.call('HMGET', ARGV[3] .. ARGV[i], 'status', 'attempt', 'abort', 'prio')
  if job[1] == 'in_progress' and job[2] == ARGV[i + 2] then
    local level = job[4] or ''
    owned[level] = owned[level] or {}
    table.insert(owned[level], ARGV[i + 1])
    states[#states + 1] = job[3] and 2 or 0
  else
    states[#states + 1] = 1
  end
end
for level, entries in pairs(owned) do
  entries[#entries + 1] = 'JUSTID'
  redis.call('XCLAIM', level == '' and KEYS[1] or ARGV[6] .. 'stream:' .. level, ARGV[1], ARGV[2], 0, unpack(entries))
end
return states
