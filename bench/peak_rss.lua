-- Peak memory of VGG16 inference in a fresh process: builds vgg16 with
-- random weights, runs one batch-1 forward and prints the process's peak
-- resident set size (VmHWM) as "key<TAB>bytes" lines for bench/bench.lua.
--
--     ./lunet bench/peak_rss.lua [threads]
local lunet = require "lunet"
local timing = require "bench.timing"

local function vmhwm_bytes()
    local text = timing.read_file("/proc/self/status") or ""
    local kb = text:match("VmHWM:%s*(%d+)%s*kB")
    if not kb then
        error("no VmHWM line in /proc/self/status", 0)
    end
    return math.tointeger(kb) * 1024
end

local threads = timing.thread_count_argument("bench/peak_rss.lua")
lunet.set_num_threads(threads)
lunet.manual_seed(0)

timing.emit("rss.baseline_bytes", vmhwm_bytes())
local ok, message = pcall(function()
    local model = require("models.vgg").vgg16()
    model:evaluate()
    model(lunet.randn(1, 3, 224, 224))
end)
if ok then
    timing.emit("rss.peak_bytes", vmhwm_bytes())
else
    timing.emit("rss.peak_bytes", "ERROR: " .. tostring(message))
end
