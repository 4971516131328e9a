-- wrk script: native sends to random identifiers (10 million of them), so
-- send limits never short-circuit the work.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer test-token"
wrk.headers["Content-Type"] = "application/json"

math.randomseed(os.time())

request = function()
  local phone = string.format("+1415%07d", math.random(0, 9999999))
  return wrk.format(nil, "/v1/otp/send", nil, '{"to":"' .. phone .. '"}')
end
