-- Move a kept clock forward.
-- KEYS[1]  the clock key (also last of KEYS: see the prelude)
-- ARGV     (1-3: the prelude's) 4 ms to add
-- Returns  {-1, ms late} (prelude), {0, now_ms, kept value}
-- Read again here: on a Cluster the prelude's copy was read before the call.
local current = redis.call('GET', KEYS[1])
current = current and tonumber(current) or kept
local moved = current + tonumber(ARGV[4])
-- Lua numbers are doubles: beyond 2^53 they stop counting milliseconds.
if moved + math.floor(time_us / 1000) > 9007199254740991 then
  return redis.error_reply('otpbench: the clock would leave the range of exact milliseconds')
end
redis.call('SET', KEYS[1], fmt('%.0f', moved))
return { 0, now - kept + moved, fmt('%.0f', moved) }
