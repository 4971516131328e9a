-- wrk script: SMS messages to the mock provider, random recipients.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time())
request = function()
  local to = string.format("+1415%07d", math.random(0, 9999999))
  return wrk.format(nil, "/v1/messages", nil,
    '{"channel":"sms","to":"' .. to .. '","text":"Your code is 123456"}')
end
