--[[ Re-enqueue the oldest dead letters as fresh jobs (attempt 0) under their old ids, and drop them from the
  dead-letter stream. A dead letter whose job has since been re-run is dropped without a replay.
  A job keeps the traits its record names, or once the record expired takes them back from its letter
  (indexes.lua, letterTraits): it runs at its priority, in its group (lib/groups.lua admits it as it starts), and
  takes back its dedupe key unless another live job holds it (lib/dedupe.lua, retakeDedupe).
  KEYS[1] dead-letter stream   KEYS[2] stream (normal priority)   KEYS[3] stats hash
  ARGV[1] job key prefix   ARGV[2] now (ms)   ARGV[3] most to replay   ARGV[4] queue key base
  ARGV[5] the newest letter to replay ('+': any)
  Returns the number replayed. ]]
local letters = redis.call('XRANGE', KEYS[1], '-', ARGV[5], 'COUNT', ARGV[3])
local replayed = 0
for _, letter in ipairs(letters) do
  local f = {}
  for i = 1, #letter[2], 2 do f[letter[2][i]] = letter[2][i + 1] end
  local key = ARGV[1] .. f.id
  local job = redis.call('HMGET', key, 'status', 'prio', 'dedupe')
  local status = job[1]
  if not status or status == 'failed' then
    local prio, dedupe = job[2], job[3]
    if not status then
      prio, dedupe = f.prio, f.dedupe
      local traits = {}
      for _, field in ipairs(LETTER_TRAITS) do
        if f[field] then traits[#traits + 1], traits[#traits + 2] = field, f[field] end
      end
      if #traits > 0 then redis.call('HSET', key, unpack(traits)) end
    end
    local entry = redis.call('XADD', streamOf(ARGV[4], prio), '*', 'id', f.id)
    redis.call('HDEL', key, 'error', 'result', 'finished_at', 'started_at', 'worker', 'progress', 'abort', 'scheduled_for', 'letter', 'stack')
    redis.call('HSET', key, 'name', f.name, 'payload', f.payload, 'status', 'queued', 'attempt', 0,
      'max_tries', f.max_tries, 'keep_s', f.keep_s, 'enqueued_at', ARGV[2], 'entry', entry)
    redis.call('PERSIST', key)
    indexMove(ARGV[4], f.id, status, 'queued', ARGV[2])
    retakeDedupe(ARGV[1], dedupe, f.id)
    redis.call('PUBLISH', key, redis.call('HINCRBY', key, 'rev', 1) .. ' queued')
    redis.call('HINCRBY', KEYS[3], 'replayed', 1)
    replayed = replayed + 1
  end
  redis.call('XDEL', KEYS[1], letter[1])
end
return replayed
