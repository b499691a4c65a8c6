local lunet = require "lunet"
local json = require "dkjson"
local assert = require "lunet.assertions"
local gradient_check = require "spec.gradient_check"
local nn = lunet.nn

local function error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok, "expected an error")
    return tostring(err)
end

describe("Linear", function()
    it("computes x W^T + b", function()
        local linear = nn.Linear(2, 3)
        linear.weight:copy_(lunet.tensor { { 1, 2 }, { 3, 4 }, { 5, 6 } })
        linear.bias:copy_(lunet.tensor { 0.5, -0.5, 1 })
        local y = linear(lunet.tensor { { 1, 1 }, { 2, -1 } })
        assert.tensor_near(y, { { 3.5, 6.5, 12 }, { 0.5, 1.5, 5 } })
    end)

    it("takes unbatched and multi-dim inputs", function()
        lunet.manual_seed(5)
        local linear = nn.Linear(4, 3)
        local x = lunet.randn(2, 5, 4)
        local y = linear(x)
        assert.has_shape(y, { 2, 5, 3 })
        -- One row through the GEMV path equals the same row through GEMM.
        assert.tensor_near(linear(x[2][4]), y[2][4], { rtol = 1e-6, atol = 1e-6 })
    end)

    it("works without bias", function()
        local linear = nn.Linear(3, 2, { bias = false })
        assert.is_nil(linear.bias)
        assert.are.equal(1, #linear:parameters())
        linear.weight:fill_(1)
        assert.tensor_near(linear(lunet.tensor { 1, 2, 3 }), { 6, 6 })
    end)

    it("handles zero in_features", function()
        -- The output is the bias alone, and its gradient sums grad_output.
        local layer = nn.Linear(0, 5)
        layer.bias:copy_(lunet.arange(5))
        local y = layer(lunet.zeros(3, 0))
        assert.are.same({ 3, 5 }, y:size())
        assert.are.same({ 0, 1, 2, 3, 4 }, y:select(1, 3):totable())
        local grad_input = layer:backward(lunet.zeros(3, 0), lunet.ones(3, 5))
        assert.are.same({ 3, 0 }, grad_input:size())
        assert.are.same({ 3, 3, 3, 3, 3 }, layer.bias.grad:totable())
    end)

    it("initialises within PyTorch's bound", function()
        lunet.manual_seed(1)
        local linear = nn.Linear(100, 50)
        local bound = 1 / math.sqrt(100)
        for _, v in ipairs(linear.weight:flat()) do
            assert.is_true(math.abs(v) <= bound)
        end
        for _, v in ipairs(linear.bias:flat()) do
            assert.is_true(math.abs(v) <= bound)
        end
    end)

    it("prints its sizes", function()
        assert.are.equal("Linear(in_features=4, out_features=3)", tostring(nn.Linear(4, 3)))
    end)

    it("uses a replaced weight", function()
        local linear = nn.Linear(2, 2)
        linear.weight = lunet.zeros(2, 2)
        linear.bias = lunet.ones(2)
        assert.tensor_near(linear(lunet.ones(1, 2)), { { 1, 1 } })
    end)

    it("matches finite differences", function()
        lunet.manual_seed(2)
        gradient_check.check_layer(nn.Linear(5, 3), lunet.randn(4, 5),
            { parameters = { "weight", "bias" } })
        gradient_check.check_layer(nn.Linear(5, 3), lunet.randn(5),
            { parameters = { "weight", "bias" } })
    end)

    it("accumulates gradients until zero_grad", function()
        local linear = nn.Linear(3, 2)
        local x, g = lunet.randn(4, 3), lunet.randn(4, 2)
        linear:backward(x, g)
        local once = linear.weight.grad:clone()
        linear:backward(x, g)
        assert.tensor_near(linear.weight.grad, once * 2, { rtol = 1e-6 })
        linear:zero_grad()
        assert.tensor_near(linear.weight.grad, lunet.zeros(2, 3))
    end)

    it("names both shapes on a feature mismatch", function()
        local linear = nn.Linear(4, 3)
        assert.matches("Linear: input has 5 features but weight expects 4 (input 2x5, weight 3x4)",
            error_of(linear, lunet.zeros(2, 5)), 1, true)
        assert.matches("Linear: input must have at least 1 dim, got a 0-d tensor",
            error_of(linear, lunet.tensor(1)), 1, true)
    end)

    it("rejects a wrong grad_output", function()
        local linear = nn.Linear(4, 3)
        assert.matches("Linear.backward: grad_output has shape 2x4 but the output has shape 2x3",
            error_of(linear.backward, linear, lunet.zeros(2, 4), lunet.zeros(2, 4)), 1, true)
        assert.matches("Linear.backward: bad argument #3 (tensor expected, got nil)",
            error_of(linear.backward, linear, lunet.zeros(2, 4)), 1, true)
    end)

    it("explains a method called with a dot", function()
        local linear = nn.Linear(3, 2)
        local ok, err = pcall(linear.forward, lunet.ones(1, 3))
        assert.is_false(ok)
        assert.matches("bad argument #1 (native layer expected, got a tensor (call methods " ..
            "with ':', as in layer:forward(x)))", err, 1, true)
    end)

    it("rejects bad constructor arguments", function()
        assert.matches("Linear: sizes must be >= 0, got in_features=-1, out_features=3",
            error_of(nn.Linear, -1, 3), 1, true)
        assert.matches("Linear: in_features must be an integer, got 2.5",
            error_of(nn.Linear, 2.5, 3), 1, true)
        assert.matches("Linear: option 'bias' must be a boolean, got number",
            error_of(nn.Linear, 2, 3, { bias = 1 }), 1, true)
        assert.matches("Linear: bad argument #3 (options table expected, got string)",
            error_of(nn.Linear, 2, 3, "bias"), 1, true)
    end)

    it("rejects a weight that is not a tensor", function()
        local linear = nn.Linear(2, 2)
        assert.matches("Linear: field 'weight' must be a tensor, got number",
            error_of(function() linear.weight = 3 end), 1, true)
    end)

    describe("PyTorch fixtures", function()
        local tensors, metadata = lunet.load("spec/fixtures/linear.safetensors")
        local tolerance = { rtol = 1e-4, atol = 1e-5 }
        local names = {}
        for name in pairs(metadata) do
            names[#names + 1] = name
        end
        table.sort(names)

        for _, name in ipairs(names) do
            it("matches case " .. name, function()
                local config = json.decode(metadata[name])
                local linear = nn.Linear(config.in_features, config.out_features,
                    { bias = config.bias })
                linear.weight:copy_(tensors[name .. ".weight"])
                if config.bias then
                    linear.bias:copy_(tensors[name .. ".bias"])
                end
                local x = tensors[name .. ".input"]
                assert.tensor_near(linear(x), tensors[name .. ".output"], tolerance)
                local grad_input = linear:backward(x, tensors[name .. ".grad_output"])
                assert.tensor_near(grad_input, tensors[name .. ".grad_input"], tolerance)
                assert.tensor_near(linear.weight.grad, tensors[name .. ".grad_weight"], tolerance)
                if config.bias then
                    assert.tensor_near(linear.bias.grad, tensors[name .. ".grad_bias"], tolerance)
                end
            end)
        end
    end)
end)
