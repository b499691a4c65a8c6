local lunet = require "lunet"
local luassert = require "lunet.assertions"
local json = require "dkjson"
local vgg = require "models.vgg"
local simple_vgg = require "models.simple_vgg"
local fashion_vgg = require "models.fashion_vgg"

local FIXTURES = "spec/fixtures/"

local function error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok, "expected an error")
    return tostring(err)
end

local function shape_of(t)
    return table.concat(t:size(), "x")
end

-- torchvision's VGG16 state_dict: convolutions at these feature indices,
-- linears at classifier 0, 3 and 6.
local VGG16_CONVS = { 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28 }
local VGG16_CHANNELS = { 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512 }

describe("vgg16", function()
    local model = vgg.vgg16({ init = false })

    it("has torchvision's parameter count", function()
        assert.are.equal(138357544, model:num_parameters())
    end)

    it("has torchvision's state_dict keys and shapes", function()
        local expected = {}
        local channels = 3
        for i, index in ipairs(VGG16_CONVS) do
            local out = VGG16_CHANNELS[i]
            expected["features." .. index .. ".weight"] = out .. "x" .. channels .. "x3x3"
            expected["features." .. index .. ".bias"] = tostring(out)
            channels = out
        end
        expected["classifier.0.weight"] = "4096x25088"
        expected["classifier.0.bias"] = "4096"
        expected["classifier.3.weight"] = "4096x4096"
        expected["classifier.3.bias"] = "4096"
        expected["classifier.6.weight"] = "1000x4096"
        expected["classifier.6.bias"] = "1000"

        local actual = {}
        for name, tensor in pairs(model:state_dict()) do
            actual[name] = shape_of(tensor)
        end
        assert.are.same(expected, actual)
    end)

    it("lists batch norm statistics in the _bn variant", function()
        local state = vgg.vgg11_bn({ init = false, width = 1 / 16 }):state_dict()
        assert.are.equal("4", shape_of(state["features.1.running_mean"]))
        assert.are.equal("4", shape_of(state["features.1.running_var"]))
        assert.are.equal("4", shape_of(state["features.1.weight"]))
        assert.is_nil(state["features.1.num_batches_tracked"])
    end)

    it("rejects unknown options", function()
        assert.matches("vgg: unknown option 'classes'",
            error_of(vgg.vgg16, { classes = 10 }), 1, true)
        assert.matches("vgg: width must be a positive number, got -1",
            error_of(vgg.vgg11, { width = -1 }), 1, true)
        assert.matches("vgg: num_classes must be a positive integer, got 2.5",
            error_of(vgg.vgg11, { num_classes = 2.5 }), 1, true)
    end)
end)

-- A narrow torchvision-structured VGG11 whose weights, input, logits and
-- softmax come from PyTorch (spec/fixtures/make_fixtures.py).
for _, case in ipairs({ { file = "vgg_small", bn = true }, { file = "vgg_small_nobn", bn = false } }) do
    describe(case.file .. " fixture", function()
        local tensors, metadata = lunet.load(FIXTURES .. case.file .. ".safetensors")
        local config = json.decode(metadata.config)
        local state = {}
        for name, tensor in pairs(tensors) do
            local key = name:match("^model%.(.*)$")
            if key then
                state[key] = tensor
            end
        end

        local model = vgg.vgg11({ width = 1 / config.width_divisor,
            num_classes = config.num_classes, batch_norm = config.batch_norm, init = false })
        model:load_state_dict(state)
        model:evaluate()

        it("matches PyTorch's logits", function()
            luassert.tensor_near(model(tensors.input), tensors.logits,
                { rtol = 1e-4, atol = 1e-5 })
        end)

        it("matches PyTorch's softmax", function()
            local probs = lunet.softmax(model(tensors.input), 2)
            luassert.tensor_near(probs, tensors.probs, { rtol = 1e-4, atol = 1e-6 })
            luassert.is_distribution(probs, 2, 1e-6)
        end)

        it("round-trips through save and load", function()
            local path = os.tmpname()
            lunet.save(path, model:state_dict())
            local again = vgg.vgg11({ width = 1 / config.width_divisor,
                num_classes = config.num_classes, batch_norm = config.batch_norm })
            again:load_state_dict(lunet.load(path))
            again:evaluate()
            os.remove(path)
            luassert.tensor_near(again(tensors.input), tensors.logits,
                { rtol = 1e-4, atol = 1e-5 })
        end)
    end)
end

describe("load_state_dict", function()
    local function small()
        return vgg.vgg11({ width = 1 / 16, num_classes = 10, init = false })
    end

    it("lists every fault in one strict error", function()
        local state = small():state_dict()
        state["features.0.weight"] = nil
        state["features.3.weight"] = lunet.zeros(1)
        state["extra.weight"] = lunet.zeros(2)
        local err = error_of(small().load_state_dict, small(), state)
        assert.matches("missing keys: features.0.weight", err, 1, true)
        assert.matches("unexpected keys: extra.weight", err, 1, true)
        assert.matches("shape mismatches: features.3.weight (file 1, model 8x4x3x3)", err, 1, true)
    end)

    it("copies nothing when strict loading fails", function()
        local model = small()
        local before = model.features[1].weight:clone()
        local state = small():state_dict()
        state["extra"] = lunet.zeros(1)
        error_of(model.load_state_dict, model, state)
        luassert.tensor_near(model.features[1].weight, before)
    end)

    it("returns the faults when not strict", function()
        local model = small()
        local state = small():state_dict()
        state["features.0.bias"] = nil
        state["extra"] = lunet.zeros(1)
        local report = model:load_state_dict(state, { strict = false })
        assert.are.same({ "features.0.bias" }, report.missing)
        assert.are.same({ "extra" }, report.unexpected)
        assert.are.same({}, report.mismatched)
        luassert.tensor_near(model.features[1].weight, state["features.0.weight"])
    end)

    it("rejects a value that is not a tensor", function()
        local state = small():state_dict()
        state["features.0.bias"] = 3
        assert.matches("features.0.bias (expected a tensor of shape 4, got a number)",
            error_of(small().load_state_dict, small(), state), 1, true)
    end)

    it("rejects non-table arguments", function()
        local model = small()
        assert.matches("load_state_dict: bad argument #1 (table of tensors expected, got nil)",
            error_of(model.load_state_dict, model), 1, true)
        assert.matches("load_state_dict: bad argument #2 (options table expected, got string)",
            error_of(model.load_state_dict, model, {}, "strict"), 1, true)
    end)
end)

