--- Timing and result output shared by the lunet side of the bench.
--
-- Every workload is timed the same way, here and in bench/peer_torch.py:
-- `warmup` untimed calls, then `samples` timed blocks of `inner` calls each,
-- where `inner` is chosen from the last warm-up call so that one block lasts
-- at least `min_block` seconds. Batching short calls this way hides the
-- clock's resolution and the loop overhead. The result is the median of the
-- blocks' per-call times, in seconds.
local lunet = require "lunet"

local timing = {}

local function median(values)
    local sorted = {}
    for i, v in ipairs(values) do
        sorted[i] = v
    end
    table.sort(sorted)
    local n = #sorted
    if n % 2 == 1 then
        return sorted[(n + 1) // 2]
    end
    return (sorted[n // 2] + sorted[n // 2 + 1]) / 2
end
timing.median = median

--- Returns the median seconds per call of fn, with options `warmup` (2),
-- `samples` (9) and `min_block` (0.02 seconds). The fastest block's
-- seconds per call are left in timing.last_fastest.
function timing.measure(fn, options)
    options = options or {}
    local warmup = options.warmup or 2
    local samples = options.samples or 9
    local min_block = options.min_block or 0.02

    local once = math.huge
    for _ = 1, math.max(1, warmup) do
        local start = lunet.time()
        fn()
        once = lunet.time() - start
    end
    local inner = math.max(1, math.ceil(min_block / math.max(once, 1e-9)))

    local per_call = {}
    for s = 1, samples do
        local start = lunet.time()
        for _ = 1, inner do
            fn()
        end
        per_call[s] = (lunet.time() - start) / inner
    end
    timing.last_fastest = math.min(table.unpack(per_call))
    return median(per_call)
end

--- Prints one "key<TAB>value" result line on stdout, where bench/bench.lua
-- reads it. Tabs and newlines inside value become spaces.
function timing.emit(key, value)
    local text = tostring(value):gsub("[\t\r\n]+", " ")
    io.stdout:write(key, "\t", text, "\n")
    io.stdout:flush()
end

--- Returns the whole text of the file at path, or nil when it cannot be read.
function timing.read_file(path)
    local file = io.open(path, "r")
    if not file then
        return nil
    end
    local text = file:read("a")
    file:close()
    return text
end

--- Returns CPU time counters in clock ticks: the machine's busy and total
-- time over all CPUs (/proc/stat) and this process's own (/proc/self/stat),
-- or nil where /proc is missing.
function timing.cpu_counters()
    local stat, own = timing.read_file("/proc/stat"), timing.read_file("/proc/self/stat")
    if not stat or not own then
        return nil
    end
    local fields = {}
    for n in stat:match("^cpu%s+([^\n]*)"):gmatch("%d+") do
        fields[#fields + 1] = tonumber(n)
    end
    -- user nice system idle iowait irq softirq steal
    local idle = fields[4] + (fields[5] or 0)
    local total = 0
    for i = 1, math.min(8, #fields) do
        total = total + fields[i]
    end
    local after_name = {}
    for field in own:match("%)%s+(.*)$"):gmatch("%S+") do
        after_name[#after_name + 1] = field
    end
    -- utime and stime are fields 14 and 15, the 12th and 13th after the name.
    local self = tonumber(after_name[12]) + tonumber(after_name[13])
    return { busy = total - idle, total = total, self = self }
end

--- Returns the share (0..1) of all CPUs' time that other processes used
-- between two cpu_counters() samples, or nil without /proc.
function timing.others_share(before, after)
    if not before or not after or after.total <= before.total then
        return nil
    end
    local others = (after.busy - before.busy) - (after.self - before.self)
    return math.max(0, others / (after.total - before.total))
end

--- Returns the thread count given as the script's first argument (2 when
-- absent), exiting with a message when it is not a positive integer.
function timing.thread_count_argument(script)
    local threads = math.tointeger(tonumber(arg[1] or "2"))
    if not threads or threads < 1 then
        io.stderr:write(script, ": thread count must be a positive integer, got '",
            tostring(arg[1]), "'\n")
        os.exit(2)
    end
    return threads
end

--- Prints progress on stderr, so stdout holds only results.
function timing.progress(format, ...)
    io.stderr:write(string.format("[lunet] " .. format, ...), "\n")
    io.stderr:flush()
end

--- Runs fn(), which returns seconds per call, and emits it under key (and
-- the fastest block's time under key.fastest). When fn raises, it emits
-- "ERROR: <message>" instead, so one failing workload leaves the others
-- running.
function timing.run(key, fn)
    timing.last_fastest = nil
    local ok, result = pcall(fn)
    if ok then
        timing.emit(key, string.format("%.9g", result))
        if timing.last_fastest then
            timing.emit(key .. ".fastest", string.format("%.9g", timing.last_fastest))
        end
    else
        timing.progress("%s failed: %s", key, tostring(result))
        timing.emit(key, "ERROR: " .. tostring(result))
    end
    return ok and result or nil
end

return timing
