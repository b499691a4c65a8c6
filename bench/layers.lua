-- Splits a workload of `make bench` into its layers, to see where lunet's
-- time goes. Each module of a Sequential is timed alone on the input it
-- gets inside the network (the median of repeated calls after warm-up).
-- For training, its backward, the loss and the optimizer step are timed too.
--
--     ./lunet bench/layers.lua vgg16 [batch] [threads]     forward of VGG16
--     ./lunet bench/layers.lua simple_vgg [batch] [threads]
--     ./lunet bench/layers.lua train [batch] [threads]     fashion_vgg step
--
-- Not part of `make bench`'s table; prints a list sorted as the network is.
local lunet = require "lunet"
local timing = require "bench.timing"

local workload = arg[1] or "vgg16"
local batch = math.tointeger(tonumber(arg[2] or "1"))
local threads = math.tointeger(tonumber(arg[3] or "2"))
if not batch or batch < 1 or not threads or threads < 1 then
    io.stderr:write("bench/layers.lua: batch and thread count must be positive integers\n")
    os.exit(2)
end
lunet.set_num_threads(threads)
lunet.manual_seed(0)

local rows = {}

local function add(name, seconds)
    rows[#rows + 1] = { name = name, seconds = seconds }
end

local function describe(module)
    local text = tostring(module):gsub("\n.*", "")
    return #text > 60 and text:sub(1, 57) .. "..." or text
end

-- Times each child of a Sequential on its own input, returning the output.
local function profile_forward(prefix, sequential, x, options)
    for i = 1, #sequential do
        local module = sequential[i]
        local input = x
        add(string.format("%s%d %s", prefix, i - 1, describe(module)),
            timing.measure(function() return module(input) end, options))
        x = module(input)
    end
    return x
end

local function print_rows(total_label, whole)
    local sum = 0
    for _, row in ipairs(rows) do
        sum = sum + row.seconds
    end
    for _, row in ipairs(rows) do
        print(string.format("%9.3f ms %5.1f%%  %s", row.seconds * 1e3, 100 * row.seconds / sum,
            row.name))
    end
    print(string.format("%9.3f ms         sum of the rows", sum * 1e3))
    if whole then
        print(string.format("%9.3f ms         %s", whole * 1e3, total_label))
    end
end

if workload == "vgg16" or workload == "simple_vgg" then
    local model
    local x
    if workload == "vgg16" then
        model = require("models.vgg").vgg16()
        x = lunet.randn(batch, 3, 224, 224)
    else
        model = require("models.simple_vgg")({ num_classes = 10 })
        x = lunet.randn(batch, 3, 32, 32)
    end
    model:evaluate()
    local options = { warmup = 1, samples = 5 }
    local whole = timing.measure(function() return model(x) end, options)
    if workload == "vgg16" then
        local features = profile_forward("features.", model.features, x, options)
        local pooled = model.avgpool(features)
        add("avgpool", timing.measure(function() return model.avgpool(features) end, options))
        local flat = pooled:reshape(pooled:size(1), -1)
        profile_forward("classifier.", model.classifier, flat, options)
    else
        profile_forward("", model, x, options)
    end
    print_rows("whole forward, timed as one call", whole)
elseif workload == "train" then
    local nn = lunet.nn
    local model = require("models.fashion_vgg")()
    model:train()
    local criterion = nn.CrossEntropyLoss()
    local optimizer = lunet.optim.AdamW(model:parameters(), { lr = 2e-3, weight_decay = 1e-4 })
    local x = lunet.rand(batch, 1, 28, 28)
    local labels = {}
    for i = 1, batch do
        labels[i] = (i * 7) % 10 + 1
    end
    local target = lunet.tensor(labels)
    local options = { warmup = 2, samples = 7 }

    local whole = timing.measure(function()
        local logits = model(x)
        local _ = criterion(logits, target):item()
        model:zero_grad()
        model:backward(x, criterion:backward(logits, target))
        optimizer:step()
    end, options)

    -- Forward of each layer, keeping the inputs for the backward pass.
    local inputs = {}
    local h = x
    for i = 1, #model do
        local module, input = model[i], h
        inputs[i] = input
        add(string.format("forward  %d %s", i - 1, describe(module)),
            timing.measure(function() return module(input) end, options))
        h = module(input)
    end
    local logits = h
    add("forward  CrossEntropyLoss", timing.measure(function()
        return criterion(logits, target):item()
    end, options))
    local grad = criterion:backward(logits, target)
    add("backward CrossEntropyLoss", timing.measure(function()
        return criterion:backward(logits, target)
    end, options))
    for i = #model, 1, -1 do
        local module, input, grad_output = model[i], inputs[i], grad
        -- A layer's backward may use what its last forward saved.
        module(input)
        add(string.format("backward %d %s", i - 1, describe(module)),
            timing.measure(function() return module:backward(input, grad_output) end, options))
        grad = module:backward(input, grad_output)
    end
    add("zero_grad", timing.measure(function() model:zero_grad() end, options))
    add("AdamW step", timing.measure(function() optimizer:step() end, options))
    print_rows("whole step, timed as one call", whole)
else
    io.stderr:write("bench/layers.lua: unknown workload '", workload,
        "' (expected vgg16, simple_vgg or train)\n")
    os.exit(2)
end
