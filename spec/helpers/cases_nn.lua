--- Bad-input cases of lunet.nn: the layer constructors, each native layer's
-- forward and backward, the losses, Sequential and Module. See
-- spec/helpers/bad_input.lua for the case format; spec/bad_input_nn_spec.lua
-- runs them.
local lunet = require "lunet"
local A = require "spec.helpers.bad_input"

local nn = lunet.nn

local HUGE = 1 << 62
local HUGE_TEXT = "4611686018427387904"

local cases = {}

local function add(case)
    cases[#cases + 1] = case
end

-- Constructors ----------------------------------------------------------------------

-- A kernel_size, output_size or similar pair: n or {h, w}.
local function pair(valid, smallest)
    local below = smallest - 1
    return A.custom(valid, {
        { "nil", nil, { "nil", "no value" } },
        { "a value below " .. smallest, below, { tostring(below) } },
        { "a pair with a value below " .. smallest, { below, valid }, { tostring(below) } },
        { "a string", "text", { "string" } },
        { "1.5", 1.5, { "1.5" } },
        { "a table of 3", { 1, 2, 3 }, { "3" } },
        { "a pair with a string", { 1, "x" }, { "string" } },
        { "a huge value", HUGE, { HUGE_TEXT, "between" } },
    })
end

-- An options table whose keys are all wrong in the listed ways: entries
-- {option, value, names}.
local function options(entries)
    local wrong = {}
    for i, entry in ipairs(entries) do
        local shown = lunet.is_tensor(entry[2]) and "a tensor" or tostring(entry[2])
        wrong[i] = { "option " .. entry[1] .. " = " .. shown, { [entry[1]] = entry[2] },
            entry[3] or { entry[1] } }
    end
    return A.options(wrong)
end

add({
    name = "Linear", path = "nn.Linear", fn = nn.Linear,
    args = { A.integer(3, { { -1 } }), A.integer(4, { { -1 } }),
        options({ { "bias", "yes", { "bias", "string" } } }) },
    bad = {
        { "a weight overflowing 64 bits", function() return 1 << 40, 1 << 40 end,
            { "overflows" } },
    },
})
add({
    name = "Conv2d", path = "nn.Conv2d", fn = nn.Conv2d,
    args = {
        A.integer(2, { { 0 }, { -1 } }),
        A.integer(4, { { 0 }, { -1 } }),
        pair(3, 1),
        options({
            { "stride", 0, { "stride", "0" } },
            { "stride", { 1, 0 }, { "stride", "0" } },
            { "padding", -1, { "padding", "-1" } },
            { "dilation", 0, { "dilation", "0" } },
            { "groups", 3, { "groups 3" } },
            { "groups", 0, { "groups", "0" } },
            { "groups", 1.5, { "groups", "1.5" } },
            { "bias", 1, { "bias", "number" } },
        }),
    },
    bad = {
        { "a weight overflowing 64 bits", function() return 1 << 40, 1 << 40, 3 end,
            { "overflows" } },
    },
})
add({ name = "ReLU", path = "nn.ReLU", fn = nn.ReLU, args = {} })
add({ name = "Sigmoid", path = "nn.Sigmoid", fn = nn.Sigmoid, args = {} })
add({ name = "Tanh", path = "nn.Tanh", fn = nn.Tanh, args = {} })
add({ name = "Identity", path = "nn.Identity", fn = nn.Identity, args = { A.any(1) } })
add({
    name = "LeakyReLU", path = "nn.LeakyReLU", fn = nn.LeakyReLU,
    args = { A.number(0.2, nil, true) },
})
for _, name in ipairs({ "Softmax", "LogSoftmax" }) do
    add({
        name = name, path = "nn." .. name, fn = nn[name],
        args = { A.integer(1, { { 0 } }, true) },
    })
end
add({
    name = "Flatten", path = "nn.Flatten", fn = nn.Flatten,
    args = { A.integer(1, { { 0 } }, true), A.integer(-1, { { 0 } }, true) },
})
add({
    name = "Dropout", path = "nn.Dropout", fn = nn.Dropout,
    args = { A.number(0.5, { { -0.1, { "-0.1" } }, { 1.5, { "1.5" } }, { 0 / 0, { "nan" } } },
        true) },
})
for _, name in ipairs({ "MaxPool2d", "AvgPool2d" }) do
    local wrong = {
        { "stride", 0, { "stride", "0" } },
        { "padding", -1, { "padding", "-1" } },
        { "padding", 2, { "padding", "half" } },
        { "ceil_mode", "yes", { "ceil_mode", "string" } },
    }
    if name == "AvgPool2d" then
        wrong[#wrong + 1] = { "count_include_pad", 1, { "count_include_pad", "number" } }
        wrong[#wrong + 1] = { "divisor_override", 0, { "divisor_override", "0" } }
        wrong[#wrong + 1] = { "divisor_override", 1.5, { "divisor_override", "1.5" } }
    end
    add({ name = name, path = "nn." .. name, fn = nn[name], args = { pair(2, 1), options(wrong) } })
end
add({
    name = "AdaptiveAvgPool2d", path = "nn.AdaptiveAvgPool2d", fn = nn.AdaptiveAvgPool2d,
    args = { pair(2, 1) },
})
for _, name in ipairs({ "BatchNorm1d", "BatchNorm2d" }) do
    add({
        name = name, path = "nn." .. name, fn = nn[name],
        args = {
            A.integer(3, { { 0 }, { -1 } }),
            options({
                { "eps", -1, { "eps", "-1" } },
                { "eps", 0 / 0, { "eps", "nan" } },
                { "momentum", 2, { "momentum", "2" } },
                { "momentum", "x", { "momentum", "string" } },
                { "affine", "yes", { "affine", "string" } },
                { "track_running_stats", 1, { "track_running_stats", "number" } },
            }),
        },
        bad = { { "a huge feature count", function() return HUGE end, { HUGE_TEXT } } },
    })
end

local reduction_errors = {
    { "reduction", "avg", { "avg" } },
    { "reduction", 1, { "reduction", "number" } },
    { "unknown", 1, { "unknown" } },
}
local function loss_options(extra)
    local entries = {}
    for _, list in ipairs({ reduction_errors, extra or {} }) do
        for _, entry in ipairs(list) do
            entries[#entries + 1] = entry
        end
    end
    return options(entries)
end
local class_weight_errors = {
    { "weight", "x", { "weight", "string" } },
    { "weight", lunet.ones(2, 2), { "weight", "2x2" } },
    { "weight", A.closed_tensor(), { "weight", "closed" } },
}
add({
    name = "CrossEntropyLoss", path = "nn.CrossEntropyLoss", fn = nn.CrossEntropyLoss,
    args = { loss_options({
        class_weight_errors[1], class_weight_errors[2], class_weight_errors[3],
        { "label_smoothing", 2, { "label_smoothing", "2" } },
        { "label_smoothing", 0 / 0, { "label_smoothing", "nan" } },
        { "ignore_index", 1.5, { "ignore_index", "1.5" } },
    }) },
})
add({
    name = "NLLLoss", path = "nn.NLLLoss", fn = nn.NLLLoss,
    args = { loss_options({
        class_weight_errors[1], class_weight_errors[2], class_weight_errors[3],
        { "ignore_index", "x", { "ignore_index", "string" } },
    }) },
})
add({ name = "MSELoss", path = "nn.MSELoss", fn = nn.MSELoss, args = { loss_options() } })
add({
    name = "BCEWithLogitsLoss", path = "nn.BCEWithLogitsLoss", fn = nn.BCEWithLogitsLoss,
    args = { loss_options({ { "pos_weight", "x", { "pos_weight", "string" } } }) },
})
add({
    name = "Sequential", path = "nn.Sequential", fn = nn.Sequential,
    args = {
        A.custom(function() return nn.Linear(3, 4) end, {
            { "a string", "text", { "string" } },
            { "a number", 5, { "number" } },
            { "a boolean", true, { "boolean" } },
        }),
        A.custom(function() return nn.ReLU() end, {
            { "a string", "text", { "string" } },
            { "a table without forward", function() return { 1 } end, { "table" } },
        }),
    },
})
add({ name = "is_native_layer", path = "nn.is_native_layer", fn = nn.is_native_layer,
    args = { A.any(1) } })
add({
    name = "Module:extend", path = "Module:extend",
    fn = function(name) return nn.Module:extend(name) end,
    args = { A.custom("Scale", {
        { "nil", nil, { "nil" } },
        { "a number", 5, { "number" } },
        { "a table", {}, { "table" } },
    }) },
})

-- Forward and backward of each native layer ------------------------------------------

-- A layer's forward and backward cases. make() builds a fresh layer, so a
-- failed call leaves nothing behind for the next; backward runs forward
-- first (ignoring its errors, which the forward case checks) because some
-- layers keep state from it.
local function layer_cases(name, make, input, output, extra)
    extra = extra or {}
    local forward_input = extra.input or A.tensor(table.unpack(input))
    add({
        name = name, path = name .. ":forward", views = extra.views, special = extra.special,
        fn = function(...)
            return make():forward(...)
        end,
        args = { forward_input, table.unpack(extra.forward_args or {}) },
        bad = extra.forward_bad,
    })
    local backward_args = extra.backward_args
        or { forward_input, A.tensor(table.unpack(output)) }
    add({
        name = name .. ".backward", path = name .. ":backward", views = extra.views,
        special = extra.special,
        fn = function(x, ...)
            local layer = make()
            pcall(layer.forward, layer, x, ...)
            return layer:backward(x, ...)
        end,
        args = backward_args,
        bad = extra.backward_bad,
    })
end

local function shape_text(...)
    return table.concat({ ... }, "x")
end

-- A forward call on an input of the given shape that must fail, naming
-- the shape.
local function wrong_input(label, ...)
    local shape = { ... }
    return { label, function() return lunet.rand(table.unpack(shape)) end,
        { shape_text(...) } }
end

-- A backward call with a grad_output of the wrong shape.
local function wrong_grad(input, grad)
    return { "a grad_output of shape " .. shape_text(table.unpack(grad)), function()
        return lunet.rand(table.unpack(input)), lunet.rand(table.unpack(grad))
    end, { shape_text(table.unpack(grad)) } }
end

layer_cases("Linear", function() return nn.Linear(3, 4) end, { 2, 3 }, { 2, 4 }, {
    forward_bad = { wrong_input("too many features", 2, 5),
        { "a 0-d input", function() return lunet.tensor(1) end, { "0-d" } } },
    backward_bad = { wrong_grad({ 2, 3 }, { 2, 5 }) },
})
layer_cases("Conv2d", function() return nn.Conv2d(2, 4, 3, { padding = 1 }) end,
    { 1, 2, 5, 5 }, { 1, 4, 5, 5 }, {
        forward_bad = {
            wrong_input("too many channels", 1, 3, 5, 5),
            wrong_input("a 2-d input", 5, 5),
            wrong_input("a 5-d input", 1, 1, 2, 5, 5),
        },
        backward_bad = { wrong_grad({ 1, 2, 5, 5 }, { 1, 4, 4, 4 }) },
    })
add({
    name = "Conv2d", path = "Conv2d:forward without padding",
    fn = function(x) return nn.Conv2d(2, 4, 3):forward(x) end,
    args = { A.tensor(1, 2, 5, 5) },
    bad = { wrong_input("an input smaller than the kernel", 1, 2, 2, 2) },
})
for _, name in ipairs({ "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "Identity" }) do
    layer_cases(name, function() return nn[name]() end, { 2, 3 }, { 2, 3 }, {
        backward_bad = name ~= "Identity" and { wrong_grad({ 2, 3 }, { 3, 2 }) } or nil,
    })
end
layer_cases("Dropout", function() return nn.Dropout(0.5) end, { 2, 3 }, { 2, 3 }, {
    backward_bad = { wrong_grad({ 2, 3 }, { 3, 2 }) },
})
for _, name in ipairs({ "Softmax", "LogSoftmax" }) do
    layer_cases(name, function() return nn[name](2) end, { 2, 3 }, { 2, 3 }, {
        forward_bad = { { "a 1-d input for dim 2", function() return lunet.rand(3) end,
            { "dim 2" } } },
        backward_bad = { wrong_grad({ 2, 3 }, { 3, 2 }) },
    })
end
layer_cases("Flatten", function() return nn.Flatten() end, { 2, 3, 4 }, { 2, 12 }, {
    forward_bad = { { "a 1-d input", function() return lunet.rand(3) end, { "dim 2" } } },
    backward_bad = { wrong_grad({ 2, 3, 4 }, { 2, 11 }) },
})
for _, name in ipairs({ "MaxPool2d", "AvgPool2d" }) do
    layer_cases(name, function() return nn[name](2) end, { 1, 2, 4, 4 }, { 1, 2, 2, 2 }, {
        forward_bad = { wrong_input("a 2-d input", 4, 4), wrong_input("an input smaller "
            .. "than the kernel", 1, 1, 1, 1) },
        backward_bad = { wrong_grad({ 1, 2, 4, 4 }, { 1, 2, 3, 3 }) },
    })
end
layer_cases("AdaptiveAvgPool2d", function() return nn.AdaptiveAvgPool2d(2) end, { 1, 2, 5, 5 },
    { 1, 2, 2, 2 }, {
        forward_bad = { wrong_input("a 2-d input", 4, 4) },
        backward_bad = { wrong_grad({ 1, 2, 5, 5 }, { 1, 2, 3, 3 }) },
    })
layer_cases("BatchNorm1d", function() return nn.BatchNorm1d(3) end, { 4, 3 }, { 4, 3 }, {
    forward_bad = { wrong_input("too many channels", 4, 5), wrong_input("a 4-d input",
        2, 3, 2, 2) },
    backward_bad = { wrong_grad({ 4, 3 }, { 3, 4 }) },
})
layer_cases("BatchNorm2d", function() return nn.BatchNorm2d(3) end, { 2, 3, 2, 2 },
    { 2, 3, 2, 2 }, {
        forward_bad = { wrong_input("too many channels", 2, 4, 2, 2), wrong_input("a 2-d input",
            2, 3) },
        backward_bad = { wrong_grad({ 2, 3, 2, 2 }, { 2, 3, 2, 1 }) },
    })

-- Class-index targets for a 4x3 input: one class per row.
local function class_target()
    return A.custom(function() return lunet.tensor({ 1, 3, 2, 1 }) end, {
        { "nil", nil, { "nil", "no value" } },
        { "a string", "text", { "string" } },
        { "a boolean", true, { "boolean" } },
        { "class 0", { 1, 2, 3, 0 }, { "0" } },
        { "class 4", { 1, 2, 3, 4 }, { "4" } },
        { "class 1.5", { 1, 2, 3, 1.5 }, { "1.5" } },
        { "a NaN class", { 1, 2, 3, 0 / 0 }, { "nan" } },
        { "a huge class", { 1, 2, 3, HUGE }, { HUGE_TEXT } },
        { "three targets", { 1, 2, 3 }, { "3" } },
        { "a string target", { 1, 2, 3, "a" }, { "string" } },
        { "a 2-d target", function() return lunet.ones(4, 3) end, { "4x3" } },
        { "a closed target", A.closed_tensor, { "closed" } },
    })
end

local function grad_output()
    return A.custom(nil, {
        { "a string", "text", { "string" } },
        { "a table", {}, { "table" } },
        { "a tensor of shape 4", function() return lunet.ones(4) end, { "4" } },
        { "a closed tensor", A.closed_tensor, { "closed" } },
    })
end

for _, name in ipairs({ "CrossEntropyLoss", "NLLLoss" }) do
    layer_cases(name, function() return nn[name]() end, nil, nil, {
        input = A.tensor(4, 3),
        forward_args = { class_target() },
        forward_bad = { { "a 0-d input", function() return lunet.tensor(1), 1 end, { "0-d" } } },
        backward_args = { A.tensor(4, 3), class_target(), grad_output() },
    })
end
for _, name in ipairs({ "MSELoss", "BCEWithLogitsLoss" }) do
    local mismatched = { "mismatched shapes", function()
        return lunet.rand(2, 3), lunet.rand(3, 2)
    end, { "2x3", "3x2" } }
    layer_cases(name, function() return nn[name]() end, nil, nil, {
        input = A.tensor(2, 3),
        forward_args = { A.tensor(2, 3) },
        forward_bad = { mismatched },
        backward_args = { A.tensor(2, 3), A.tensor(2, 3), grad_output() },
        backward_bad = { mismatched },
    })
end

-- Methods of one native layer class.
if nn.Conv2d(1, 1, 1).set_algorithm then
    add({
        name = "Conv2d.set_algorithm", path = "Conv2d:set_algorithm",
        fn = function(name) return nn.Conv2d(1, 1, 1):set_algorithm(name) end,
        args = { A.custom("gemm", {
            { "nil", nil, { "no value", "nil" } },
            { "a number", 5, { "number" } },
            { "an unknown name", "fast", { "fast" } },
        }) },
    })
end

-- Methods every native layer shares -------------------------------------------------

local function linear()
    return nn.Linear(3, 4)
end

-- A case calling method of a fresh Linear with the case's arguments.
local function method_case(method, args, extra)
    local case = {
        name = method, path = "layer:" .. method,
        fn = function(...)
            local layer = linear()
            return layer[method](layer, ...)
        end,
        args = args,
    }
    for key, value in pairs(extra or {}) do
        case[key] = value
    end
    return case
end

add(method_case("train", { A.opt_boolean() }))
add(method_case("evaluate", {}))
add(method_case("parameters", {}))
add(method_case("type", {}))
add(method_case("named_parameters", {}))
add(method_case("num_parameters", {}))
add(method_case("state_dict", {}))
add(method_case("zero_grad", {}))
add(method_case("children", {}))
add(method_case("load_state_dict", {
    A.custom(function() return linear():state_dict() end, {
        { "nil", nil, { "nil" } },
        { "a string", "text", { "string" } },
        { "an empty table", {}, { "missing keys" } },
        { "a wrong shape", function()
            return { weight = lunet.ones(3, 3), bias = lunet.ones(4) }
        end, { "3x3" } },
        { "a string weight", function()
            return { weight = "x", bias = lunet.ones(4) }
        end, { "string" } },
        { "an extra key", function()
            local state = linear():state_dict()
            state.extra = lunet.ones(1)
            return state
        end, { "extra" } },
    }),
    A.options(),
}, { views = false }))

-- Module (Lua layers) ---------------------------------------------------------------

local Scale = nn.Module:extend("Scale")

function Scale:init()
    self:register_parameter("factor", lunet.ones(1))
    self:add_module("inner", nn.Linear(2, 2))
end

local function module_method_case(method, args, extra)
    local case = method_case(method, args, extra)
    case.path = "Module:" .. method
    case.fn = function(...)
        local m = Scale()
        return m[method](m, ...)
    end
    return case
end

local names = A.custom("child", {
    { "nil", nil, { "nil" } },
    { "a number", 5, { "5" } },
    { "an empty name", "", { "non-empty" } },
    { "a dotted name", "a.b", { "a.b" } },
})
add(module_method_case("add_module", { names, A.custom(function() return nn.ReLU() end, {
    { "nil", nil, { "nil" } },
    { "a string", "text", { "string" } },
    { "a number", 5, { "number" } },
}) }))
for _, method in ipairs({ "register_parameter", "register_buffer" }) do
    add(module_method_case(method, { names, A.custom(function() return lunet.ones(2) end, {
        { "a string", "text", { "string" } },
        { "a number", 5, { "number" } },
        { "a closed tensor", A.closed_tensor, { "closed" } },
    }) }))
end
add({
    name = "Scale", path = "Module:forward", fn = function(x) return Scale():forward(x) end,
    args = {}, bad = { { "no forward", function() return lunet.ones(2) end,
        { "not implemented" } } },
})
add({
    name = "Scale", path = "Module:backward",
    fn = function(x, g) return Scale():backward(x, g) end,
    args = {}, bad = { { "no backward", function() return lunet.ones(2), lunet.ones(2) end,
        { "not implemented" } } },
})
add(module_method_case("train", { A.opt_boolean() }))
for _, method in ipairs({ "evaluate", "parameters", "named_parameters", "num_parameters",
    "state_dict", "zero_grad", "children" }) do
    add(module_method_case(method, {}))
end
add(module_method_case("load_state_dict", {
    A.custom(function() return Scale():state_dict() end, {
        { "nil", nil, { "nil" } },
        { "a string", "text", { "string" } },
        { "a missing key", function()
            local state = Scale():state_dict()
            state["inner.bias"] = nil
            return state
        end, { "inner.bias" } },
        { "a wrong shape", function()
            local state = Scale():state_dict()
            state.factor = lunet.ones(2)
            return state
        end, { "factor" } },
    }),
    A.options(),
}, { views = false }))

-- Sequential methods.
add({
    name = "Sequential.add", path = "Sequential:add",
    fn = function(m) return nn.Sequential():add(m) end,
    args = { A.custom(function() return nn.ReLU() end, {
        { "nil", nil, { "nil" } },
        { "a string", "text", { "string" } },
        { "a table without forward", function() return {} end, { "table" } },
    }) },
})
add({
    name = "Sequential", path = "Sequential:forward",
    fn = function(x) return nn.Sequential(nn.Linear(3, 4), nn.ReLU()):forward(x) end,
    args = { A.tensor(2, 3) },
    bad = { { "too many features", function() return lunet.rand(2, 5) end,
        { "2x5", "Linear" } } },
})
add({
    name = "Sequential.backward", path = "Sequential:backward",
    fn = function(x, g)
        local model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        pcall(model.forward, model, x)
        return model:backward(x, g)
    end,
    -- An input other than the one forward saw cannot be differentiated.
    args = { A.custom(function() return lunet.rand(2, 3) end, {
        { "nil", nil, { "call forward" } },
        { "a string", "text", { "call forward" } },
        { "a closed tensor", A.closed_tensor, { "call forward" } },
    }), A.tensor(2, 4) },
    bad = { wrong_grad({ 2, 3 }, { 2, 5 }) },
})

return {
    cases = cases,
    -- Paths that spec/bad_input_spec.lua checks by hand.
    by_hand = {},
}
