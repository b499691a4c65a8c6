--- Bad-input cases of lunet.optim (optimizers, their step and zero_grad,
-- learning-rate schedulers) and of the model constructors in models/. See
-- spec/helpers/bad_input.lua for the case format;
-- spec/bad_input_training_spec.lua runs them.
local lunet = require "lunet"
local A = require "spec.helpers.bad_input"

local optim = lunet.optim

local cases = {}

local function add(case)
    cases[#cases + 1] = case
end

local function params()
    return { lunet.rand(2, 3), lunet.rand(3) }
end

local function params_arg()
    return A.custom(params, {
        { "nil", nil, { "nil" } },
        { "a string", "text", { "string" } },
        { "a tensor", function() return lunet.rand(2) end, { "tensor" } },
        { "an empty list", {}, { "empty" } },
        { "a string in the list", function() return { lunet.rand(2), "x" } end,
            { "params[2]", "string" } },
        { "a repeated tensor", function()
            local t = lunet.rand(2)
            return { t, t }
        end, { "params[2]", "params[1]" } },
        { "a table with a string key", function() return { w = lunet.rand(2) } end, { "w" } },
    })
end

local function copy(t)
    local result = {}
    for key, value in pairs(t) do
        result[key] = value
    end
    return result
end

-- An options table with `valid` as the valid value and each entry of
-- `wrong` ({option, value, names}) tried on top of valid.
local function options_arg(valid, wrong)
    local entries = {
        { "a string", "text", { "string" } },
        { "a number", 5, { "number" } },
        { "a tensor", function() return lunet.rand(2) end, { "tensor", "userdata" } },
        { "an unknown option", function()
            local t = copy(valid)
            t.unknown = 1
            return t
        end, { "unknown" } },
    }
    for _, entry in ipairs(wrong) do
        entries[#entries + 1] = { "option " .. entry[1], function()
            local t = copy(valid)
            t[entry[1]] = entry[2]
            return t
        end, entry[3] or { entry[1] } }
    end
    return A.custom(function() return copy(valid) end, entries)
end

local NAN = 0 / 0

add({
    name = "SGD", path = "optim.SGD", fn = optim.SGD,
    args = { params_arg(), options_arg({ lr = 0.1 }, {
        { "lr", nil, { "lr", "required" } },
        { "lr", -1, { "lr", "-1" } },
        { "lr", NAN, { "lr", "nan" } },
        { "lr", "x", { "lr", "string" } },
        { "momentum", -0.5, { "momentum", "-0.5" } },
        { "dampening", "x", { "dampening", "string" } },
        { "weight_decay", -1, { "weight_decay", "-1" } },
        { "nesterov", 1, { "nesterov", "number" } },
        { "nesterov", true, { "nesterov", "momentum" } },
        { "maximize", "yes", { "maximize", "string" } },
    }) },
})
for _, name in ipairs({ "Adam", "AdamW" }) do
    add({
        name = name, path = "optim." .. name, fn = optim[name],
        args = { params_arg(), options_arg({ lr = 0.01 }, {
            { "lr", -1, { "lr", "-1" } },
            { "lr", NAN, { "lr", "nan" } },
            { "betas", { 0.9 }, { "betas", "{0.9}" } },
            { "betas", { 1, 0.999 }, { "betas", "1" } },
            { "betas", { 0.9, NAN }, { "betas" } },
            { "betas", 0.9, { "betas", "number" } },
            { "eps", -1, { "eps", "-1" } },
            { "weight_decay", "x", { "weight_decay", "string" } },
            { "amsgrad", 1, { "amsgrad", "number" } },
        }) },
    })
end

local function optimizer()
    return optim.SGD(params(), { lr = 0.1 })
end

add({
    name = "StepLR", path = "optim.StepLR", fn = optim.StepLR,
    args = {
        A.custom(optimizer, {
            { "nil", nil, { "nil" } },
            { "a string", "text", { "string" } },
            { "a table without lr", {}, { "lr" } },
        }),
        options_arg({ step_size = 2 }, {
            { "step_size", nil, { "step_size", "required" } },
            { "step_size", 0, { "step_size", "0" } },
            { "step_size", 1.5, { "step_size", "1.5" } },
            { "gamma", "x", { "gamma", "string" } },
        }),
    },
})
add({
    name = "CosineAnnealingLR", path = "optim.CosineAnnealingLR", fn = optim.CosineAnnealingLR,
    args = {
        A.custom(optimizer, {
            { "nil", nil, { "nil" } },
            { "a number", 5, { "number" } },
        }),
        options_arg({ T_max = 10 }, {
            { "T_max", nil, { "T_max", "required" } },
            { "T_max", 0, { "T_max", "0" } },
            { "T_max", -3, { "T_max", "-3" } },
            { "eta_min", "x", { "eta_min", "string" } },
        }),
    },
})

-- Optimizer methods: step with a grad of the wrong shape, or with a
-- parameter or grad closed after the optimizer was made.
for _, name in ipairs({ "SGD", "Adam", "AdamW" }) do
    add({
        name = name .. ".step", path = name .. ":step",
        fn = function(grad, close)
            local weight = lunet.rand(2, 3)
            weight.grad = grad
            local opt = optim[name]({ weight }, { lr = 0.1 })
            if close == "weight" then
                weight:close()
            elseif close == "grad" then
                grad:close()
            end
            return opt:step()
        end,
        args = {
            A.custom(function() return lunet.rand(2, 3) end, {
                { "a grad of shape 3x2", function() return lunet.rand(3, 2) end, { "3x2" } },
            }),
            A.any(nil),
        },
        bad = {
            { "a closed parameter", function() return lunet.rand(2, 3), "weight" end,
                { "params[1]", "closed" } },
            { "a closed grad", function() return lunet.rand(2, 3), "grad" end,
                { "params[1]", "closed" } },
        },
    })
end
add({
    name = "SGD.zero_grad", path = "SGD:zero_grad",
    fn = function() return optimizer():zero_grad() end,
    args = {},
})
for _, name in ipairs({ "StepLR", "CosineAnnealingLR" }) do
    local options = name == "StepLR" and { step_size = 2 } or { T_max = 4 }
    add({
        name = name, path = name .. ":step",
        fn = function() return optim[name](optimizer(), options):step() end,
        args = {},
    })
    add({
        name = name, path = name .. ":get_last_lr",
        fn = function() return optim[name](optimizer(), options):get_last_lr() end,
        args = {},
    })
end

-- Model constructors -----------------------------------------------------------------

-- Every model file in models/, as {module name, module}.
local function model_modules()
    local list = {}
    local pipe = assert(io.popen("ls models/*.lua"))
    for file in pipe:lines() do
        local name = file:match("^models/(.+)%.lua$")
        list[#list + 1] = { name, require("models." .. name) }
    end
    pipe:close()
    return list
end

-- Small sizes keep each constructor call cheap: the checks below build
-- several models per constructor.
local SMALL = {
    vgg = { width = 1 / 64, num_classes = 3, init = false },
    fashion_vgg = { width = 2, hidden = 4 },
    simple_vgg = { num_classes = 3, input_size = 8 },
}

local MODEL_OPTIONS = {
    vgg = {
        { "num_classes", 0, { "num_classes", "0" } },
        { "num_classes", "x", { "num_classes", "x" } },
        { "width", 0, { "width", "0" } },
        { "width", "x", { "width", "x" } },
        { "dropout", 2, { "dropout", "2" } },
        { "batch_norm", "yes", { "batch_norm", "yes" } },
        { "in_channels", 0, { "in_channels", "0" } },
    },
    fashion_vgg = {
        { "width", 0, { "width", "0" } },
        { "width", 1.5, { "width", "1.5" } },
        { "hidden", "x", { "hidden", "x" } },
        { "num_classes", -1, { "num_classes", "-1" } },
        { "dropout", 2, { "dropout", "2" } },
    },
    simple_vgg = {
        { "num_classes", 0, { "num_classes", "0" } },
        { "in_channels", "x", { "in_channels", "x" } },
        { "input_size", 1, { "input_size", "1" } },
        { "input_size", { 8, "x" }, { "width", "x" } },
    },
}

local model_names = {}
for _, entry in ipairs(model_modules()) do
    local file, module = entry[1], entry[2]
    local functions = {}
    if type(module) == "function" then
        functions[file] = module
    else
        for key, value in pairs(module) do
            if type(value) == "function" then
                functions[key] = value
            end
        end
    end
    for key, fn in pairs(functions) do
        -- The _bn constructors set batch_norm themselves, over any given value.
        local wrong = {}
        for _, entry in ipairs(MODEL_OPTIONS[file] or {}) do
            if not (entry[1] == "batch_norm" and key:sub(-3) == "_bn") then
                wrong[#wrong + 1] = entry
            end
        end
        model_names[#model_names + 1] = "models." .. file .. (key ~= file and "." .. key or "")
        add({
            name = file, path = model_names[#model_names], fn = fn,
            args = { options_arg(SMALL[file] or {}, wrong) },
        })
    end
end

return {
    cases = cases,
    models = model_names,
    -- Paths that spec/bad_input_spec.lua checks by hand.
    by_hand = {},
}
