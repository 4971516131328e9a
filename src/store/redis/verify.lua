-- One verify, decided atomically (DESIGN.md §2). Mirrors the memory store.
-- KEYS[1]  by key: the subject's hash (see send.lua);
--          by id: the id's index entry ("<subject key> <purpose>")
-- KEYS[2]  the clock key, or absent (see the prelude)
-- ARGV     (1-3: the prelude's) 4 'key' or 'id';
--          5 by key: the purpose; by id: the caller's tenant prefix
--            ("NS:{tenant:"), which the subject key must start with;
--          6 by id: the id; by key: '';
--          7 candidate digest (hex);
--          8 by key: the index prefix of the subject's slot
-- Returns  {-1, ms late} (prelude), {0} not found, {1} verified (consumed),
--          {2} expired, {3, retry_after_ms} attempts exceeded,
--          {4, attempts_remaining} wrong code (one attempt used)
local key, purpose, index, expected
if ARGV[4] == 'id' then
  index = KEYS[1]
  local entry = redis.call('GET', index)
  if not entry then return { 0 } end
  local space = string.find(entry, ' ', 1, true)
  if not space then return redis.error_reply('otpbench: unreadable id index entry') end
  key, purpose = string.sub(entry, 1, space - 1), string.sub(entry, space + 1)
  if string.sub(key, 1, #ARGV[5]) ~= ARGV[5] then return { 0 } end
  expected = ARGV[6]
else
  key, purpose = KEYS[1], ARGV[5]
end
local field = 'c:' .. purpose
local record = redis.call('HGET', key, field)
if not record then return { 0 } end
local id, digest, expires, purge, max, used =
  string.match(record, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$')
if not id then return redis.error_reply('otpbench: unreadable challenge record') end
expires, purge, max, used = tonumber(expires), tonumber(purge), tonumber(max), tonumber(used)
if expected and expected ~= id then return { 0 } end
index = index or (ARGV[8] .. id)
if now >= purge then
  redis.call('HDEL', key, field)
  redis.call('DEL', index)
  return { 0 }
end
if now >= expires then return { 2 } end
if used >= max then return { 3, expires - now } end
-- Both sides are keyed hashes: equal-length hex, and learning where a
-- guess's digest first differs says nothing about the code.
if digest == ARGV[7] then
  redis.call('HDEL', key, field)
  redis.call('DEL', index)
  return { 1 }
end
used = used + 1
redis.call('HSET', key, field,
  table.concat({ id, digest, fmt('%.0f', expires), fmt('%.0f', purge), fmt('%.0f', max),
                 fmt('%.0f', used) }, ','))
return { 4, max - used }
