-- Shared by the bench scripts. Each wrk thread has its own Lua state: setup() numbers the
-- threads, init() loads the data files and keeps this thread's slice of the write targets
-- (the thread count comes as an argument: setup and init of different threads may interleave).
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local function lines(path)
  local out = {}
  local fh = assert(io.open(path, "r"))
  for line in fh:lines() do
    local fields = {}
    for f in line:gmatch("%S+") do table.insert(fields, f) end
    if #fields > 0 then table.insert(out, fields) end
  end
  fh:close()
  return out
end

bench = {}

-- args: tokens_file reads_file writes_file prefix write_every nthreads
function bench.init(args)
  nthreads = tonumber(args[6]) or 1
  math.randomseed(os.time() + (tid or 1) * 7919)
  bench.tokens = {}
  for _, f in ipairs(lines(args[1])) do table.insert(bench.tokens, f[1]) end
  bench.reads = args[2] ~= "-" and lines(args[2]) or {}
  bench.prefix = args[4]
  bench.write_every = tonumber(args[5]) or 0
  bench.writes, bench.next_write, bench.n = {}, 1, 0
  if args[3] ~= "-" then
    -- Disjoint slices per thread, visited round robin: a goal is patched again only long
    -- after its previous PATCH finished, so the locally incremented version stays right.
    for k, f in ipairs(lines(args[3])) do
      if (k % (nthreads or 1)) + 1 == (tid or 1) then
        table.insert(bench.writes, {plan = f[1], goal = f[2], token = tonumber(f[3]),
                                    version = tonumber(f[4])})
      end
    end
  end
end

function bench.read()
  local r = bench.reads[math.random(#bench.reads)]
  local path = bench.prefix .. r[1]
  return wrk.format("GET", path, {Authorization = "Bearer " .. bench.tokens[tonumber(r[2])]})
end

function bench.write()
  local w = bench.writes[bench.next_write]
  bench.next_write = bench.next_write % #bench.writes + 1
  local if_match = '"' .. w.version .. '"'
  w.version = w.version + 1
  bench.n = bench.n + 1
  local body = '{"title":"Goal edited by the bench ' .. bench.n .. '"}'
  return wrk.format("PATCH", "/api/v1/dps/plans/" .. w.plan .. "/goals/" .. w.goal,
    {Authorization = "Bearer " .. bench.tokens[w.token], ["If-Match"] = if_match,
     ["Content-Type"] = "application/json"}, body)
end
