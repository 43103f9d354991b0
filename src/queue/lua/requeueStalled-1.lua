--[[ Put entries idle past the lease back in the stream: their worker died or stalled (a live worker's heartbeat
  keeps its own entries' idle time low). Each live job gets a new entry at the stream's end, which any worker with
  a free slot reads at once, so no worker holds a reclaimed job it has no slot for. The attempt count is kept: the
  lost attempt counts as a try, and startJobs-4 fails a job past its tries. Entries whose job ended, was aborted or
  re-queued under a newer entry are only acknowledged and deleted. A job of a group keeps its slot (lib/groups.lua):
  it runs next.
  Each priority's stream in turn; a job goes back to the stream it came from.
  KEYS[1] stream (normal priority; the others derive from the base)
  ARGV[1] group   ARGV[2] consumer (claims on its behalf, acknowledged at once)   ARGV[3] lease (ms, least idle)
  ARGV[4] job key prefix   ARGV[5] most entries to handle   ARGV[6] now (ms)   ARGV[7] queue key base
  A lost attempt joins the job's history with the outcome `lost`.
  Returns {entries handled, jobs re-queued}; handled = ARGV[5] means more may be idle. ]]
local limit = tonumber(ARGV[5])
local handled, requeued = 0, 0
for _, level in ipairs(LEVELS) do
  local stream, cursor = streamOf(ARGV[7], level), '0-0'
  while handled < limit do
    local claim = redis.call('XAUTOCLAIM', stream, ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', limit - handled)
    cursor = claim[1]
    for _, e in ipairs(claim[2]) do
      handled = handled + 1
      local id = e[2][2]
      local key = ARGV[4] .. id
      local job = redis.call('HMGET', key, 'status', 'entry', 'attempt', 'worker', 'started_at', 'history')
      if (job[1] == 'in_progress' or job[1] == 'queued') and job[2] == e[1] then
        local fresh = redis.call('XADD', stream, '*', 'id', id)
        redis.call('HSET', key, 'status', 'queued', 'entry', fresh)
        if job[1] == 'in_progress' then
          redis.call('HSET', key, 'history', withAttempt(job[6], job[3], job[4], job[5], ARGV[6], 'lost'))
        end
        redis.call('PUBLISH', key, redis.call('HINCRBY', key, 'rev', 1) .. ' queued')
        requeued = requeued + 1
      end
      redis.call('XACK', stream, ARGV[1], e[1])
      redis.call('XDEL', stream, e[1])
    end
    if cursor == '0-0' then break end
  end
end
return {handled, requeued}
