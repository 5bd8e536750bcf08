-- wrk script for scripts/bench-oidc: refresh-token chains. Run with -t N -c N
-- so each thread owns one connection and one chain: every response's new
-- refresh token is the one sent next (rotation). Reads N tokens, one a line,
-- from $BENCH_TOKENS; posts to $BENCH_TOKEN_PATH with $BENCH_AUTH.
local threads = {}
local tokens = nil
local count = 0

function setup(thread)
  if tokens == nil then
    tokens = {}
    for line in io.lines(os.getenv("BENCH_TOKENS")) do
      if #line > 0 then table.insert(tokens, line) end
    end
  end
  count = count + 1
  thread:set("token", tokens[(count - 1) % #tokens + 1])
  table.insert(threads, thread)
end

local path, auth

function init(args)
  path = os.getenv("BENCH_TOKEN_PATH")
  auth = os.getenv("BENCH_AUTH")
  rotated = 0   -- 200 with a new refresh token
  same = 0      -- 200 whose refresh token equals the one sent (no rotation)
  failed = 0    -- anything else
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = auth,
    ["Accept"] = "application/json",
  }, "grant_type=refresh_token&refresh_token=" .. urlencode(token))
end

function response(status, headers, body)
  if status == 200 then
    local t = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if t == nil then
      failed = failed + 1
    elseif t == token then
      same = same + 1
    else
      token = t
      rotated = rotated + 1
    end
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local r, s, f = 0, 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("rotated"); s = s + t:get("same"); f = f + t:get("failed")
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"ok":%d,"not_rotated":%d,"failed":%d,"errors_status":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, r, s, f,
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
