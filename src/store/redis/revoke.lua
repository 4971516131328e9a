-- Remove the challenge of a purpose if it still has the given id.
-- KEYS[1]  the subject's hash (see send.lua)
-- KEYS[2]  the id's index entry
-- ARGV     (1-3: the prelude's) 4 purpose, 5 id
-- Returns  {-1, ms late} (prelude), {1} when removed, {0} when a later send
--          had replaced it
local field = 'c:' .. ARGV[4]
local record = redis.call('HGET', KEYS[1], field)
if record and string.match(record, '^([^,]*)') == ARGV[5] then
  redis.call('HDEL', KEYS[1], field)
  redis.call('DEL', KEYS[2])
  return { 1 }
end
return { 0 }
