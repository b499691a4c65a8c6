-- `make bench`: measures lunet against PyTorch in one run and prints one
-- table on stdout (progress goes to stderr).
--
--     BENCH_THREADS=2 ./lunet bench/bench.lua [path of fma_peak]
--
-- It runs these one after another, so they do not compete for cores:
-- build/bench/fma_peak measures the machine's FMA peak, bench/peak_rss.lua
-- VGG16's peak memory in a fresh process, and bench/run.lua lunet's
-- workloads. When /usr/bin/python3 can import torch, bench/peer_torch.py
-- measures the same memory and workloads in PyTorch, alternating with
-- lunet group by group. Each prints "key<TAB>value" lines, which this
-- script merges into rows with targets. Both libraries use BENCH_THREADS
-- threads (default 2). OPENBLAS_CORETYPE is left as it is and reported.
local shapes = require "bench.shapes"
local timing = require "bench.timing"
local read_file = timing.read_file

local PYTHON = "/usr/bin/python3"
local GROUPS = { "vgg16", "simple_vgg", "rows", "train" }
local GROUP_ROWS = { vgg16 = "VGG16 and conv rows", simple_vgg = "simple_vgg row",
    rows = "softmax, sum and copy rows", train = "training rows" }
local WEIGHT_BYTES = shapes.vgg16_parameters * 4

local root = arg[0]:match("^(.-)/?bench/bench%.lua$")
if root == nil or root == "" then
    root = "."
end

local function progress(format, ...)
    io.stderr:write(string.format("[bench] " .. format, ...), "\n")
    io.stderr:flush()
end

local function quote(text)
    return "'" .. text:gsub("'", "'\\''") .. "'"
end

-- Runs command (its stderr passes through as progress) and adds the
-- "key<TAB>value" lines of its stdout to the table results. A command that
-- fails leaves its exit status under `_failed`.
local function collect(command, results)
    results = results or {}
    local pipe = assert(io.popen(command, "r"))
    for line in pipe:lines() do
        local key, value = line:match("^([^\t]+)\t(.*)$")
        if key then
            results[key] = value
        end
    end
    local ok, how, code = pipe:close()
    if not ok then
        results._failed = string.format("%s exited with %s %s", command, tostring(how),
            tostring(code))
    end
    return results
end

local threads = math.tointeger(tonumber(os.getenv("BENCH_THREADS") or "2"))
if not threads or threads < 1 then
    io.stderr:write("bench: BENCH_THREADS must be a positive integer, got '",
        tostring(os.getenv("BENCH_THREADS")), "'\n")
    os.exit(2)
end

-- Machine facts ---------------------------------------------------------------

local cpuinfo = read_file("/proc/cpuinfo") or ""
local cpu_model = cpuinfo:match("model name%s*:%s*([^\n]+)") or "unknown CPU"
local _, cpu_count = cpuinfo:gsub("\nprocessor%s*:", "")
if cpuinfo:match("^processor%s*:") then
    cpu_count = cpu_count + 1
end
local function load_average()
    return (read_file("/proc/loadavg") or "?"):match("^(%S+ %S+ %S+)") or "?"
end
local load_before = load_average()
local started = os.time()

-- Measurements ----------------------------------------------------------------

-- Waits until other processes leave the CPUs at least 90% idle for one
-- second, at most BENCH_QUIET_WAIT seconds (default 30). On a shared
-- machine this keeps someone else's build or test run out of most groups.
-- Returns the busy share seen last.
local quiet_wait = tonumber(os.getenv("BENCH_QUIET_WAIT") or "30") or 30
local function wait_for_quiet()
    local deadline = os.time() + quiet_wait
    local busy
    repeat
        local before = timing.cpu_counters()
        os.execute("sleep 1")
        busy = timing.others_share(before, timing.cpu_counters())
        if busy == nil or busy < 0.1 then
            return busy
        end
        progress("waiting for other processes to finish (%.0f%% of the CPUs busy)", 100 * busy)
    until os.time() >= deadline
    return busy
end

