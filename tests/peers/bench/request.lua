-- wrk script for scripts/bench-oidc: one fixed request, sent again and again
-- (userinfo with a bearer token, introspection of an access token).
-- $BENCH_METHOD, $BENCH_PATH, $BENCH_BODY (may be empty), $BENCH_HEADERS
-- ("Name: value" lines); a response counts as ok when it is a 200 whose body
-- contains $BENCH_EXPECT (so an error answered with 200 is not counted).
local method, path, body, headers, expect

function init(args)
  method = os.getenv("BENCH_METHOD") or "GET"
  path = os.getenv("BENCH_PATH")
  body = os.getenv("BENCH_BODY") or ""
  if body == "" then body = nil end
  expect = os.getenv("BENCH_EXPECT") or ""
  headers = {}
  for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then headers[k] = v end
  end
  ok = 0
  failed = 0
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function request()
  return wrk.format(method, path, headers, body)
end

function response(status, hdrs, resp)
  if status == 200 and resp:find(expect, 1, true) then
    ok = ok + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local o, f = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); f = f + t:get("failed")
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"ok":%d,"failed":%d,"errors_status":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, o, f,
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
