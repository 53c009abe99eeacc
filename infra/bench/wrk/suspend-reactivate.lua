-- wrk script: suspend + reactivate pairs over a pool of keys.
-- Environment: KEYGATE_KEY (a full-access key), KEYGATE_IDS (comma-separated
-- key ids of the same organization). Request 2k suspends a key, 2k+1
-- reactivates it; each pair uses the next key of the pool, so concurrent
-- connections rarely touch the same key. Both answers are 200 (a no-op
-- transition is 200 too), so any non-2xx wrk reports is a real failure.
local ids = {}
for id in string.gmatch(os.getenv("KEYGATE_IDS") or "", "[^,]+") do
  ids[#ids + 1] = id
end
local headers = {
  ["x-api-key"] = os.getenv("KEYGATE_KEY") or "",
  ["content-type"] = "application/json",
}

local threads = 0
function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local n = 0
function request()
  local i = n
  n = n + 1
  local pair = math.floor(i / 2)
  local id = ids[((thread_index or 0) * 17 + pair) % #ids + 1]
  local action = (i % 2 == 0) and "suspend" or "reactivate"
  return wrk.format("POST", "/v1/api-keys/" .. id .. "/" .. action, headers, "{}")
end
