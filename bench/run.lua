-- lunet's side of `make bench`: times workloads and prints one
-- "key<TAB>value" line per result on stdout (seconds per call, or
-- "ERROR: message" when the workload failed). bench/peer_torch.py times the
-- same workloads in PyTorch under the same keys; bench/bench.lua runs both
-- and prints the table.
--
--     ./lunet bench/run.lua threads [group ...]
--
-- Groups (all of them when none is given): vgg16 (VGG16 forward and each
-- convolution alone), simple_vgg, rows (softmax, log_softmax, sum, copy_)
-- and train (one fashion_vgg training step).
local lunet = require "lunet"
local timing = require "bench.timing"
local shapes = require "bench.shapes"

local measure, run, emit, progress = timing.measure, timing.run, timing.emit, timing.progress

local groups = {}

-- VGG16 forward at batch 1 and 8, then each of its convolutions alone at
-- batch 1. A failed build fails every row that needs the model.
function groups.vgg16()
    progress("building VGG16")
    local ok, model = pcall(function()
        local built = require("models.vgg").vgg16()
        built:evaluate()
        return built
    end)
    local function with_model(fn)
        return function()
            if not ok then
                error("building vgg16 failed: " .. tostring(model), 0)
            end
            return fn()
        end
    end

    progress("VGG16 forward, batch 1")
    run("vgg16_b1", with_model(function()
        local x = lunet.randn(1, 3, 224, 224)
        return measure(function() return model(x) end, { warmup = 2, samples = 15 })
    end))

    progress("VGG16 forward, batch 8")
    run("vgg16_b8", with_model(function()
        local x = lunet.randn(8, 3, 224, 224)
        return measure(function() return model(x) end, { warmup = 1, samples = 7 })
    end))

    for _, conv in ipairs(shapes.vgg16_convs()) do
        progress("VGG16 %s alone, %dx%dx%d", conv.name, conv.in_channels, conv.size, conv.size)
        run("conv." .. conv.name, with_model(function()
            local layer = model.features[conv.index + 1]
            local x = lunet.randn(1, conv.in_channels, conv.size, conv.size)
            return measure(function() return layer(x) end, { warmup = 2, samples = 15 })
        end))
    end
end

function groups.simple_vgg()
    progress("simple_vgg call, 1x3x32x32")
    run("simple_vgg", function()
        local model = require("models.simple_vgg")({ num_classes = 10 })
        model:evaluate()
        local x = lunet.randn(1, 3, 32, 32)
        return measure(function() return model(x) end, { warmup = 50, samples = 25 })
    end)
end

-- Row-wise operations along the last dim, each returning a new tensor as a
-- user calls them, and the copy they are compared with.
function groups.rows()
    local operations = {
        softmax = function(x) return lunet.softmax(x, -1) end,
        log_softmax = function(x) return lunet.log_softmax(x, -1) end,
        sum = function(x) return lunet.sum(x, -1) end,
    }
    for _, op in ipairs(shapes.row_operations) do
        for _, size in ipairs(shapes.row_sizes) do
            progress("%s over %dx%d", op, size[1], size[2])
            run(op .. "." .. size[1] .. "x" .. size[2], function()
                local x = lunet.randn(size[1], size[2])
                local fn = operations[op]
                return measure(function() return fn(x) end, { warmup = 3, samples = 25 })
            end)
            collectgarbage()
        end
    end

    progress("copy_ of %d MiB", shapes.copy_elements * 4 // 2 ^ 20)
    run("copy", function()
        local source = lunet.randn(shapes.copy_elements)
        local destination = lunet.zeros(shapes.copy_elements)
        return measure(function() destination:copy_(source) end, { warmup = 3, samples = 25 })
    end)
end

-- One optimisation step of models/fashion_vgg.lua as
-- examples/train_fashion_mnist.lua runs it.
function groups.train()
    progress("fashion_vgg training step, batch %d", shapes.train_batch)
    run("train_step", function()
        if lunet.optim == nil or lunet.optim.AdamW == nil then
            error("lunet.optim.AdamW is not available", 0)
        end
        local model = require("models.fashion_vgg")()
        model:train()
        local criterion = lunet.nn.CrossEntropyLoss()
        local optimizer = lunet.optim.AdamW(model:parameters(), shapes.adamw)

        local x = lunet.rand(shapes.train_batch, 1, 28, 28)
        local labels = {}
        for i = 1, shapes.train_batch do
            labels[i] = (i * 7) % 10 + 1
        end
        local target = lunet.tensor(labels)

        local function step()
            local logits = model(x)
            local _ = criterion(logits, target):item()
            model:zero_grad()
            model:backward(x, criterion:backward(logits, target))
            optimizer:step()
        end
        return measure(step, { warmup = 3, samples = 25 })
    end)
end

local order = { "vgg16", "simple_vgg", "rows", "train" }

local threads = timing.thread_count_argument("bench/run.lua")
local selected = table.move(arg, 2, #arg, 1, {})
if #selected == 0 then
    selected = order
end
for _, name in ipairs(selected) do
    if not groups[name] then
        io.stderr:write("bench/run.lua: unknown group '", name, "' (expected ",
            table.concat(order, ", "), ")\n")
        os.exit(2)
    end
end

lunet.set_num_threads(threads)
lunet.manual_seed(0)
local config = lunet.config()
emit("threads", lunet.get_num_threads())
emit("blas_core", config.blas_core)
emit("blas_config", config.blas_config)

for _, name in ipairs(selected) do
    local cpu_start = timing.cpu_counters()
    groups[name]()
    collectgarbage()
    emit("cpu.others." .. name, timing.others_share(cpu_start, timing.cpu_counters()) or "unknown")
end
progress("done")
