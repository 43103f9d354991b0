--[[ Remove consumers that are gone from the group: the one leaving now (graceful stop) and any idle past a bound
  (a crashed or stopped worker). Only consumers with nothing pending go: XGROUP DELCONSUMER drops a consumer's
  pending entries, and those must stay for XAUTOCLAIM. A live worker idle that long may go too; its next delivery
  (even to a read already blocked) creates it again. Without this, every restart would leave a consumer behind,
  and XPENDING (in each settle) walks them all.
  KEYS[1] stream   KEYS[2] workers zset
  ARGV[1] group   ARGV[2] idle bound (ms)   ARGV[3] consumer leaving now ('' for none)   ARGV[4] queue key base
  Returns the number of consumers removed. ]]
if ARGV[3] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('HDEL', ARGV[4] .. 'worker-info', ARGV[3])
end
local removed = 0
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #consumer, 2 do info[consumer[i]] = consumer[i + 1] end
  if info.pending == 0 and (info.name == ARGV[3] or info.idle >= tonumber(ARGV[2])) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info.name)
    removed = removed + 1
  end
end
return removed
