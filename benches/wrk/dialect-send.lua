-- wrk script: sends in the dialect named by $DIALECT to random recipients
-- (10 million of them), so send limits never short-circuit the work.
-- LoyaltyDog needs a JWT in $OTPBENCH_JWT (compare.sh fetches one).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local dialect = os.getenv("DIALECT") or "native"
local path, body

if dialect == "native" then
  wrk.headers["Authorization"] = "Bearer test-token"
  path = "/v1/otp/send"
  body = function(n) return '{"to":"+1415' .. n .. '"}' end
elseif dialect == "rees46" then
  path = "/loyalty/otp/send"
  body = function(n)
    return '{"shop_id":"test-shop","shop_secret":"test-secret","identifier":"1415' .. n .. '","event":"login"}'
  end
elseif dialect == "sigmasms" then
  wrk.headers["Authorization"] = "Bearer test-token"
  path = "/api/n/otp-handler/"
  body = function(n)
    return '{"widgetId":"123634df-ddfe-4dda-b31d-f3b4e75fc5dc","recipient":"+1415' .. n .. '"}'
  end
elseif dialect == "valify" then
  wrk.headers["Authorization"] = "Bearer test-token"
  path = "/api/v1/otp/send/"
  body = function(n)
    return '{"phone_number":"010' .. n .. '0","bundle_key":"test-bundle"}'
  end
elseif dialect == "nomado" then
  wrk.headers["Authorization"] = "Basic dGVzdDp0ZXN0"
  path = "/2fa/create"
  body = function(n)
    return '{"to":"1415' .. n .. '","template":"Your code is {{CODE}}","type":"NUMERIC","length":6}'
  end
elseif dialect == "loyaltydog" then
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("OTPBENCH_JWT") or "")
  path = "/v2/giftcards/customers/otp/send"
  body = function(n) return '{"target":"+1415' .. n .. '"}' end
else
  error("unknown DIALECT " .. dialect)
end

math.randomseed(os.time())

request = function()
  return wrk.format(nil, path, nil, body(string.format("%07d", math.random(0, 9999999))))
end
