local lunet = require "lunet"
local json = require "dkjson"
local gradient_check = require "spec.gradient_check"
require "lunet.assertions"

local nn = lunet.nn

-- PyTorch agreement: within 1e-5 absolute or 1e-4 relative.
local TORCH = { atol = 1e-5, rtol = 1e-4 }
local CLOSE = { atol = 1e-6, rtol = 1e-6 }

local function error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    return tostring(err)
end

local function assert_error(expected, fn, ...)
    assert.matches(expected, error_of(fn, ...), 1, true)
end

local function sorted_keys(t)
    local keys = {}
    for key in pairs(t) do
        keys[#keys + 1] = key
    end
    table.sort(keys)
    return keys
end

-- Mean and biased variance, in double, of channel c (1-based) of a
-- contiguous (N, C, *) tensor.
local function channel_statistics(x, c)
    local size = x:size()
    local n, channels = size[1], size[2]
    local plane = x:numel() // (n * channels)
    local values = x:flat()
    local list = {}
    for i = 0, n - 1 do
        for k = 1, plane do
            list[#list + 1] = values[(i * channels + c - 1) * plane + k]
        end
    end
    local sum = 0
    for _, v in ipairs(list) do
        sum = sum + v
    end
    local mean = sum / #list
    local squares = 0
    for _, v in ipairs(list) do
        squares = squares + (v - mean) ^ 2
    end
    return mean, squares / #list
end

-- Gives every parameter and buffer of layer random values away from the
-- defaults, so that checks see each of them act.
local function randomize(layer, channels)
    if layer.weight then
        layer.weight:copy_(lunet.rand(channels) + 0.5)
        layer.bias:copy_(lunet.randn(channels))
    end
    if layer.running_mean then
        layer.running_mean:copy_(lunet.randn(channels))
        layer.running_var:copy_(lunet.rand(channels) + 0.5)
    end
    return layer
end

-- Checks grad_input, and grad weight and bias when the layer has them,
-- against central differences.
local function check_gradient(layer, x)
    local parameters = layer.weight and { "weight", "bias" } or {}
    gradient_check.check_layer(layer, x, { eps = 1e-2, atol = 2e-3, rtol = 2e-3,
        parameters = parameters })
end

before_each(function()
    lunet.manual_seed(5)
end)

describe("nn.BatchNorm2d", function()
    describe("construction", function()
        it("creates parameters and buffers", function()
            local bn = nn.BatchNorm2d(3)
            assert.tensor_near(bn.weight, lunet.ones(3), CLOSE)
            assert.tensor_near(bn.bias, lunet.zeros(3), CLOSE)
            assert.tensor_near(bn.running_mean, lunet.zeros(3), CLOSE)
            assert.tensor_near(bn.running_var, lunet.ones(3), CLOSE)
            assert.are.same({ "bias", "running_mean", "running_var", "weight" },
                sorted_keys(bn:state_dict()))
            assert.are.equal(2, #bn:parameters())
        end)

        it("leaves out weight and bias without affine", function()
            local bn = nn.BatchNorm2d(3, { affine = false })
            assert.is_nil(bn.weight)
            assert.is_nil(bn.bias)
            assert.are.same({ "running_mean", "running_var" }, sorted_keys(bn:state_dict()))
            assert.are.same({}, bn:parameters())
        end)

        it("leaves out running statistics when not tracked", function()
            local bn = nn.BatchNorm2d(3, { track_running_stats = false })
            assert.is_nil(bn.running_mean)
            assert.is_nil(bn.running_var)
            assert.are.same({ "bias", "weight" }, sorted_keys(bn:state_dict()))
        end)
    end)

    describe("training", function()
        it("normalizes each channel over N, H and W", function()
            local x = lunet.randn(4, 3, 5, 5) * 3 + 2
            local y = nn.BatchNorm2d(3)(x)
            for c = 1, 3 do
                local mean, var = channel_statistics(y, c)
                assert.is_true(math.abs(mean) < 1e-5, "mean of channel " .. c)
                assert.is_true(math.abs(var - 1) < 1e-4, "variance of channel " .. c)
            end
        end)

        it("updates running statistics with momentum", function()
            -- Channel 1 contains 1, 2, 3, 4: mean 2.5, biased variance 1.25 and
            -- unbiased variance 5 / 3. Channel 2 is constant 5.
            local bn = nn.BatchNorm2d(2, { momentum = 0.5 })
            local x = lunet.tensor({ { { { 1, 2 } }, { { 5, 5 } } }, { { { 3, 4 } }, { { 5, 5 } } } })
            bn(x)
            assert.tensor_near(bn.running_mean, lunet.tensor({ 1.25, 2.5 }), CLOSE)
            assert.tensor_near(bn.running_var, lunet.tensor({ 0.5 + 0.5 * 5 / 3, 0.5 }), CLOSE)

            -- Doubled: channel 1 has mean 5 and unbiased variance 20 / 3.
            local y = bn(x * 2)
            assert.tensor_near(bn.running_mean, lunet.tensor({ 3.125, 6.25 }), CLOSE)
            assert.tensor_near(bn.running_var, lunet.tensor({ 4, 0.25 }), CLOSE)
            assert.tensor_near(y[1][2], lunet.zeros(1, 2), CLOSE)
        end)

        it("applies weight and bias", function()
            local bn = nn.BatchNorm2d(1, { eps = 0 })
            bn.weight:fill_(2)
            bn.bias:fill_(1)
            local y = bn(lunet.tensor({ { { { 1, 3 } } } }))
            assert.tensor_near(y, lunet.tensor({ { { { -1, 3 } } } }), CLOSE)
        end)

        it("normalizes unbatched input as a batch of one", function()
            local x = lunet.randn(3, 4, 5)
            local bn, batched = randomize(nn.BatchNorm2d(3), 3), nn.BatchNorm2d(3)
            batched:load_state_dict(bn:state_dict())
            local y = bn(x)
            assert.has_shape(y, { 3, 4, 5 })
            assert.tensor_near(y, batched(x:view(1, 3, 4, 5))[1], CLOSE)
            assert.tensor_near(bn.running_var, batched.running_var, CLOSE)

            local g = lunet.randn(3, 4, 5)
            local grad = bn:backward(x, g)
            assert.has_shape(grad, { 3, 4, 5 })
            assert.tensor_near(grad, batched:backward(x:view(1, 3, 4, 5), g:view(1, 3, 4, 5))[1],
                CLOSE)
        end)

        it("keeps saved statistics out of state_dict", function()
            local bn = nn.BatchNorm2d(2)
            bn(lunet.randn(2, 2, 3, 3))
            assert.has_shape(bn._save_mean, { 2 })
            assert.has_shape(bn._save_invstd, { 2 })
            assert.are.same({ "bias", "running_mean", "running_var", "weight" },
                sorted_keys(bn:state_dict()))
        end)

        it("accepts an empty batch", function()
            local bn = nn.BatchNorm2d(3)
            local x = lunet.zeros(0, 3, 2, 2)
            assert.has_shape(bn(x), { 0, 3, 2, 2 })
            assert.tensor_near(bn.running_var, lunet.ones(3), CLOSE)
            assert.has_shape(bn:backward(x, x), { 0, 3, 2, 2 })
            assert.tensor_near(bn.weight.grad, lunet.zeros(3), CLOSE)
        end)

        it("reads non-contiguous input", function()
            local x = lunet.randn(2, 3, 4, 5):transpose(3, 4)
            local a, b = nn.BatchNorm2d(3), nn.BatchNorm2d(3)
            assert.tensor_near(a(x), b(x:contiguous()), CLOSE)
            assert.tensor_near(a.running_var, b.running_var, CLOSE)
        end)
    end)

    describe("evaluation", function()
        it("uses the running statistics", function()
            local bn = nn.BatchNorm2d(2, { eps = 0 })
            bn.running_mean:copy_(lunet.tensor({ 1, -1 }))
            bn.running_var:copy_(lunet.tensor({ 4, 0.25 }))
            bn.weight:copy_(lunet.tensor({ 2, 3 }))
            bn.bias:copy_(lunet.tensor({ 0.5, -0.5 }))
            bn:evaluate()
            local y = bn(lunet.tensor({ { { { 3, 5 } }, { { 0, 1 } } } }))
            assert.tensor_near(y, lunet.tensor({ { { { 2.5, 4.5 } }, { { 5.5, 11.5 } } } }), CLOSE)
            assert.tensor_near(bn.running_mean, lunet.tensor({ 1, -1 }), CLOSE)
            assert.tensor_near(bn.running_var, lunet.tensor({ 4, 0.25 }), CLOSE)
        end)

        it("accepts one value per channel", function()
            local bn = nn.BatchNorm2d(3):evaluate()
            assert.has_shape(bn(lunet.ones(1, 3, 1, 1)), { 1, 3, 1, 1 })
        end)

        it("uses batch statistics when not tracking", function()
            local bn = nn.BatchNorm2d(2, { track_running_stats = false }):evaluate()
            local x = lunet.randn(3, 2, 2, 2) * 4 + 1
            local y = bn(x)
            local mean, var = channel_statistics(y, 2)
            assert.is_true(math.abs(mean) < 1e-5)
            assert.is_true(math.abs(var - 1) < 1e-4)
        end)
    end)

    describe("backward", function()
        it("matches finite differences in training", function()
            check_gradient(randomize(nn.BatchNorm2d(3), 3), lunet.randn(2, 3, 3, 2) * 2 + 1)
        end)

        it("matches finite differences in evaluation", function()
            local bn = randomize(nn.BatchNorm2d(3), 3):evaluate()
            check_gradient(bn, lunet.randn(2, 3, 3, 2))
        end)

        it("matches finite differences without affine", function()
            check_gradient(randomize(nn.BatchNorm2d(2, { affine = false }), 2),
                lunet.randn(3, 2, 2, 2))
            local bn = randomize(nn.BatchNorm2d(2, { affine = false }), 2):evaluate()
            check_gradient(bn, lunet.randn(3, 2, 2, 2))
        end)

        it("matches finite differences without running statistics", function()
            local bn = randomize(nn.BatchNorm2d(2, { track_running_stats = false }), 2)
            check_gradient(bn:evaluate(), lunet.randn(2, 2, 3, 3))
        end)

        it("matches finite differences for unbatched input", function()
            check_gradient(randomize(nn.BatchNorm2d(2), 2), lunet.randn(2, 3, 3))
        end)

        it("accumulates parameter gradients", function()
            local bn = randomize(nn.BatchNorm2d(2), 2)
            local x, g = lunet.randn(2, 2, 3, 3), lunet.randn(2, 2, 3, 3)
            bn(x)
            bn:backward(x, g)
            local weight_grad, bias_grad = bn.weight.grad:clone(), bn.bias.grad:clone()
            bn:backward(x, g)
            assert.tensor_near(bn.weight.grad, weight_grad * 2, CLOSE)
            assert.tensor_near(bn.bias.grad, bias_grad * 2, CLOSE)
        end)

        it("follows the mode of the last forward pass", function()
            -- Backward uses the mode of the last forward pass, as PyTorch's
            -- autograd does, so evaluate() between them changes nothing.
            local bn = randomize(nn.BatchNorm2d(2), 2)
            local x, g = lunet.randn(2, 2, 3, 3), lunet.randn(2, 2, 3, 3)
            bn(x)
            local training_grad = bn:backward(x, g)
            bn:evaluate()
            assert.tensor_near(bn:backward(x, g), training_grad, CLOSE)
        end)
    end)

    describe("errors", function()
        it("rejects one value per channel in training", function()
            assert_error("BatchNorm2d: expected more than 1 value per channel when training, got "
                .. "input of shape 1x3x1x1", nn.BatchNorm2d(3), lunet.ones(1, 3, 1, 1))
            assert_error("BatchNorm2d: expected more than 1 value per channel when training, got "
                .. "input of shape 3x1x1", nn.BatchNorm2d(3), lunet.ones(3, 1, 1))
            local untracked = nn.BatchNorm2d(3, { track_running_stats = false }):evaluate()
            assert_error("got input of shape 1x3x1x1", untracked, lunet.ones(1, 3, 1, 1))
        end)

        it("rejects a wrong channel count", function()
            assert_error("BatchNorm2d: input has 4 channels but the layer expects 3 (input "
                .. "2x4x5x5)", nn.BatchNorm2d(3), lunet.zeros(2, 4, 5, 5))
            assert_error("BatchNorm2d: input has 4 channels but the layer expects 3 (input 4x5x5)",
                nn.BatchNorm2d(3), lunet.zeros(4, 5, 5))
        end)

        it("rejects a wrong rank", function()
            assert_error("BatchNorm2d: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got 2x3",
                nn.BatchNorm2d(3), lunet.zeros(2, 3))
            assert_error("got 1x2x3x4x5", nn.BatchNorm2d(3), lunet.zeros(1, 2, 3, 4, 5))
        end)

        it("rejects bad constructor arguments", function()
            assert_error("BatchNorm2d: num_features must be positive, got 0", nn.BatchNorm2d, 0)
            assert_error("BatchNorm2d: num_features must be an integer, got 2.5", nn.BatchNorm2d,
                2.5)
            assert_error("BatchNorm2d: option 'eps' must be a finite number >= 0, got -1",
                nn.BatchNorm2d, 3, { eps = -1 })
            assert_error("BatchNorm2d: option 'eps' must be a number, got string", nn.BatchNorm2d,
                3, { eps = "small" })
            assert_error("BatchNorm2d: option 'momentum' must be between 0 and 1, got 1.5",
                nn.BatchNorm2d, 3, { momentum = 1.5 })
            assert_error("BatchNorm2d: option 'affine' must be a boolean, got number",
                nn.BatchNorm2d, 3, { affine = 1 })
            assert_error("BatchNorm2d: option 'track_running_stats' must be a boolean, got string",
                nn.BatchNorm2d, 3, { track_running_stats = "no" })
            assert_error("BatchNorm2d: bad argument #2 (options table expected, got number)",
                nn.BatchNorm2d, 3, 1e-5)
        end)

        it("rejects a wrong grad_output", function()
            local bn = nn.BatchNorm2d(3)
            local x = lunet.randn(2, 3, 2, 2)
            bn(x)
            assert_error("BatchNorm2d.backward: grad_output has shape 2x3x2 but the output has "
                .. "shape 2x3x2x2", bn.backward, bn, x, lunet.zeros(2, 3, 2))
        end)

        it("rejects backward before a training forward pass", function()
            local message = "BatchNorm2d.backward: the batch statistics of a training-mode "
                .. "forward pass are missing; call forward before backward"
            local bn = nn.BatchNorm2d(3)
            local x = lunet.randn(2, 3, 2, 2)
            assert_error(message, bn.backward, bn, x, x)
            bn:evaluate()
            bn(x)
            bn:train()
            assert_error(message, bn.backward, bn, x, x)
        end)

        it("rejects replaced fields of the wrong size", function()
            local bn = nn.BatchNorm2d(3)
            bn.weight = lunet.ones(4)
            assert_error("BatchNorm2d: weight has shape 4 but the input has 3 channels (input "
                .. "2x3x2x2)", bn, lunet.zeros(2, 3, 2, 2))
            bn = nn.BatchNorm2d(3):evaluate()
            bn.running_var = lunet.ones(3, 1)
            assert_error("BatchNorm2d: running_var has shape 3x1 but the input has 3 channels",
                bn, lunet.zeros(2, 3, 2, 2))
        end)
    end)

    it("prints like PyTorch", function()
        assert.are.equal("BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=true, "
            .. "track_running_stats=true)", tostring(nn.BatchNorm2d(64)))
        assert.are.equal("BatchNorm2d(8, eps=0.001, momentum=1.0, affine=false, "
            .. "track_running_stats=false)", tostring(nn.BatchNorm2d(8, { eps = 1e-3, momentum = 1,
            affine = false, track_running_stats = false })))
        assert.are.equal("BatchNorm2d(2, eps=0.0, momentum=0.01, affine=true, "
            .. "track_running_stats=true)", tostring(nn.BatchNorm2d(2, { eps = 0, momentum = 0.01 })))
        assert.matches("eps=2.5e-07,", tostring(nn.BatchNorm2d(2, { eps = 2.5e-7 })), 1, true)
    end)
end)

describe("nn.BatchNorm1d", function()
    it("normalizes (N, C) input", function()
        -- One channel of 1 and 3: mean 2, biased variance 1.
        local bn = nn.BatchNorm1d(1)
        local y = bn(lunet.tensor({ { 1 }, { 3 } }))
        local scale = 1 / math.sqrt(1 + 1e-5)
        assert.tensor_near(y, lunet.tensor({ { -scale }, { scale } }), CLOSE)
        assert.tensor_near(bn.running_mean, lunet.tensor({ 0.2 }), CLOSE)
        assert.tensor_near(bn.running_var, lunet.tensor({ 0.9 + 0.1 * 2 }), CLOSE)

        -- 3 and 7: mean 5, biased variance 4, unbiased variance 8.
        y = bn(lunet.tensor({ { 3 }, { 7 } }))
        scale = 2 / math.sqrt(4 + 1e-5)
        assert.tensor_near(y, lunet.tensor({ { -scale }, { scale } }), CLOSE)
        assert.tensor_near(bn.running_mean, lunet.tensor({ 0.68 }), CLOSE)
        assert.tensor_near(bn.running_var, lunet.tensor({ 1.79 }), CLOSE)
    end)

    it("normalizes (N, C, L) input over N and L", function()
        local x = lunet.randn(3, 4, 5) * 2 - 1
        local y = nn.BatchNorm1d(4)(x)
        for c = 1, 4 do
            local mean, var = channel_statistics(y, c)
            assert.is_true(math.abs(mean) < 1e-5, "mean of channel " .. c)
            assert.is_true(math.abs(var - 1) < 1e-4, "variance of channel " .. c)
        end
    end)

    it("matches finite differences", function()
        check_gradient(randomize(nn.BatchNorm1d(3), 3), lunet.randn(4, 3))
        check_gradient(randomize(nn.BatchNorm1d(3), 3), lunet.randn(2, 3, 4))
        check_gradient(randomize(nn.BatchNorm1d(3), 3):evaluate(), lunet.randn(2, 3, 4))
    end)

    it("rejects a wrong rank", function()
        assert_error("BatchNorm1d: expected a 2-d (N, C) or 3-d (N, C, L) input, got 3",
            nn.BatchNorm1d(3), lunet.zeros(3))
        assert_error("BatchNorm1d: expected a 2-d (N, C) or 3-d (N, C, L) input, got 2x3x4x4",
            nn.BatchNorm1d(3), lunet.zeros(2, 3, 4, 4))
    end)

    it("rejects one sample in training", function()
        assert_error("BatchNorm1d: expected more than 1 value per channel when training, got "
            .. "input of shape 1x3", nn.BatchNorm1d(3), lunet.zeros(1, 3))
    end)

    it("rejects a wrong channel count", function()
        assert_error("BatchNorm1d: input has 2 channels but the layer expects 3 (input 4x2)",
            nn.BatchNorm1d(3), lunet.zeros(4, 2))
    end)

    it("prints like PyTorch", function()
        assert.are.equal("BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=true, "
            .. "track_running_stats=true)", tostring(nn.BatchNorm1d(10)))
    end)
end)

-- Runs every case of a PyTorch batch norm fixture through a layer of class
-- and compares the output, gradients and running statistics.
local function check_fixture(file, class)
    local tensors, metadata = lunet.load("spec/fixtures/" .. file .. ".safetensors")
    local cases = 0
    for case, text in pairs(metadata) do
        local config = assert(json.decode(text))
        local function tensor(role)
            return tensors[case .. "." .. role]
        end
        local message = file .. " case " .. case
        local bn = class(config.num_features, { eps = config.eps, momentum = config.momentum,
            affine = config.affine })
        bn.running_mean:copy_(tensor("running_mean"))
        bn.running_var:copy_(tensor("running_var"))
        if config.affine then
            bn.weight:copy_(tensor("weight"))
            bn.bias:copy_(tensor("bias"))
        end
        bn:train(config.training)

        assert.tensor_near(bn(tensor("input")), tensor("output"), TORCH, message)
        assert.tensor_near(bn.running_mean, tensor("running_mean_after"), TORCH, message)
        assert.tensor_near(bn.running_var, tensor("running_var_after"), TORCH, message)
        local grad_input = bn:backward(tensor("input"), tensor("grad_output"))
        assert.tensor_near(grad_input, tensor("grad_input"), TORCH, message)
        if config.affine then
            assert.tensor_near(bn.weight.grad, tensor("grad_weight"), TORCH, message)
            assert.tensor_near(bn.bias.grad, tensor("grad_bias"), TORCH, message)
        end
        cases = cases + 1
    end
    assert.is_true(cases > 0)
end

describe("batch norm against PyTorch", function()
    it("matches BatchNorm2d fixtures", function()
        check_fixture("batchnorm2d", nn.BatchNorm2d)
    end)

    it("matches BatchNorm1d fixtures", function()
        check_fixture("batchnorm1d", nn.BatchNorm1d)
    end)
end)

describe("batch norm on large inputs", function()
    it("matches the unthreaded result", function()
        -- 4 x 8 x 32 x 32 elements pass LN_PARALLEL_GRAIN, so planes run on
        -- threads. A layer fed one channel at a time runs on one thread.
        local x = lunet.randn(4, 8, 32, 32) * 2 + 3
        local g = lunet.randn(4, 8, 32, 32)
        local bn = nn.BatchNorm2d(8)
        local y = bn(x)
        local grad = bn:backward(x, g)
        for _, c in ipairs({ 1, 8 }) do
            local single = nn.BatchNorm2d(1)
            local xc = x:narrow(2, c, 1):contiguous()
            local yc = single(xc)
            local gc = single:backward(xc, g:narrow(2, c, 1):contiguous())
            assert.tensor_near(y:narrow(2, c, 1), yc, CLOSE)
            assert.tensor_near(grad:narrow(2, c, 1), gc, { atol = 1e-5, rtol = 1e-5 })
            assert.tensor_near(bn.running_var:narrow(1, c, 1), single.running_var, CLOSE)
        end
    end)
end)
