local lunet = require "lunet"
local assert = require "lunet.assertions"
local json = require "dkjson"
local gradient_check = require "spec.gradient_check"
local nn = lunet.nn

local FIXTURES = "spec/fixtures/losses.safetensors"
local TOLERANCE = { rtol = 1e-4, atol = 1e-5 }

-- Raises unless fn(...) fails with a message containing `expected`.
local function assert_error(expected, fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    assert.matches(expected, tostring(err), 1, true)
end

local function assert_close(expected, actual, tolerance)
    assert.is_true(math.abs(actual - expected) <= tolerance,
        string.format("expected %.9g, got %.9g", expected, actual))
end

local function shape_of(t)
    return table.concat(t:size(), "x")
end

-- Values of a tensor as a flat list of doubles.
local function values(t)
    return t:flat()
end

-- The scalar whose gradient backward returns: the loss itself when reduced,
-- or sum(grad_output * loss) for reduction "none".
local function objective(loss, input, target, grad_output)
    local output = loss(input, target)
    if grad_output == nil then
        return output:item()
    end
    return gradient_check.dot(values(output), values(grad_output))
end

-- Compares loss:backward with central differences of the loss in double,
-- moving each input element by +-step. The loss runs in float32, so the
-- tolerance allows its rounding divided by 2 * step.
local function check_gradient(loss, input, target, grad_output, step, tolerance)
    local analytic = loss:backward(input, target, grad_output)
    local numeric = gradient_check.numeric_gradient(input, function()
        return objective(loss, input, target, grad_output)
    end, step)
    assert.tensor_near(analytic, numeric, { atol = tolerance, rtol = 0 }, tostring(loss))
end

-- PyTorch reference cases ---------------------------------------------------------

local CONSTRUCTORS = {
    cross_entropy = nn.CrossEntropyLoss,
    nll_loss = nn.NLLLoss,
    mse_loss = nn.MSELoss,
    binary_cross_entropy_with_logits = nn.BCEWithLogitsLoss,
}

-- Builds the loss a fixture case describes in its metadata.
local function fixture_loss(tensors, metadata, case)
    local config = json.decode(metadata[case])
    local options = {
        reduction = config.reduction,
        weight = tensors[case .. ".class_weight"],
        pos_weight = tensors[case .. ".pos_weight"],
        label_smoothing = config.label_smoothing,
    }
    return CONSTRUCTORS[config.op](options)
end

describe("losses against PyTorch", function()
    local tensors, metadata = lunet.load(FIXTURES)
    local cases = {}
    for case in pairs(metadata) do
        cases[#cases + 1] = case
    end
    table.sort(cases)

    it("covers every loss kind", function()
        for _, prefix in ipairs({ "ce_", "nll_", "mse_", "bce_" }) do
            local found = false
            for _, case in ipairs(cases) do
                found = found or case:sub(1, #prefix) == prefix
            end
            assert.is_true(found, "no case starts with " .. prefix)
        end
    end)

    for _, case in ipairs(cases) do
        it("matches " .. case, function()
            local loss = fixture_loss(tensors, metadata, case)
            local input = tensors[case .. ".input"]
            local target = tensors[case .. ".target"]

            local output = loss(input, target)
            assert.has_shape(output, tensors[case .. ".output"]:size())
            assert.tensor_near(output, tensors[case .. ".output"], TOLERANCE)

            local grad_input = loss:backward(input, target, tensors[case .. ".grad_output"])
            assert.tensor_near(grad_input, tensors[case .. ".grad_input"], TOLERANCE)
        end)
    end
end)

-- CrossEntropyLoss -----------------------------------------------------------------

describe("CrossEntropyLoss", function()
    local ln3 = math.log(3)

    it("gives ln 3 for equal huge logits", function()
        local loss = nn.CrossEntropyLoss()
        for _, logit in ipairs({ 1e8, -1e8, 1e30, 0 }) do
            local input = lunet.full({ 2, 3 }, logit)
            local value = loss(input, { 1, 3 }):item()
            assert_close(ln3, value, ln3 * 2 ^ -23)
        end
    end)

    it("is exact for mixed huge logits", function()
        local loss = nn.CrossEntropyLoss({ reduction = "none" })
        local input = lunet.tensor({ { 1e8, -1e8 }, { 1e8, -1e8 }, { 1e8, 1e8, }, { -1e8, 1e8 } })
        local output = values(loss(input, { 1, 2, 2, 2 }))
        assert.are.equal(0, output[1])
        assert.are.equal(2e8, output[2])
        assert_close(math.log(2), output[3], 1e-7)
        assert.are.equal(0, output[4])

        local grad = loss:backward(input, { 1, 2, 2, 2 })
        assert.are.same({ { 0, 0 }, { 1, -1 }, { 0.5, -0.5 }, { 0, 0 } }, grad:totable())
    end)

    it("returns a 0-d tensor when reduced", function()
        local output = nn.CrossEntropyLoss()(lunet.randn(4, 10), { 1, 2, 3, 4 })
        assert.are.equal(0, output:dim())
        assert.is_number(output:item())
        local sum = nn.CrossEntropyLoss({ reduction = "sum" })(lunet.randn(4, 10), { 1, 2, 3, 4 })
        assert.are.equal(0, sum:dim())
    end)

    it("forwards like a call", function()
        local loss = nn.CrossEntropyLoss()
        local input = lunet.randn(3, 5)
        assert.are.equal(loss(input, { 1, 2, 3 }):item(), loss:forward(input, { 1, 2, 3 }):item())
    end)

    it("keeps the batch shape for none", function()
        local loss = nn.CrossEntropyLoss({ reduction = "none" })
        assert.are.equal("4", shape_of(loss(lunet.randn(4, 10), lunet.ones(4))))
        assert.are.equal(0, loss(lunet.randn(10), 3):dim())
        assert.are.equal("2x5x6", shape_of(loss(lunet.randn(2, 3, 5, 6), lunet.ones(2, 5, 6))))
    end)

    it("accepts a list of class indices", function()
        local loss = nn.CrossEntropyLoss({ reduction = "none" })
        local input = lunet.randn(3, 5)
        assert.tensor_near(loss(input, { 5, 1, 3 }), loss(input, lunet.tensor({ 5, 1, 3 })))
    end)

    it("treats a 1-d input as one sample", function()
        local loss = nn.CrossEntropyLoss()
        local input = lunet.randn(7)
        local batched = loss(input:view(1, 7), { 4 }):item()
        assert.are.equal(batched, loss(input, 4):item())
        assert.are.equal(batched, loss(input, lunet.tensor(4)):item())
        assert.tensor_near(loss:backward(input, 4), loss:backward(input:view(1, 7), { 4 }):view(7))
    end)

    it("reads per-position classes on dim 2", function()
        local loss = nn.CrossEntropyLoss({ reduction = "none" })
        local input = lunet.randn(2, 4, 3, 5)
        local target = lunet.rand(2, 3, 5):mul(4):add(0.5):clamp(1, 4)
        for i = 1, 2 do
            for j = 1, 3 do
                for k = 1, 5 do
                    target[i][j][k] = math.floor(target[i][j][k] + 0.5)
                end
            end
        end
        local rows = input:permute(1, 3, 4, 2):contiguous():view(30, 4)
        local expected = loss(rows, target:view(30))
        assert.tensor_near(loss(input, target):view(30), expected, { atol = 1e-6, rtol = 0 })

        local grad = loss:backward(input, target)
        local grad_rows = loss:backward(rows, target:view(30))
        assert.tensor_near(grad:permute(1, 3, 4, 2):contiguous():view(30, 4), grad_rows,
            { atol = 1e-6, rtol = 0 })
    end)

    it("skips targets equal to ignore_index", function()
        local input = lunet.randn(4, 3)
        local loss = nn.CrossEntropyLoss({ ignore_index = 0 })
        local kept = nn.CrossEntropyLoss()(input:narrow(1, 1, 2), { 1, 3 }):item()
        assert_close(kept, loss(input, { 1, 3, 0, 0 }):item(), 1e-6)

        local grad = loss:backward(input, { 1, 3, 0, 0 }):totable()
        assert.are.same({ 0, 0, 0 }, grad[3])
        assert.are.same({ 0, 0, 0 }, grad[4])
        local none = nn.CrossEntropyLoss({ ignore_index = -100, reduction = "none" })
        assert.are.equal(0, values(none(input, { 1, -100, 2, 2 }))[2])
    end)

    it("averages an all-ignored batch to nan", function()
        local value = nn.CrossEntropyLoss({ ignore_index = 2 })(lunet.randn(2, 3), { 2, 2 }):item()
        assert.is_true(value ~= value)
    end)

    it("scales backward by grad_output", function()
        local loss = nn.CrossEntropyLoss({ label_smoothing = 0.2 })
        local input = lunet.randn(3, 4)
        local plain = loss:backward(input, { 1, 2, 4 })
        assert.tensor_near(loss:backward(input, { 1, 2, 4 }, 1), plain)
        assert.tensor_near(loss:backward(input, { 1, 2, 4 }, -2.5), plain:mul(-2.5))
        assert.tensor_near(loss:backward(input, { 1, 2, 4 }, lunet.tensor(3)), plain:mul(3))
    end)

    it("holds weight as a buffer", function()
        local weight = lunet.tensor({ 1, 2, 3 })
        local loss = nn.CrossEntropyLoss({ weight = weight })
        assert.are.equal(weight, loss.weight)
        assert.are.equal(weight, loss:state_dict().weight)
        assert.are.same({}, loss:parameters())
    end)

    it("prints its options", function()
        assert.are.equal("CrossEntropyLoss(reduction=mean)", tostring(nn.CrossEntropyLoss()))
        assert.are.equal("CrossEntropyLoss(reduction=mean, label_smoothing=0.1)",
            tostring(nn.CrossEntropyLoss({ label_smoothing = 0.1 })))
        assert.are.equal("CrossEntropyLoss(reduction=none, ignore_index=-100)",
            tostring(nn.CrossEntropyLoss({ reduction = "none", ignore_index = -100 })))
        assert.are.equal("NLLLoss(reduction=sum)", tostring(nn.NLLLoss({ reduction = "sum" })))
        assert.are.equal("MSELoss(reduction=mean)", tostring(nn.MSELoss()))
        assert.are.equal("BCEWithLogitsLoss(reduction=none)",
            tostring(nn.BCEWithLogitsLoss({ reduction = "none" })))
    end)
end)

-- Gradient checks --------------------------------------------------------------------

describe("loss gradients", function()
    before_each(function()
        lunet.manual_seed(7)
    end)

    local target = { 2, 1, 3, 3 }
    local weight = lunet.tensor({ 0.5, 1.5, 2 })

    it("match differences for CrossEntropyLoss", function()
        local input = lunet.randn(4, 3):mul(2)
        for _, options in ipairs({
            { reduction = "sum" },
            { reduction = "mean", weight = weight },
            { reduction = "mean", weight = weight, label_smoothing = 0.3 },
            { reduction = "sum", label_smoothing = 0.1, ignore_index = 1 },
        }) do
            check_gradient(nn.CrossEntropyLoss(options), input, target, nil, 1e-2, 2e-4)
        end
        local none = nn.CrossEntropyLoss({ reduction = "none", label_smoothing = 0.2, weight = weight })
        check_gradient(none, input, target, lunet.randn(4), 1e-2, 2e-4)
    end)

    it("match differences for per-position classes", function()
        local input = lunet.randn(2, 3, 2, 2)
        local pixels = lunet.tensor({ { { 1, 2 }, { 3, 3 } }, { { 2, 2 }, { 1, 3 } } })
        local loss = nn.CrossEntropyLoss({ weight = weight, label_smoothing = 0.1 })
        check_gradient(loss, input, pixels, nil, 1e-2, 2e-4)
    end)

    it("match differences for NLLLoss", function()
        local input = lunet.randn(4, 3)
        check_gradient(nn.NLLLoss({ weight = weight }), input, target, nil, 1e-2, 2e-4)
        check_gradient(nn.NLLLoss({ reduction = "none" }), input, target, lunet.randn(4), 1e-2,
            2e-4)
    end)

    it("match differences for MSELoss", function()
        local input, goal = lunet.randn(3, 4), lunet.randn(3, 4)
        check_gradient(nn.MSELoss(), input, goal, nil, 1e-2, 2e-4)
        check_gradient(nn.MSELoss({ reduction = "none" }), input, goal, lunet.randn(3, 4), 1e-2,
            2e-4)
    end)

    it("match differences for BCEWithLogitsLoss", function()
        local input, goal = lunet.randn(3, 4):mul(3), lunet.rand(3, 4)
        local pos_weight = lunet.tensor({ 0.5, 1, 2, 3 })
        check_gradient(nn.BCEWithLogitsLoss(), input, goal, nil, 1e-2, 2e-4)
        check_gradient(nn.BCEWithLogitsLoss({ reduction = "sum", pos_weight = pos_weight }), input,
            goal, nil, 1e-2, 2e-4)
        check_gradient(nn.BCEWithLogitsLoss({ reduction = "none", pos_weight = pos_weight }), input,
            goal, lunet.randn(3, 4), 1e-2, 2e-4)
    end)
end)

-- Elementwise losses -----------------------------------------------------------------

describe("BCEWithLogitsLoss", function()
    it("stays finite for huge logits", function()
        local loss = nn.BCEWithLogitsLoss({ reduction = "none" })
        local input = lunet.tensor({ 1e8, -1e8, 1e8, -1e8 })
        local output = values(loss(input, lunet.tensor({ 1, 0, 0, 1 })))
        assert.are.same({ 0, 0, 1e8, 1e8 }, output)
        assert.are.same({ 0, 0, 1, -1 }, values(loss:backward(input, lunet.tensor({ 1, 0, 0, 1 }))))
    end)

    it("gives log 2 at zero logits", function()
        local value = nn.BCEWithLogitsLoss()(lunet.zeros(2, 3), lunet.rand(2, 3)):item()
        assert_close(math.log(2), value, 1e-6)
    end)
end)

describe("MSELoss", function()
    it("averages squared differences", function()
        local loss = nn.MSELoss()
        local value = loss(lunet.tensor({ 1, 2, 3 }), lunet.tensor({ 1, 0, 6 })):item()
        assert_close(13 / 3, value, 1e-6)
        local sum = nn.MSELoss({ reduction = "sum" })
        assert.are.equal(13, sum(lunet.tensor({ 1, 2, 3 }), lunet.tensor({ 1, 0, 6 })):item())
    end)

    it("keeps the input shape for none", function()
        local output = nn.MSELoss({ reduction = "none" })(lunet.randn(2, 3, 4), lunet.randn(2, 3, 4))
        assert.are.equal("2x3x4", shape_of(output))
    end)

    it("reads strided inputs", function()
        local input, goal = lunet.randn(4, 3), lunet.randn(3, 4)
        local loss = nn.MSELoss()
        assert_close(loss(input:contiguous(), goal:t():contiguous()):item(),
            loss(input, goal:t()):item(), 1e-6)
    end)
end)

-- Errors -------------------------------------------------------------------------------

describe("loss errors", function()
    local ce = nn.CrossEntropyLoss()

    it("name an out-of-range target", function()
        assert_error("CrossEntropyLoss: target 11 is out of range for 10 classes "
            .. "(expected 1..10) at position 3", ce, lunet.zeros(4, 10), lunet.tensor({ 1, 2, 11, 4 }))
        assert_error("CrossEntropyLoss: target 0 is out of range for 10 classes "
            .. "(expected 1..10) at position 1", ce, lunet.zeros(4, 10), { 0, 2, 3, 4 })
        assert_error("CrossEntropyLoss: target -1 is out of range for 3 classes (expected 1..3)",
            ce, lunet.zeros(3), -1)
        assert_error("at position (2, 1, 2)", ce, lunet.zeros(2, 3, 2, 2),
            lunet.tensor({ { { 1, 1 }, { 1, 1 } }, { { 1, 4 }, { 1, 1 } } }))
        assert_error("NLLLoss: target 4 is out of range for 3 classes", nn.NLLLoss(),
            lunet.zeros(2, 3), { 1, 4 })
        assert_error("CrossEntropyLoss.backward: target 5 is out of range", function()
            return ce:backward(lunet.zeros(1, 4), { 5 })
        end)
    end)

    it("reject a non-integer target", function()
        assert_error("CrossEntropyLoss: target 2.5 at position 2 is not an integer "
            .. "(expected a class index 1..10)", ce, lunet.zeros(2, 10), { 1, 2.5 })
        assert_error("CrossEntropyLoss: target nan at position 1 is not an integer", ce,
            lunet.zeros(1, 10), lunet.tensor({ 0 / 0 }))
        assert_error("CrossEntropyLoss: target[2] must be a number, got string", ce,
            lunet.zeros(2, 10), { 1, "2" })
        assert_error("CrossEntropyLoss: bad argument #3 (target tensor, list or number expected, "
            .. "got nil)", ce, lunet.zeros(2, 10))
    end)

    it("name both shapes on disagreement", function()
        assert_error("CrossEntropyLoss: input 4x10 and target 5 disagree on the batch size", ce,
            lunet.zeros(4, 10), lunet.ones(5))
        assert_error("CrossEntropyLoss: input 4x10 and target 3 disagree on the batch size", ce,
            lunet.zeros(4, 10), { 1, 2, 3 })
        assert_error("CrossEntropyLoss: input 4x10 and target 4x1 disagree (expected a target of "
            .. "shape 4)", ce, lunet.zeros(4, 10), lunet.ones(4, 1))
        assert_error("CrossEntropyLoss: input 10 is one sample, so the target must be a number "
            .. "or a 0-d tensor, got target 4", ce, lunet.zeros(10), lunet.ones(4))
        assert_error("CrossEntropyLoss: input must be (N, C), (C) or (N, C, d1, ...), got a 0-d "
            .. "tensor", ce, lunet.tensor(1), 1)
        assert_error("MSELoss: input 4x10 and target 4x9 differ", nn.MSELoss(), lunet.zeros(4, 10),
            lunet.zeros(4, 9))
        assert_error("BCEWithLogitsLoss: input 4x3 and target 3x4 differ", nn.BCEWithLogitsLoss(),
            lunet.zeros(4, 3), lunet.zeros(3, 4))
        assert_error("MSELoss.backward: input 2 and target 3 differ", function()
            return nn.MSELoss():backward(lunet.zeros(2), lunet.zeros(3))
        end)
    end)

    it("reject a bad reduction", function()
        assert_error('CrossEntropyLoss: option \'reduction\' must be "mean", "sum" or "none", '
            .. 'got "avg"', nn.CrossEntropyLoss, { reduction = "avg" })
        assert_error('MSELoss: option \'reduction\' must be "mean", "sum" or "none", got number',
            nn.MSELoss, { reduction = 1 })
    end)

    it("reject bad options", function()
        assert_error("CrossEntropyLoss: unknown option 'reducton' (expected weight, reduction, "
            .. "label_smoothing or ignore_index)", nn.CrossEntropyLoss, { reducton = "sum" })
        assert_error("BCEWithLogitsLoss: unknown option 'weight' (expected reduction or "
            .. "pos_weight)", nn.BCEWithLogitsLoss, { weight = lunet.ones(3) })
        assert_error("NLLLoss: bad argument #1 (options table expected, got string)", nn.NLLLoss,
            "sum")
        assert_error("CrossEntropyLoss: option 'label_smoothing' must be in [0, 1], got 1.5",
            nn.CrossEntropyLoss, { label_smoothing = 1.5 })
        assert_error("CrossEntropyLoss: option 'label_smoothing' must be a number, got string",
            nn.CrossEntropyLoss, { label_smoothing = "0.1" })
        assert_error("CrossEntropyLoss: option 'ignore_index' must be an integer, got 1.5",
            nn.CrossEntropyLoss, { ignore_index = 1.5 })
        assert_error("BCEWithLogitsLoss: option 'pos_weight' must be a tensor, got number",
            nn.BCEWithLogitsLoss, { pos_weight = 2 })
    end)

    it("reject a bad weight shape", function()
        assert_error("CrossEntropyLoss: option 'weight' must be a 1-d tensor of class weights, "
            .. "got shape 2x5", nn.CrossEntropyLoss, { weight = lunet.ones(2, 5) })
        assert_error("NLLLoss: option 'weight' must be a tensor, got table", nn.NLLLoss,
            { weight = { 1, 2 } })
        local loss = nn.CrossEntropyLoss({ weight = lunet.ones(5) })
        assert_error("CrossEntropyLoss: weight has shape 5 but input 4x10 has 10 classes", loss,
            lunet.zeros(4, 10), { 1, 2, 3, 4 })
        assert_error("BCEWithLogitsLoss: pos_weight 4 does not broadcast to input 2x3",
            nn.BCEWithLogitsLoss({ pos_weight = lunet.ones(4) }), lunet.zeros(2, 3),
            lunet.zeros(2, 3))
    end)

    it("reject a bad grad_output", function()
        assert_error("CrossEntropyLoss.backward: grad_output has shape 4 but the loss has shape "
            .. "scalar", function()
                return ce:backward(lunet.zeros(4, 3), { 1, 2, 3, 1 }, lunet.ones(4))
            end)
        local none = nn.CrossEntropyLoss({ reduction = "none" })
        assert_error("CrossEntropyLoss.backward: grad_output has shape 3 but the loss has shape 4",
            function()
                return none:backward(lunet.zeros(4, 3), { 1, 2, 3, 1 }, lunet.ones(3))
            end)
        assert_error("MSELoss.backward: grad_output has shape 2x2 but the loss has shape 2x3",
            function()
                local mse = nn.MSELoss({ reduction = "none" })
                return mse:backward(lunet.zeros(2, 3), lunet.zeros(2, 3), lunet.ones(2, 2))
            end)
        assert_error("MSELoss.backward: bad argument #4 (tensor or number expected, got string)",
            function()
                return nn.MSELoss():backward(lunet.zeros(2), lunet.zeros(2), "1")
            end)
    end)

    it("reject a closed input", function()
        local input = lunet.zeros(2, 3)
        input:close()
        assert_error("CrossEntropyLoss: bad argument #2 (the tensor was closed", ce, input, { 1, 2 })
        assert_error("MSELoss: bad argument #3 (tensor expected, got nil)", nn.MSELoss(),
            lunet.zeros(2))
    end)
end)
