local lunet = require "lunet"
local json = require "dkjson"
local gradient_check = require "spec.gradient_check"
require "lunet.assertions"

local nn = lunet.nn

-- Returns the error message of a call that must fail.
local function error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    return tostring(err)
end

-- A random input whose elements are at least 0.1 away from 0, so a central
-- difference of step 1e-2 never straddles the kink of ReLU or LeakyReLU.
local function away_from_zero(...)
    local values = lunet.randn(...):flat()
    for i, value in ipairs(values) do
        values[i] = value < 0 and value - 0.1 or value + 0.1
    end
    return lunet.tensor(values):view(...)
end

local X = { { -1, 0, 2 }, { 3, -4, 0.5 } }

describe("activations", function()
    before_each(function()
        lunet.manual_seed(11)
    end)

    describe("nn.ReLU", function()
        it("zeroes negative values", function()
            assert.tensor_near(nn.ReLU()(lunet.tensor(X)), { { 0, 0, 2 }, { 3, 0, 0.5 } },
                { atol = 0, rtol = 0 })
        end)

        it("passes no gradient at zero", function()
            local grad = nn.ReLU():backward(lunet.tensor(X), lunet.full({ 2, 3 }, 2))
            assert.tensor_near(grad, { { 0, 0, 2 }, { 2, 0, 2 } }, { atol = 0, rtol = 0 })
        end)

        it("keeps NaN", function()
            local y = nn.ReLU()(lunet.tensor { 0 / 0, -1 }):flat()
            assert.is_true(y[1] ~= y[1])
            assert.are.equal(0, y[2])
        end)

        it("accepts 0-d and 3-d inputs", function()
            assert.are.equal(2, nn.ReLU()(lunet.tensor(2)):item())
            assert.has_shape(nn.ReLU()(lunet.randn(2, 3, 4)), { 2, 3, 4 })
        end)

        it("matches finite differences", function()
            gradient_check.check_layer(nn.ReLU(), away_from_zero(3, 4))
        end)
    end)

    describe("nn.LeakyReLU", function()
        it("scales negative values by 0.01", function()
            assert.tensor_near(nn.LeakyReLU()(lunet.tensor(X)),
                { { -0.01, 0, 2 }, { 3, -0.04, 0.5 } }, { atol = 1e-7, rtol = 1e-6 })
        end)

        it("takes a negative slope", function()
            assert.tensor_near(nn.LeakyReLU(0.2)(lunet.tensor(X)),
                { { -0.2, 0, 2 }, { 3, -0.8, 0.5 } }, { atol = 1e-7, rtol = 1e-6 })
        end)

        it("passes the slope at zero", function()
            local grad = nn.LeakyReLU(0.2):backward(lunet.tensor(X), lunet.ones(2, 3))
            assert.tensor_near(grad, { { 0.2, 0.2, 1 }, { 1, 0.2, 1 } }, { atol = 1e-7, rtol = 0 })
        end)

        it("matches finite differences", function()
            gradient_check.check_layer(nn.LeakyReLU(0.3), away_from_zero(2, 3, 2))
        end)

        it("rejects a non-number slope", function()
            local err = error_of(nn.LeakyReLU, "0.2")
            assert.matches("LeakyReLU: negative_slope must be a number, got string", err, 1, true)
        end)
    end)

    describe("nn.Sigmoid", function()
        it("computes 1 / (1 + e^-x)", function()
            local values = { -3, -0.5, 0, 0.5, 3 }
            local expected = {}
            for i, x in ipairs(values) do
                expected[i] = 1 / (1 + math.exp(-x))
            end
            assert.tensor_near(nn.Sigmoid()(lunet.tensor(values)), expected,
                { atol = 1e-7, rtol = 1e-6 })
        end)

        it("saturates without NaN", function()
            local x = lunet.tensor { -100, 100 }
            local y = nn.Sigmoid()(x):flat()
            assert.is_true(y[1] >= 0 and y[1] < 1e-30)
            assert.are.equal(1, y[2])
            assert.tensor_near(nn.Sigmoid():backward(x, lunet.ones(2)), 0, { atol = 1e-30 })
        end)

        it("matches finite differences", function()
            gradient_check.check_layer(nn.Sigmoid(), lunet.randn(3, 4), { eps = 1e-3 })
        end)
    end)

    describe("nn.Tanh", function()
        it("computes tanh", function()
            local values = { -3, -0.5, 0, 0.5, 3 }
            local expected = {}
            for i, x in ipairs(values) do
                expected[i] = (math.exp(x) - math.exp(-x)) / (math.exp(x) + math.exp(-x))
            end
            assert.tensor_near(nn.Tanh()(lunet.tensor(values)), expected,
                { atol = 1e-7, rtol = 1e-6 })
        end)

        it("matches finite differences", function()
            gradient_check.check_layer(nn.Tanh(), lunet.randn(3, 4), { eps = 1e-3 })
        end)
    end)

    describe("nn.Softmax", function()
        it("normalizes the last dim by default", function()
            local y = nn.Softmax()(lunet.tensor { { 1, 2, 3 }, { 0, 0, 0 } })
            local e = { math.exp(1), math.exp(2), math.exp(3) }
            local sum = e[1] + e[2] + e[3]
            assert.tensor_near(y, { { e[1] / sum, e[2] / sum, e[3] / sum }, { 1 / 3, 1 / 3, 1 / 3 } },
                { atol = 1e-7, rtol = 1e-6 })
        end)

        it("normalizes the given dim", function()
            local x = lunet.randn(3, 4, 5)
            assert.is_distribution(nn.Softmax(1)(x), 1)
            assert.is_distribution(nn.Softmax(2)(x), 2)
            assert.is_distribution(nn.Softmax(-1)(x), 3)
        end)

        for _, dim in ipairs { 1, 2, -1 } do
            it("matches finite differences, dim " .. dim, function()
                gradient_check.check_layer(nn.Softmax(dim), lunet.randn(2, 3, 4), { eps = 1e-3 })
            end)
        end

        it("rejects a dim out of range", function()
            local err = error_of(nn.Softmax(3), lunet.zeros(2, 3))
            assert.matches("Softmax: dim 3 is out of range for a 2-d tensor (expected -2..2, "
                .. "excluding 0)", err, 1, true)
            err = error_of(nn.Softmax(3).backward, nn.Softmax(3), lunet.zeros(2, 3),
                lunet.zeros(2, 3))
            assert.matches("Softmax.backward: dim 3 is out of range", err, 1, true)
        end)

        it("rejects dim 0", function()
            local err = error_of(nn.Softmax, 0)
            assert.matches("Softmax: dim 0 is invalid (dims are 1-based: use 1 for the first "
                .. "dim or -1 for the last)", err, 1, true)
            err = error_of(nn.LogSoftmax, 1.5)
            assert.matches("LogSoftmax: dim must be an integer, got 1.5", err, 1, true)
        end)
    end)

    describe("nn.LogSoftmax", function()
        it("is the log of softmax", function()
            local x = lunet.randn(4, 6)
            local log_probs = nn.LogSoftmax()(x):flat()
            local probs = nn.Softmax()(x):flat()
            for i = 1, #probs do
                assert.is_true(math.abs(math.exp(log_probs[i]) - probs[i]) < 1e-6)
            end
        end)

        it("stays finite for large logits", function()
            local y = nn.LogSoftmax()(lunet.tensor { 1000, 0 })
            assert.tensor_near(y, { 0, -1000 }, { atol = 1e-4, rtol = 0 })
        end)

        for _, dim in ipairs { 1, 2, -1 } do
            it("matches finite differences, dim " .. dim, function()
                gradient_check.check_layer(nn.LogSoftmax(dim), lunet.randn(2, 3, 4),
                    { eps = 1e-3 })
            end)
        end
    end)

    describe("nn.Flatten", function()
        it("keeps the first dim by default", function()
            local x = lunet.randn(2, 3, 4)
            local y = nn.Flatten()(x)
            assert.has_shape(y, { 2, 12 })
            assert.tensor_near(y, x:reshape(2, 12), { atol = 0, rtol = 0 })
        end)

        it("returns a view of a contiguous input", function()
            local x = lunet.zeros(2, 3, 4)
            local y = nn.Flatten()(x)
            y:fill_(5)
            assert.tensor_near(x, 5)
        end)

        it("copies a non-contiguous input", function()
            local x = lunet.randn(3, 4):t()
            local y = nn.Flatten(1)(x)
            assert.has_shape(y, { 12 })
            assert.tensor_near(y, x:contiguous():flat(), { atol = 0, rtol = 0 })
        end)

        it("merges the given dims", function()
            local x = lunet.randn(2, 3, 4, 5)
            assert.has_shape(nn.Flatten(1, 2)(x), { 6, 4, 5 })
            assert.has_shape(nn.Flatten(2, 3)(x), { 2, 12, 5 })
            assert.has_shape(nn.Flatten(-2, -1)(x), { 2, 3, 20 })
            assert.has_shape(nn.Flatten(3, 3)(x), { 2, 3, 4, 5 })
            assert.has_shape(nn.Flatten(1, -1)(lunet.tensor(7)), { 1 })
        end)

        it("reshapes the gradient back", function()
            local flatten = nn.Flatten()
            local x = lunet.randn(2, 3, 4)
            local grad = lunet.randn(2, 12)
            local grad_input = flatten:backward(x, grad)
            assert.has_shape(grad_input, { 2, 3, 4 })
            assert.tensor_near(grad_input, grad:reshape(2, 3, 4), { atol = 0, rtol = 0 })
        end)

        it("matches finite differences", function()
            gradient_check.check_layer(nn.Flatten(), lunet.randn(2, 3, 2))
        end)

        it("rejects start_dim after end_dim", function()
            local err = error_of(nn.Flatten(3, 2), lunet.zeros(2, 3, 4))
            assert.matches("Flatten: start_dim 3 comes after end_dim 2 for a 3-d input", err, 1,
                true)
        end)

        it("rejects dims out of range", function()
            local err = error_of(nn.Flatten(), lunet.zeros(5))
            assert.matches("Flatten: dim 2 is out of range for a 1-d tensor (expected -1..1, "
                .. "excluding 0)", err, 1, true)
            err = error_of(nn.Flatten, 0)
            assert.matches("Flatten: start_dim 0 is invalid", err, 1, true)
            err = error_of(nn.Flatten, 1, {})
            assert.matches("Flatten: end_dim must be an integer, got table", err, 1, true)
        end)

        it("rejects a wrong grad_output", function()
            local err = error_of(nn.Flatten().backward, nn.Flatten(), lunet.zeros(2, 3, 4),
                lunet.zeros(2, 3, 4))
            assert.matches("Flatten.backward: grad_output has shape 2x3x4 but the output has "
                .. "shape 2x12", err, 1, true)
        end)
    end)

    describe("nn.Identity", function()
        it("returns its input", function()
            local identity = nn.Identity(54, "ignored")
            local x = lunet.randn(2, 3)
            assert.are.equal(x, identity(x))
            local grad = lunet.randn(2, 3)
            assert.are.equal(grad, identity:backward(x, grad))
        end)
    end)

    describe("nn.Dropout", function()
        it("is the identity in evaluation mode", function()
            local dropout = nn.Dropout(0.5):evaluate()
            local x = lunet.randn(4, 5)
            assert.are.equal(x, dropout(x))
            local grad = lunet.randn(4, 5)
            assert.are.equal(grad, dropout:backward(x, grad))
        end)

        it("drops a fraction p and scales the rest", function()
            local p = 0.3
            local y = nn.Dropout(p)(lunet.ones(100000)):flat()
            local dropped = 0
            for _, value in ipairs(y) do
                if value == 0 then
                    dropped = dropped + 1
                else
                    assert.is_true(math.abs(value - 1 / (1 - p)) < 1e-6)
                end
            end
            assert.is_true(math.abs(dropped / #y - p) < 0.01)
        end)

        it("keeps the mean", function()
            local y = nn.Dropout(0.5)(lunet.ones(100000)):flat()
            local sum = 0
            for _, value in ipairs(y) do
                sum = sum + value
            end
            assert.is_true(math.abs(sum / #y - 1) < 0.02)
        end)

        it("repeats the mask for a seed", function()
            local x = lunet.randn(50)
            lunet.manual_seed(3)
            local first = nn.Dropout()(x)
            lunet.manual_seed(3)
            local second = nn.Dropout()(x)
            assert.tensor_near(first, second, { atol = 0, rtol = 0 })
            lunet.manual_seed(4)
            assert.is_not.tensor_near(nn.Dropout()(x), first, { atol = 0, rtol = 0 })
        end)

        it("backpropagates through the same mask", function()
            local dropout = nn.Dropout(0.4)
            local x = lunet.ones(200)
            local y = dropout(x)
            local grad = dropout:backward(x, lunet.ones(200))
            assert.tensor_near(grad, y, { atol = 0, rtol = 0 })
            assert.tensor_near(dropout._mask, y, { atol = 0, rtol = 0 })
        end)

        it("zeroes everything at p = 1", function()
            assert.tensor_near(nn.Dropout(1)(lunet.randn(30)), 0, { atol = 0, rtol = 0 })
        end)

        it("keeps everything at p = 0", function()
            local x = lunet.randn(30)
            assert.tensor_near(nn.Dropout(0)(x), x, { atol = 0, rtol = 0 })
        end)

        it("matches finite differences", function()
            gradient_check.check_layer(nn.Dropout(0.5), lunet.randn(4, 5), {
                before_forward = function() lunet.manual_seed(21) end,
            })
        end)

        it("has no parameters", function()
            local dropout = nn.Dropout()
            dropout(lunet.randn(3))
            assert.are.same({}, dropout:parameters())
        end)

        it("rejects p outside [0, 1]", function()
            local err = error_of(nn.Dropout, 1.5)
            assert.matches("Dropout: p must be between 0 and 1, got 1.5", err, 1, true)
            err = error_of(nn.Dropout, -0.1)
            assert.matches("Dropout: p must be between 0 and 1, got -0.1", err, 1, true)
            err = error_of(nn.Dropout, 0 / 0)
            assert.matches("Dropout: p must be between 0 and 1", err, 1, true)
            err = error_of(nn.Dropout, "0.5")
            assert.matches("Dropout: p must be a number, got string", err, 1, true)
        end)

        it("needs a forward pass before backward", function()
            local err = error_of(nn.Dropout().backward, nn.Dropout(), lunet.zeros(2, 3),
                lunet.zeros(2, 3))
            assert.matches("Dropout.backward: no mask for input 2x3; call forward in training "
                .. "mode first", err, 1, true)
        end)
    end)

    describe("tostring", function()
        local cases = {
            { nn.ReLU(), "ReLU()" },
            { nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)" },
            { nn.LeakyReLU(0.2), "LeakyReLU(negative_slope=0.2)" },
            { nn.Sigmoid(), "Sigmoid()" },
            { nn.Tanh(), "Tanh()" },
            { nn.Softmax(), "Softmax(dim=-1)" },
            { nn.LogSoftmax(2), "LogSoftmax(dim=2)" },
            { nn.Flatten(), "Flatten(start_dim=2, end_dim=-1)" },
            { nn.Flatten(1, 3), "Flatten(start_dim=1, end_dim=3)" },
            { nn.Identity(), "Identity()" },
            { nn.Dropout(), "Dropout(p=0.5)" },
            { nn.Dropout(0.25), "Dropout(p=0.25)" },
        }
        for _, case in ipairs(cases) do
            it("prints " .. case[2], function()
                assert.are.equal(case[2], tostring(case[1]))
            end)
        end
    end)

    describe("errors", function()
        local layers = {
            ReLU = nn.ReLU(), LeakyReLU = nn.LeakyReLU(), Sigmoid = nn.Sigmoid(),
            Tanh = nn.Tanh(), Softmax = nn.Softmax(), LogSoftmax = nn.LogSoftmax(),
            Identity = nn.Identity(), Dropout = nn.Dropout(),
        }
        for name, layer in pairs(layers) do
            it("rejects a non-tensor input to " .. name, function()
                local err = error_of(layer, "x")
                assert.matches(name .. ": bad argument #2 (tensor expected, got string)", err, 1,
                    true)
            end)

            it("rejects a wrong grad_output in " .. name, function()
                local x = lunet.zeros(2, 3)
                layer(x)
                local err = error_of(layer.backward, layer, x, lunet.zeros(3, 2))
                assert.matches(name .. ".backward: grad_output has shape 3x2 but the output has "
                    .. "shape 2x3", err, 1, true)
                err = error_of(layer.backward, layer, x, nil)
                assert.matches(name .. ".backward: bad argument #3 (tensor expected, got nil)",
                    err, 1, true)
            end)
        end
    end)

    describe("PyTorch fixtures", function()
        local tensors, metadata = lunet.load("spec/fixtures/activations.safetensors")
        local tolerance = { rtol = 1e-4, atol = 1e-6 }

        local function layer_of(config)
            if config.op == "relu" then
                return nn.ReLU()
            elseif config.op == "leaky_relu" then
                return nn.LeakyReLU(config.negative_slope)
            elseif config.op == "sigmoid" then
                return nn.Sigmoid()
            elseif config.op == "tanh" then
                return nn.Tanh()
            elseif config.op == "softmax" then
                return nn.Softmax(config.dim)
            elseif config.op == "log_softmax" then
                return nn.LogSoftmax(config.dim)
            elseif config.op == "flatten" then
                return nn.Flatten(config.start_dim, config.end_dim)
            end
            error("no layer for op " .. tostring(config.op))
        end

        local names = {}
        for name in pairs(metadata) do
            names[#names + 1] = name
        end
        table.sort(names)

        for _, name in ipairs(names) do
            it("matches case " .. name, function()
                local layer = layer_of(json.decode(metadata[name]))
                local x = tensors[name .. ".input"]
                assert.tensor_near(layer(x), tensors[name .. ".output"], tolerance, "output")
                assert.tensor_near(layer:backward(x, tensors[name .. ".grad_output"]),
                    tensors[name .. ".grad_input"], tolerance, "grad_input")
            end)
        end
    end)
end)
