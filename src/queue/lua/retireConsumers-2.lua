--[[ Remove consumers that are gone from the group: the one leaving now (graceful stop) and any idle past a bound
  (a crashed or stopped worker). Only consumers with nothing pending go: XGROUP DELCONSUMER drops a consumer's
  pending entries, and those must stay for XAUTOCLAIM. A live worker idle that long may go too; its next delivery
  (even to a read already blocked) creates it again. Without this, every restart would leave a consumer behind,
  and XPENDING (in each settle) walks them all.
  A consumer goes from each priority's stream where it has nothing pending.
  KEYS[1] stream (normal priority)   KEYS[2] workers zset
  ARGV[1] group   ARGV[2] idle bound (ms)   ARGV[3] consumer leaving now ('' for none)   ARGV[4] queue key base
  Returns the number of consumers removed. ]]
if ARGV[3] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('HDEL', ARGV[4] .. 'worker-info', ARGV[3])
end
local removed = 0
for _, stream in ipairs({ ARGV[4] .. 'stream:high', KEYS[1], ARGV[4] .. 'stream:low' }) do
  -- A stream (or its group) not created yet has no consumers.
  local consumers = redis.pcall('XINFO', 'CONSUMERS', stream, ARGV[1])
  if not consumers.err then
    for _, consumer in ipairs(consumers) do
      local info = {}
      for i = 1, #consumer, 2 do info[consumer[i]] = consumer[i + 1] end
      if info.pending == 0 and (info.name == ARGV[3] or info.idle >= tonumber(ARGV[2])) then
        redis.call('XGROUP', 'DELCONSUMER', stream, ARGV[1], info.name)
        removed = removed + 1
      end
    end
  end
end
return removed
