-- Claims the fill of a missing or stale entry: hands back a fresh entry another process stored meanwhile,
-- or takes the fill lock so that one process in the fleet runs the handler.
-- KEYS[1] entry   KEYS[2] fill lock   KEYS[3] namespace epoch
-- ARGV[1] lock token   ARGV[2] lock TTL (ms)   ARGV[3] now (epoch ms)
-- Returns { locked (1 | 0), epoch, fresh entry or nothing }
local epoch = redis.call('GET', KEYS[3]) or '0'
local entry = redis.call('GET', KEYS[1])
if entry then
  local freshUntil = tonumber(string.match(entry, '^(%d+)\n'))
  if freshUntil and freshUntil > tonumber(ARGV[3]) then
    return { 0, epoch, entry }
  end
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return { 1, epoch }
end
return { 0, epoch }