describe("simple_vgg", function()
    it("maps 3x32x32 images to class scores", function()
        lunet.manual_seed(1)
        local model = simple_vgg({ num_classes = 3 })
        local logits = model(lunet.rand(2, 3, 32, 32))
        luassert.has_shape(logits, { 2, 3 })
        assert.are.equal(16 * 16 * 16, model[5].weight:size(2))
    end)

    it("computes the Linear width from the input size", function()
        local model = simple_vgg({ num_classes = 10, input_size = { 28, 20 }, in_channels = 1 })
        assert.are.equal(16 * 14 * 10, model[5].weight:size(2))
        luassert.has_shape(model(lunet.rand(1, 1, 28, 20)), { 1, 10 })
    end)

    it("names both widths on a mismatched input", function()
        local model = simple_vgg({ num_classes = 3 })
        local err = error_of(model.forward, model, lunet.rand(1, 3, 64, 64))
        assert.matches("module 5 (Linear(in_features=4096, out_features=3))", err, 1, true)
        assert.matches("input has 16384 features but weight expects 4096", err, 1, true)
    end)

    it("rejects bad options", function()
        assert.matches("simple_vgg: num_classes must be a positive integer, got 0",
            error_of(simple_vgg, { num_classes = 0 }), 1, true)
        assert.matches("simple_vgg: input_size 1x1 is too small for 2x2 pooling",
            error_of(simple_vgg, { input_size = 1 }), 1, true)
        assert.matches("simple_vgg: bad argument #1 (options table expected, got number)",
            error_of(simple_vgg, 3), 1, true)
    end)
end)

describe("fashion_vgg", function()
    it("maps 1x28x28 images to 10 class scores", function()
        local model = fashion_vgg({ width = 4, hidden = 8 })
        model:evaluate()
        luassert.has_shape(model(lunet.rand(3, 1, 28, 28)), { 3, 10 })
    end)

    it("trains: a few steps lower the loss on a fixed batch", function()
        lunet.manual_seed(3)
        local model = fashion_vgg({ width = 4, hidden = 16, dropout = 0 })
        local criterion = lunet.nn.CrossEntropyLoss()
        local optimizer = lunet.optim.Adam(model:parameters(), { lr = 1e-2 })
        local x = lunet.rand(16, 1, 28, 28)
        local y = lunet.tensor({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6 })
        local first
        for step = 1, 15 do
            local logits = model(x)
            local loss = criterion(logits, y):item()
            first = first or loss
            model:zero_grad()
            model:backward(x, criterion:backward(logits, y))
            optimizer:step()
        end
        local last = criterion(model(x), y):item()
        assert.is_true(last < first * 0.5, string.format("loss %.4f -> %.4f", first, last))
    end)
end)

describe("the shipped Fashion-MNIST weights", function()
    it("load into fashion_vgg", function()
        local tensors, metadata = lunet.load("models/weights/fashion_vgg.safetensors")
        local model = fashion_vgg({ width = tonumber(metadata.width) })
        model:load_state_dict(tensors)
        model:evaluate()
        luassert.is_distribution(lunet.softmax(model(lunet.rand(2, 1, 28, 28))), 2)
    end)

    it("classify most Fashion-MNIST test images right", function()
        local tensors, metadata = lunet.load("models/weights/fashion_vgg.safetensors")
        local model = fashion_vgg({ width = tonumber(metadata.width) })
        model:load_state_dict(tensors)
        model:evaluate()
        local images, labels = lunet.data.fashion_mnist("test")
        local count = 1000
        local logits = model(images:narrow(1, 1, count))
        local correct = logits:argmax(2):eq(labels:narrow(1, 1, count)):sum()
        -- The full test set scores 93.62%; the first 1000 images alone
        -- must stay above 90%.
        assert.is_true(correct / count > 0.90, "accuracy " .. correct / count)
        luassert.is_distribution(lunet.softmax(logits, 2), 2, 1e-6)
    end)
end)

describe("Sequential in evaluation mode", function()
    it("keeps no inputs, so backward asks for training mode", function()
        local model = lunet.nn.Sequential(lunet.nn.Linear(3, 2), lunet.nn.ReLU())
        local x = lunet.randn(4, 3)
        model:evaluate()
        model(x)
        assert.is_nil(rawget(model, "_inputs"))
        assert.matches("Sequential.backward: call forward with this input in training mode first",
            error_of(model.backward, model, x, lunet.ones(4, 2)), 1, true)
        model:train()
        model(x)
        luassert.has_shape(model:backward(x, lunet.ones(4, 2)), { 4, 3 })
    end)
end)
