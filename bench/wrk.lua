-- One request shape per wrk run, configured by environment variables (bench/production.py):
--   BENCH_METHOD  GET | POST                  BENCH_TOKEN  bearer token (optional)
--   BENCH_PATH    path, "{item}" replaced      BENCH_BODY   JSON body, "{item}" replaced
--   BENCH_ITEMS   file with one item a line    BENCH_THREADS  wrk -t (each thread walks
--                 its own share of the items, round robin, so concurrent requests name
--                 different samples)
-- done() prints one JSON line: requests, seconds, non-2xx, errors, p50/p99 in ms.
local method = os.getenv("BENCH_METHOD") or "GET"
local path_t = os.getenv("BENCH_PATH") or "/"
local body_t = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local items = {}
local file = os.getenv("BENCH_ITEMS")
if file and file ~= "" then
  for line in io.lines(file) do items[#items + 1] = line end
end

local made = 0
function setup(thread)
  made = made + 1
  thread:set("tid", made)
end

local idx
local headers = {["Content-Type"] = "application/json"}
if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end

function init(args)
  idx = (tid or 1) - 1
end

function request()
  local item = ""
  if #items > 0 then
    item = items[(idx % #items) + 1]
    idx = idx + nthreads
  end
  local path = string.gsub(path_t, "{item}", item)
  local body = nil
  if body_t and body_t ~= "" then body = string.gsub(body_t, "{item}", item) end
  return wrk.format(method, path, headers, body)
end

local bad = 0
function response(status, hdrs, body)
  if status >= 300 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "non2xx": %d, "errors": %d, "p50": %.3f, "p99": %.3f}\n',
    summary.requests, summary.duration / 1e6, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
