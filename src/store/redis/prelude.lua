-- The head of every script (prepended to each): refuse a late call, then
-- read the deployment's time. See `time.rs` for why this is safe.
-- ARGV[1]  deadline: Redis TIME in microseconds. The caller stops waiting
--          soon after it, so a call that starts at or past it changes
--          nothing and answers {-1, ms past the deadline}.
-- ARGV[2]  '1': now = TIME + the kept value; '0': now = the kept value
-- ARGV[3]  the kept value (ms) if Redis holds none, or as the caller read
--          it (on a Cluster, where the clock key is in another slot)
-- The clock key, when the caller passes it (one Redis, a kept clock), is
-- the KEYS entry each script names for it; its value wins over ARGV[3].
local time = redis.call('TIME')
local time_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
if time_us >= tonumber(ARGV[1]) then
  return { -1, math.floor((time_us - tonumber(ARGV[1])) / 1000) }
end
local function clock_now(clock_key)
  local kept = tonumber(ARGV[3])
  if clock_key then
    local stored = redis.call('GET', clock_key)
    if stored then kept = tonumber(stored) end
  end
  if ARGV[2] == '1' then
    return math.floor(time_us / 1000) + kept
  end
  return kept
end
local function int(n) return string.format('%.0f', n) end
