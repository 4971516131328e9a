-- The head of every script (prepended to each): refuse a late call, then
-- read the deployment's time into `now`. See `time.rs` for why this is
-- safe.
-- ARGV[1]  deadline: Redis TIME in microseconds. The caller stops waiting
--          soon after it, so a call that starts at or past it changes
--          nothing and answers {-1, ms past the deadline}.
-- ARGV[2]  how to read now: 't' TIME + ARGV[3]; 'k' ARGV[3] alone (a
--          manual clock); 'T' and 'K' alike, but with the kept value read
--          from the clock key, the last of KEYS (ARGV[3] while it is unset)
-- ARGV[3]  the kept value (ms): 0 on the server's clock; on a Cluster,
--          where the clock key lives in another slot, as the caller read it
local time = redis.call('TIME')
local time_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
if time_us >= tonumber(ARGV[1]) then
  return { -1, math.floor((time_us - tonumber(ARGV[1])) / 1000) }
end
local clock = ARGV[2]
local kept = tonumber(ARGV[3])
if clock == 'T' or clock == 'K' then
  local stored = redis.call('GET', KEYS[#KEYS])
  if stored then kept = tonumber(stored) end
end
local now = kept
if clock == 't' or clock == 'T' then now = kept + math.floor(time_us / 1000) end
-- Never past 9999-12-31T23:59:59.999Z (clock::LATEST_MS).
if now > 253402300799999 then now = 253402300799999 end
local fmt = string.format
