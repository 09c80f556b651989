-- wrk script of make bench: requests the paths listed in a file (one per
-- line, cycled; none: the URL's path), or POSTs new URLs with "create";
-- prints one JSON line of results at the end.
local paths, n, i = {}, 0, 0
local create, id, counter = false, 0, 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  if args[1] == "create" then
    create = true
  elseif args[1] then
    for line in io.lines(args[1]) do
      n = n + 1
      paths[n] = line
    end
    i = (id or 0) * 7919 % math.max(n, 1)
  end
end

function request()
  if create then
    counter = counter + 1
    local body = string.format('{"url":"https://bench.example/new/%d/%d/%d"}', os.time(), id, counter)
    return wrk.format("POST", "/api/shorten", { ["Content-Type"] = "application/json" }, body)
  end
  if n == 0 then
    return wrk.request()
  end
  i = i + 1
  if i > n then i = 1 end
  return wrk.format(nil, paths[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
