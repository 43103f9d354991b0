--[[ Claim an Idempotency-Key for a request, or say why not. A first request creates the record (its fingerprint,
  a fresh operation id, a lease) and runs; a retry of a request that finished gets the stored response; a retry
  while the lease runs is told to wait; a retry after the lease lapsed (its first request died, or failed and
  released it) takes the lease over and runs again under the SAME operation id, so its writes land on the same
  ids. Deadline-guarded (src/redis/guard.ts): nothing is claimed once the request has answered 503.
  KEYS[1] record hash (fields: fp, id, lease (ms, Redis clock), status, headers, body)
  ARGV[1] deadline (the guard's)   ARGV[2] request fingerprint   ARGV[3] operation id for a new record
  ARGV[4] lease (ms)   ARGV[5] record TTL (s)
  Returns {'run', id} | {'done', status, headers JSON, body} | {'running', ms left} | {'mismatch'}. ]]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local record = redis.call('HMGET', KEYS[1], 'fp', 'id', 'lease', 'status', 'headers', 'body')
if not record[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[2], 'id', ARGV[3], 'lease', now + tonumber(ARGV[4]))
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return { 'run', ARGV[3] }
end
if record[1] ~= ARGV[2] then return { 'mismatch' } end
if record[4] then return { 'done', record[4], record[5], record[6] } end
local left = tonumber(record[3]) - now
if left > 0 then return { 'running', tostring(left) } end
redis.call('HSET', KEYS[1], 'lease', now + tonumber(ARGV[4]))
return { 'run', record[2] }
