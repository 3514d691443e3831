-- wrk script: the purchase POST of the pass-through POST rows (a form body
-- of qty=1, as the demo shop's buy form sends), optionally pipelined
-- DEPTH deep like pipeline.lua.
local depth = tonumber(os.getenv("PIPELINE") or "1")
init = function(args)
  local r = {}
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  for i = 1, depth do r[i] = wrk.format("POST", nil, headers, "qty=1") end
  req = table.concat(r)
end
request = function() return req end
