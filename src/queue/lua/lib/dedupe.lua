--[[ Prepended to the scripts that give a job a dedupe key (scripts.ts): the enqueue (addJobs-2) and an operator's
  retry or replay (retryJobs-2, replayDead-3). The key (`dedupe:…`, keys.ts) names the live job it resolves to; the
  job's hash names the key back in `dedupe` (mode 't' or 'd', then the key). releaseDedupe (indexes.lua) lets it
  go when the job starts (debounce) or ends. ]]

-- What a dedupe key resolves to, by mode: a throttled job until it ends, a debounced one until it starts.
local HELD = { t = { deferred = true, queued = true, in_progress = true, retrying = true }, d = { deferred = true, queued = true } }

-- A job queued again by an operator takes its dedupe key back, so the key resolves to it as it did before it
-- failed, unless the key names another job an enqueue with it would resolve to now (by this job's mode): that job
-- keeps the key, and this one runs without it (its hash still names the key; releaseDedupe then leaves it alone).
local function retakeDedupe(jobPrefix, dedupe, id)
  if not dedupe then return end
  local key = string.sub(dedupe, 2)
  local holder = redis.call('GET', key)
  if holder and holder ~= id and HELD[string.sub(dedupe, 1, 1)][redis.call('HGET', jobPrefix .. holder, 'status')] then return end
  redis.call('SET', key, id)
end
