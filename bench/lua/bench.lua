-- One script for every scenario; the mode comes from the arguments (see common.lua).
-- write_every = 0: reads only; 1: writes only; 10: one write in ten (the 90/10 mix).
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "common.lua")

local calls = 0

function init(args)
  bench.init(args)
end

function request()
  calls = calls + 1
  if bench.write_every == 1 or (bench.write_every > 1 and calls % bench.write_every == 0) then
    return bench.write()
  end
  return bench.read()
end
