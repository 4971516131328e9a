-- Remove the challenge of a purpose if it still has the given id.
-- KEYS[1]  the subject's hash (see send.lua)
-- ARGV     purpose, id
-- Returns  1 when removed, 0 when a later send had replaced it
local field = 'c:' .. ARGV[1]
local record = redis.call('HGET', KEYS[1], field)
if record and string.match(record, '^([^,]*)') == ARGV[2] then
  redis.call('HDEL', KEYS[1], field)
  return 1
end
return 0