local lunet_exe = quote(root .. "/lunet")
local fma_exe = arg[1] or root .. "/build/bench/fma_peak"

wait_for_quiet()
progress("FMA peak on %d threads", threads)
local fma = collect(quote(fma_exe) .. " " .. threads)

wait_for_quiet()
progress("lunet: VGG16 peak memory in a fresh process")
local lunet_rss = collect(lunet_exe .. " " .. quote(root .. "/bench/peak_rss.lua") .. " " ..
    threads)

local has_torch = os.execute(PYTHON .. ' -c "import torch" >/dev/null 2>&1') == true
local torch_script = quote(root .. "/bench/peer_torch.py")
local torch, torch_rss = {}, {}
if has_torch then
    progress("PyTorch: VGG16 peak memory in a fresh process")
    torch_rss = collect(PYTHON .. " " .. torch_script .. " --rss " .. threads)
else
    progress("PyTorch is not installed for %s: skipping its column", PYTHON)
end

-- Group by group, lunet then PyTorch, so that both sides of a row are
-- measured minutes apart at most, under the same load from other processes.
local lunet = {}
for _, group in ipairs(GROUPS) do
    wait_for_quiet()
    progress("lunet: %s", group)
    collect(lunet_exe .. " " .. quote(root .. "/bench/run.lua") .. " " .. threads .. " " .. group,
        lunet)
    if has_torch then
        wait_for_quiet()
        progress("PyTorch: %s", group)
        collect(PYTHON .. " " .. torch_script .. " " .. threads .. " " .. group, torch)
    end
end
local elapsed = os.time() - started

-- Rows ------------------------------------------------------------------------

local rows = {}
local errors = {}

local function number(results, key)
    local value = results[key]
    return value and math.tointeger(tonumber(value)) or tonumber(value or "")
end

-- The median over the fastest block above which a row is marked noisy.
local NOISY_SPREAD = 1.5
local noisy_rows = 0

-- Returns " *" when the median of key's samples is more than NOISY_SPREAD
-- times its fastest sample, a spread that other processes or stalled thread
-- wake-ups cause.
local function noise_mark(results, key)
    local median, fastest = number(results, key), number(results, key .. ".fastest")
    if median and fastest and fastest > 0 and median > NOISY_SPREAD * fastest then
        noisy_rows = noisy_rows + 1
        return " *"
    end
    return ""
end

