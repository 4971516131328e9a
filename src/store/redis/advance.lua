-- Move a kept clock forward.
-- KEYS[1]  the clock key
-- ARGV     (1-3: the prelude's) 4 ms to add
-- Returns  {-1, ms late} (prelude), {0, now_ms, kept value}
local kept = tonumber(redis.call('GET', KEYS[1]) or ARGV[3]) + tonumber(ARGV[4])
-- Lua numbers are doubles: beyond 2^53 they stop counting milliseconds.
if kept + math.floor(time_us / 1000) > 9007199254740991 then
  return redis.error_reply('otpbench: the clock would leave the range of exact milliseconds')
end
redis.call('SET', KEYS[1], int(kept))
return { 0, clock_now(KEYS[1]), int(kept) }
