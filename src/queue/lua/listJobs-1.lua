--[[ A page of a status index, newest first, optionally only jobs of one name. The cursor is the last row of the
  previous page (score and id): rows of equal score come in reverse id order, so (score, id) orders them all.
  Index members whose hash expired (a job's own keep time can be shorter than the retention) are skipped.
  KEYS[1] status index
  ARGV[1] job key prefix   ARGV[2] cursor score ('+inf' for the first page)   ARGV[3] cursor id ('' none)
  ARGV[4] page size   ARGV[5] job name ('' any)   ARGV[6] most index rows to look at
  Returns {next cursor score or '', next cursor id or '', id, entered (ms), id, entered, ...}. ]]
local limit, budget = tonumber(ARGV[4]), tonumber(ARGV[6])
local max, after = ARGV[2], ARGV[3]
local rows, seen, offset = {}, 0, 0
local lastScore, lastId = '', ''
while #rows < 2 * limit and seen < budget do
  local chunk = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'WITHSCORES', 'LIMIT', offset, 100)
  if #chunk == 0 then break end
  offset = offset + #chunk / 2
  for j = 1, #chunk, 2 do
    local id, score = chunk[j], chunk[j + 1]
    -- Rows up to the cursor (its score, ids not below its id) were on earlier pages.
    if not (after ~= '' and score == ARGV[2] and id >= after) then
      seen = seen + 1
      lastScore, lastId = score, id
      local name = redis.call('HGET', ARGV[1] .. id, 'name')
      if name and (ARGV[5] == '' or name == ARGV[5]) then
        rows[#rows + 1] = id
        rows[#rows + 1] = score
        if #rows >= 2 * limit or seen >= budget then break end
      end
    end
  end
  if #chunk < 200 then
    if #rows < 2 * limit and seen < budget then lastScore, lastId = '', '' end
    break
  end
end
local reply = { lastScore, lastId }
for _, v in ipairs(rows) do reply[#reply + 1] = v end
return reply
