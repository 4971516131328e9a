-- One verify, decided atomically (DESIGN.md §2). Mirrors the memory store.
-- KEYS[1]  the subject's hash (see send.lua)
-- ARGV     now, purpose, expected id ("" = any), candidate digest (hex)
-- Returns  {0} not found, {1, id} verified (consumed), {2} expired,
--          {3, retry_after_ms} attempts exceeded, {4, attempts_remaining}
--          wrong code (one attempt used)
local key = KEYS[1]
local now = tonumber(ARGV[1])
local field = 'c:' .. ARGV[2]
local record = redis.call('HGET', key, field)
if not record then return { 0 } end
local id, digest, expires, purge, max, used =
  string.match(record, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$')
if not id then return redis.error_reply('otpbench: unreadable challenge record') end
expires, purge, max, used = tonumber(expires), tonumber(purge), tonumber(max), tonumber(used)
if ARGV[3] ~= '' and ARGV[3] ~= id then return { 0 } end
if now >= purge then
  redis.call('HDEL', key, field)
  return { 0 }
end
if now >= expires then return { 2 } end
if used >= max then return { 3, expires - now } end
-- Both sides are keyed hashes: equal-length hex, and learning where a
-- guess's digest first differs says nothing about the code.
if digest == ARGV[4] then
  redis.call('HDEL', key, field)
  return { 1, id }
end
used = used + 1
redis.call('HSET', key, field,
  table.concat({ id, digest, string.format('%.0f', expires), string.format('%.0f', purge),
                 string.format('%.0f', max), string.format('%.0f', used) }, ','))
return { 4, max - used }
