-- GCRA over every policy of one check, atomically: spends `cost` from all of them, or from none.
-- KEYS[i]      the i-th policy's theoretical arrival time (TAT) for the partition, epoch µs (n keys, one slot)
-- ARGV[1]      cost in units (0: look only)
-- ARGV[2i]     the i-th policy's emission interval, µs
-- ARGV[2i+1]   the i-th policy's burst tolerance, µs
-- Returns { allowed (1|0), violated policy (1-based, 0: none), retry µs, now ms, remaining_1, reset_1 µs, … }
-- The clock is Redis TIME, one for every process and host; a key lives only while its TAT is ahead of now.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local cost = tonumber(ARGV[1])
local tats = {}
local violated, retry = 0, 0
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or 0)
  if tat < now then tat = now end
  tats[i] = tat
  local over = tat + cost * tonumber(ARGV[2 * i]) - now - tonumber(ARGV[2 * i + 1])
  if over > retry then
    retry = over
    violated = i
  end
end
local reply = { violated == 0 and 1 or 0, violated, math.ceil(retry), math.floor(now / 1000) }
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i])
  local tat = tats[i]
  if violated == 0 and cost > 0 then
    tat = tat + cost * interval
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.max(1, math.ceil((tat - now) / 1000)))
  end
  reply[3 + 2 * i] = math.max(0, math.floor((tonumber(ARGV[2 * i + 1]) - (tat - now)) / interval))
  reply[4 + 2 * i] = math.ceil(tat - now)
end
return reply
