-- One send, decided atomically (DESIGN.md §2). Mirrors the memory store.
-- KEYS[1]  the subject's hash: field "s" = send times ("t,t,..." oldest
--          first), fields "c:<purpose>" = "id,digest,expires,purge,max,used",
--          field "h" = the latest purge time of its challenges
-- KEYS[2]  the new challenge's id index entry (same slot; see keys.rs)
-- KEYS[3]  the clock key, or absent (see the prelude)
-- ARGV     (1-3: the prelude's) 4 purpose, 5 id, 6 digest (hex), 7 ttl_ms,
--          8 purge_after_ms, 9 max_attempts, 10 cooldown_ms (-1 = none),
--          11 how long index entries outlive their challenge (ms),
--          then count,window_ms pairs
-- Returns  {-1, ms late} (prelude), {0, retry_after_ms} when limited,
--          {1, sends_remaining (-1 = unlimited)} when stored
local key = KEYS[1]
local purpose = ARGV[4]
local field = 'c:' .. purpose
local ttl, purge_after = tonumber(ARGV[7]), tonumber(ARGV[8])
local cooldown = tonumber(ARGV[10])
local index_slack = tonumber(ARGV[11])
local limits = {}
for i = 12, #ARGV, 2 do
  limits[#limits + 1] = { tonumber(ARGV[i]), tonumber(ARGV[i + 1]) }
end

-- What can still matter: sends inside the longest window (or cooldown),
-- and no more of them than the largest count.
local keep_ms, keep_n = 0, 0
for _, l in ipairs(limits) do
  keep_ms = math.max(keep_ms, l[2])
  keep_n = math.max(keep_n, l[1])
end
if cooldown >= 0 then
  keep_ms = math.max(keep_ms, cooldown)
  keep_n = math.max(keep_n, 1)
end
local stored = redis.call('HMGET', key, 's', field, 'h')
local sends = {}
if stored[1] then
  for t in string.gmatch(stored[1], '%d+') do
    t = tonumber(t)
    if t + keep_ms > now then sends[#sends + 1] = t end
  end
end
while #sends > keep_n do table.remove(sends, 1) end

-- Retry-after: when the oldest send that keeps a window full leaves it.
local wait = 0
local function hold(until_ms)
  local ms = math.max(until_ms - now, 1)
  if ms > wait then wait = ms end
end
if cooldown >= 0 and #sends > 0 and now < sends[#sends] + cooldown then
  hold(sends[#sends] + cooldown)
end
for _, l in ipairs(limits) do
  local start = 1
  while start <= #sends and sends[start] + l[2] <= now do start = start + 1 end
  local in_window = #sends - start + 1
  if in_window >= l[1] then hold(sends[start + in_window - l[1]] + l[2]) end
end
if wait > 0 then return { 0, wait } end

sends[#sends + 1] = now
while #sends > keep_n do table.remove(sends, 1) end
local remaining = -1
for _, l in ipairs(limits) do
  local used = 0
  for _, t in ipairs(sends) do
    if t + l[2] > now then used = used + 1 end
  end
  local left = math.max(l[1] - used, 0)
  if remaining < 0 or left < remaining then remaining = left end
end

-- The replaced challenge's index entry: "<prefix><id>", where the prefix
-- (the new entry's key without its id) names the subject's slot.
if stored[2] then
  local prefix = string.sub(KEYS[2], 1, #KEYS[2] - #ARGV[5])
  redis.call('DEL', prefix .. (string.match(stored[2], '^([^,]*)') or ''))
end
local purge = now + purge_after
local record = table.concat({ ARGV[5], ARGV[6], fmt('%.0f', now + ttl), fmt('%.0f', purge),
                              ARGV[9], '0' }, ',')
-- The hash lives while a send can still count or a challenge can still be
-- verified (the TTL only collects garbage; a challenge past its purge time
-- goes with the verify that finds it, or with the hash).
local horizon = math.max(tonumber(stored[3]) or 0, purge)
if #sends > 0 then
  local parts = {}
  for i, t in ipairs(sends) do parts[i] = fmt('%.0f', t) end
  redis.call('HSET', key, field, record, 'h', fmt('%.0f', horizon), 's', table.concat(parts, ','))
  horizon = math.max(horizon, sends[1] + keep_ms)
else
  redis.call('HSET', key, field, record, 'h', fmt('%.0f', horizon))
  redis.call('HDEL', key, 's')
end
redis.call('SET', KEYS[2], key .. ' ' .. purpose, 'PX', fmt('%.0f', purge_after + index_slack))
redis.call('PEXPIRE', key, fmt('%.0f', horizon - now + 60000))
return { 1, remaining }
