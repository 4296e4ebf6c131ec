-- Shared by every scenario: the bearer token, ids read from a file, and a summary with the
-- percentiles wrk does not print by default (p99.9), as one JSON line.
local M = {}

function M.lines(path)
  local out = {}
  local f = io.open(path, "r")
  if f then
    for line in f:lines() do
      if #line > 0 then out[#out + 1] = line end
    end
    f:close()
  end
  return out
end

function M.done(name)
  return function(summary, latency, requests)
    local errors = summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout
    io.write(string.format(
      '{"op": "%s", "requests": %d, "per_second": %.0f, "p50_ms": %.3f, "p99_ms": %.3f, "p999_ms": %.3f, "errors": %d}\n',
      name, summary.requests, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, errors))
  end
end

return M