-- Returns a cell for a missing or failed value: the error, shortened (the
-- whole message is printed under the table), "no PyTorch" or "not measured".
local function missing_cell(results, key, side)
    local value = results[key]
    if value and value:match("^ERROR") then
        errors[#errors + 1] = string.format("%s %s: %s", side, key, value:gsub("^ERROR: ", ""))
        local short = value:gsub("^ERROR: ", "ERROR ")
        return #short > 48 and short:sub(1, 45) .. "..." or short
    end
    if side == "PyTorch" and not has_torch then
        return "no PyTorch"
    end
    return results._failed and "process failed" or "not measured"
end

local function add_row(row)
    rows[#rows + 1] = row
end

-- Returns "yes" when value <= bound (or >= for relation ">="), else "NO",
-- and "n/a" when the value is missing.
local function verdict(value, bound, relation)
    if value == nil then
        return "n/a"
    end
    local met = relation == "<=" and value <= bound or relation == ">=" and value >= bound
    return met and "yes" or "NO"
end

-- Formats a positive number with about three significant digits.
local function significant(value)
    if value >= 100 then
        return string.format("%.0f", value)
    elseif value >= 10 then
        return string.format("%.1f", value)
    elseif value >= 1 then
        return string.format("%.2f", value)
    end
    return string.format("%.3g", value)
end

local function ratio_cell(ratio)
    return ratio and string.format("%.2fx", ratio) or "-"
end

-- Adds a row of a workload timed on both sides, shown as time (lower is
-- better). options.scale converts seconds to the unit in options.format,
-- options.divide splits a batch's time per image, and options.extra(seconds)
-- appends a note such as GFLOP/s. Returns both sides' seconds.
local function time_row(name, key, options)
    local l, t = number(lunet, key), number(torch, key)
    local divide = options.divide or 1
    local function cell(results, seconds, side)
        if not seconds then
            return missing_cell(results, key, side)
        end
        local per = seconds / divide
        local text = string.format(options.format, per * options.scale)
        if options.extra then
            text = text .. ", " .. options.extra(per)
        end
        return text .. noise_mark(results, key)
    end
    local ratio = l and t and l / t or nil
    local met = "-"
    if options.target then
        met = verdict(ratio, options.target, "<=")
    end
    add_row({ name, cell(lunet, l, "lunet"), cell(torch, t, "PyTorch"), ratio_cell(ratio),
        options.target and string.format("<= %.2fx PyTorch", options.target) or "-", met })
    return l, t
end

local function gflops_text(flops)
    return function(seconds)
        return string.format("%.1f GFLOP/s", flops / seconds * 1e-9)
    end
end

local peak = number(fma, "fma.gflops")

-- 1. VGG16 forward.
local vgg16_flops = shapes.vgg16_flops()
time_row("VGG16 forward, batch 1", "vgg16_b1", { format = "%.1f ms", scale = 1e3,
    extra = gflops_text(vgg16_flops), target = 0.6 })
time_row("VGG16 forward, batch 8, per image", "vgg16_b8", { format = "%.1f ms", scale = 1e3,
    divide = 8, extra = gflops_text(vgg16_flops), target = 0.7 })

-- 2. Each convolution of VGG16 at batch 1, against the FMA peak.
local conv_total = { lunet = 0, torch = 0, flops = 0, complete = { lunet = true, torch = true } }
for _, conv in ipairs(shapes.vgg16_convs()) do
    local key = "conv." .. conv.name
    local l, t = number(lunet, key), number(torch, key)
    local function cell(results, seconds, side)
        if not seconds then
            return missing_cell(results, key, side)
        end
        local gflops = conv.flops / seconds * 1e-9
        local share = peak and string.format(" = %.0f%% peak", 100 * gflops / peak) or ""
        return string.format("%.0f GFLOP/s%s, %.2f ms", gflops, share, seconds * 1e3) ..
            noise_mark(results, key)
    end
    local l_share = l and peak and conv.flops / l * 1e-9 / peak or nil
    add_row({ string.format("conv %s %d->%d %dx%d", conv.name, conv.in_channels,
        conv.out_channels, conv.size, conv.size), cell(lunet, l, "lunet"),
        cell(torch, t, "PyTorch"), ratio_cell(l and t and t / l or nil), ">= 75% FMA peak",
        verdict(l_share, 0.75, ">=") })
    conv_total.flops = conv_total.flops + conv.flops
    conv_total.lunet = l and conv_total.lunet + l or nil
    conv_total.torch = t and conv_total.torch + t or nil
end
do
    local function cell(seconds)
        if not seconds then
            return "incomplete"
        end
        local gflops = conv_total.flops / seconds * 1e-9
        local share = peak and string.format(" = %.0f%% peak", 100 * gflops / peak) or ""
        return string.format("%.0f GFLOP/s%s, %.1f ms", gflops, share, seconds * 1e3)
    end
    local l, t = conv_total.lunet, conv_total.torch
    add_row({ "all 13 convs, sum of the rows above", cell(l), has_torch and cell(t) or
        "no PyTorch", ratio_cell(l and t and t / l or nil), "-", "-" })
end

-- 3. simple_vgg.
time_row("simple_vgg call, 1x3x32x32", "simple_vgg", { format = "%.1f us", scale = 1e6,
    target = 0.3 })

-- 4. Row-wise operations and the copy they are compared with.
local copy_l, copy_t = number(lunet, "copy"), number(torch, "copy")
local copy_bandwidth
do
    local function bandwidth(seconds)
        return seconds and shapes.copy_bytes / seconds * 1e-9 or nil
    end
    local l, t = bandwidth(copy_l), bandwidth(copy_t)
    copy_bandwidth = math.max(l or 0, t or 0)
    if copy_bandwidth == 0 then
        copy_bandwidth = nil
    end
    local function cell(results, value, side)
        if not value then
            return missing_cell(results, "copy", side)
        end
        return significant(value) .. " GB/s" .. noise_mark(results, "copy")
    end
    add_row({ string.format("copy_ of %d MiB (reference)", shapes.copy_elements * 4 // 2 ^ 20),
        cell(lunet, l, "lunet"), cell(torch, t, "PyTorch"), ratio_cell(l and t and l / t or nil),
        "-", "-" })
end
for _, op in ipairs(shapes.row_operations) do
    for _, size in ipairs(shapes.row_sizes) do
        local rows_n, columns = size[1], size[2]
        local key = op .. "." .. rows_n .. "x" .. columns
        local bytes = shapes.row_bytes(op, rows_n, columns)
        local l, t = number(lunet, key), number(torch, key)
        local l_bw = l and bytes / l * 1e-9 or nil
        local t_bw = t and bytes / t * 1e-9 or nil
        local large = rows_n * columns >= 2 ^ 20
        local function cell(results, value, side)
            if not value then
                return missing_cell(results, key, side)
            end
            local text = significant(value) .. " GB/s"
            if large and copy_bandwidth then
                text = text .. string.format(" (%.0f%% of copy)", 100 * value / copy_bandwidth)
            end
            return text .. noise_mark(results, key)
        end
        local ratio = l_bw and t_bw and l_bw / t_bw or nil
        local target, met = "-", "-"
        if large and op ~= "log_softmax" then
            target = ">= 2x PyTorch, >= 60% copy"
            if ratio and l_bw and copy_bandwidth then
                local ok = ratio >= 2 and l_bw >= 0.6 * copy_bandwidth
                met = ok and "yes" or "NO"
            else
                met = "n/a"
            end
        end
        add_row({ string.format("%s, %dx%d", op, rows_n, columns), cell(lunet, l_bw, "lunet"),
            cell(torch, t_bw, "PyTorch"), ratio_cell(ratio), target, met })
    end
end

-- 5. Training.
local steps_per_epoch = math.ceil(shapes.train_images / shapes.train_batch)
local step_l, step_t = time_row(string.format("fashion_vgg training step, batch %d",
    shapes.train_batch), "train_step", { format = "%.1f ms", scale = 1e3, target = 0.7 })
do
    local function cell(results, seconds, side)
        if not seconds then
            return missing_cell(results, "train_step", side)
        end
        return string.format("%.1f s", seconds * steps_per_epoch)
    end
    add_row({ string.format("Fashion-MNIST epoch estimate, %d steps", steps_per_epoch),
        cell(lunet, step_l, "lunet"), cell(torch, step_t, "PyTorch"),
        ratio_cell(step_l and step_t and step_l / step_t or nil), "-", "-" })
end

-- Memory.
do
    local l, t = number(lunet_rss, "rss.peak_bytes"), number(torch_rss, "rss.peak_bytes")
    local function cell(results, bytes, side)
        if not bytes then
            return missing_cell(results, "rss.peak_bytes", side)
        end
        local text = string.format("%.0f MB = %.2fx weights", bytes / 1e6, bytes / WEIGHT_BYTES)
        local baseline = number(results, "rss.baseline_bytes")
        if side == "PyTorch" and baseline then
            text = text .. string.format(" (%.0f MB before the model)", baseline / 1e6)
        end
        return text
    end
    add_row({ "VGG16 batch-1 forward, peak RSS", cell(lunet_rss, l, "lunet"),
        cell(torch_rss, t, "PyTorch"), ratio_cell(l and t and l / t or nil),
        "<= 1.15x weights", verdict(l and l / WEIGHT_BYTES, 1.15, "<=") })
end

-- 6. Configuration.
add_row({ "threads", lunet.threads or "?", has_torch and (torch.threads or "?") or "no PyTorch",
    "-", "-", "-" })
add_row({ "BLAS kernel", "OpenBLAS " .. (lunet.blas_core or "?"),
    has_torch and string.format("OpenBLAS %s; conv: %s; ATen %s", torch.blas_core or "?",
        torch.mkldnn or "?", torch.cpu_capability or "?") or "no PyTorch", "-", "-", "-" })
-- The share of all CPUs' time that other processes took while a group ran:
-- a row measured beside a busy neighbour is slower for reasons of its own.
local function share_cell(results, group)
    local share = number(results, "cpu.others." .. group)
    return share and string.format("%.0f%% of all CPUs", 100 * share) or "unknown"
end
for _, group in ipairs(GROUPS) do
    add_row({ "others' CPU use, " .. GROUP_ROWS[group], share_cell(lunet, group),
        has_torch and share_cell(torch, group) or "no PyTorch", "-", "-", "-" })
end

-- Output ----------------------------------------------------------------------

local header = { "workload", "lunet", "PyTorch", "ratio", "target", "met?" }

-- Pads by UTF-8 characters so "µ" or "≥" would not shift the columns.
local function width(text)
    return utf8.len(text) or #text
end

local function print_table(all)
    local widths = {}
    for _, row in ipairs(all) do
        for i, cell in ipairs(row) do
            widths[i] = math.max(widths[i] or 0, width(tostring(cell)))
        end
    end
    local function line(row)
        local cells = {}
        for i, cell in ipairs(row) do
            local text = tostring(cell)
            cells[i] = text .. string.rep(" ", widths[i] - width(text))
        end
        return (table.concat(cells, " | "):gsub("%s+$", ""))
    end
    print(line(all[1]))
    local rule = {}
    for i = 1, #widths do
        rule[i] = string.rep("-", widths[i])
    end
    print(table.concat(rule, "-|-"))
    for i = 2, #all do
        print(line(all[i]))
    end
end

local all = { header }
for _, row in ipairs(rows) do
    all[#all + 1] = row
end

print(string.format("lunet bench, %s, %d threads (BENCH_THREADS), %s",
    os.date("!%Y-%m-%d %H:%M UTC"), threads, has_torch and ("PyTorch " .. (torch.torch_version or "?")) or "no PyTorch"))
print(string.format("machine: %s, %d CPUs; load average %s before, %s after; %d s in all",
    cpu_model, cpu_count, load_before, load_average(), elapsed))
if peak then
    print(string.format("FMA peak: %.1f GFLOP/s on %d threads with %s (AVX2: %s GFLOP/s), from " ..
        "each thread's CPU time; over wall-clock time %s GFLOP/s (bench/fma_peak.c)", peak,
        threads, (fma["fma.isa"] or "?"):upper(), fma["fma.avx2_gflops"] or "?",
        fma["fma.wall_gflops"] or "?"))
else
    print("FMA peak: not measured (" .. (fma._failed or "no result") .. ")")
end
print("lunet BLAS: " .. (lunet.blas_config or "?"))
print("OPENBLAS_CORETYPE: " .. (os.getenv("OPENBLAS_CORETYPE") or "unset"))
print()
print_table(all)
print()
print("ratio: lunet / PyTorch in the row's unit: time for ms and us rows (below 1 means lunet")
print("is faster), throughput for GFLOP/s and GB/s rows (above 1 means lunet is faster).")
print("Times are medians of repeated runs after warm-up. 'copy' is the better of the two")
print("copy_ bandwidths; GB/s counts bytes read plus bytes written. GFLOP/s counts 2 * MACs")
print("of direct convolution and matrix products, so a kernel doing fewer multiplications")
print("(Winograd, FFT) can pass 100% of the FMA peak.")
if noisy_rows > 0 then
    print(string.format("* the median is over %.1fx the fastest sample: other processes or " ..
        "thread wake-ups interfered.", NOISY_SPREAD))
end
if not has_torch then
    print("PyTorch column skipped: " .. PYTHON .. " cannot import torch (Debian: python3-torch).")
end
for _, results in ipairs({ fma, lunet_rss, lunet, torch_rss, torch }) do
    if results._failed then
        print("failed: " .. results._failed)
    end
end
if #errors > 0 then
    print("errors:")
    for _, message in ipairs(errors) do
        print("  " .. message)
    end
end
