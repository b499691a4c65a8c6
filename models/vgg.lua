--- VGG networks with torchvision's layer order and parameter names.
--
--     local vgg = require "models.vgg"
--     local model = vgg.vgg16()                 -- 138,357,544 parameters
--     local small = vgg.vgg11_bn({num_classes = 10, width = 1/16})
--
-- Options: `num_classes` (1000), `dropout` (0.5), `batch_norm` (false; the
-- `_bn` variants set it), `width` (1; multiplies every channel count and the
-- 4096-wide hidden layers, for small VGGs on small inputs), `init`
-- (true; false skips the weight initialisation when weights will be loaded).
-- The state_dict keys equal torchvision's (`features.0.weight`,
-- `features.1.running_mean`, `classifier.6.bias`), so its weights load
-- unchanged; see README.md.
local lunet = require "lunet"
local nn = lunet.nn

local vgg = {}

-- Channel counts per convolution, "M" for 2x2 max pooling: the A, B, D and
-- E configurations of Simonyan and Zisserman (2014), as in torchvision.
vgg.configs = {
    vgg11 = { 64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M" },
    vgg13 = { 64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M" },
    vgg16 = { 64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
        512, 512, 512, "M" },
    vgg19 = { 64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
        512, 512, 512, 512, "M" },
}

local VGG = nn.Module:extend("VGG")
vgg.VGG = VGG

local function scaled(channels, width)
    return math.max(1, math.floor(channels * width + 0.5))
end

local function check_options(options)
    if options == nil then
        return {}
    end
    if type(options) ~= "table" then
        error("vgg: bad argument #1 (options table expected, got " .. type(options) .. ")", 3)
    end
    local known = { num_classes = true, dropout = true, batch_norm = true, width = true,
        init = true, in_channels = true }
    for key in pairs(options) do
        if not known[key] then
            error("vgg: unknown option '" .. tostring(key) .. "' (expected num_classes, " ..
                "dropout, batch_norm, width, in_channels or init)", 3)
        end
    end
    return options
end

-- Weight initialisation of torchvision's VGG: Kaiming-normal convolutions
-- (fan_out, ReLU gain), unit batch norm scales, N(0, 0.01) linear weights
-- and zero biases.
local function initialise(model)
    local function visit(module)
        local kind = nn.is_native_layer(module) and module:type() or nil
        if kind == "Conv2d" then
            local size = module.weight:size()
            local fan_out = size[1] * size[3] * size[4]
            module.weight:normal_(0, math.sqrt(2 / fan_out))
            if module.bias then
                module.bias:zero_()
            end
        elseif kind == "BatchNorm2d" then
            module.weight:fill_(1)
            module.bias:zero_()
        elseif kind == "Linear" then
            module.weight:normal_(0, 0.01)
            if module.bias then
                module.bias:zero_()
            end
        end
        for _, child in nn.Module.children(module) do
            visit(child)
        end
    end
    visit(model)
end

function VGG:init(config, options)
    options = check_options(options)
    local width = options.width or 1
    if type(width) ~= "number" or not (width > 0) then
        error("vgg: width must be a positive number, got " .. tostring(width), 3)
    end
    local num_classes = options.num_classes or 1000
    if math.type(num_classes) ~= "integer" or num_classes < 1 then
        error("vgg: num_classes must be a positive integer, got " .. tostring(num_classes), 3)
    end
    local dropout = options.dropout or 0.5
    if type(dropout) ~= "number" or not (dropout >= 0 and dropout <= 1) then
        error("vgg: dropout must be a number between 0 and 1, got " .. tostring(dropout), 3)
    end
    local batch_norm = options.batch_norm or false
    if type(batch_norm) ~= "boolean" then
        error("vgg: batch_norm must be a boolean, got " .. tostring(batch_norm), 3)
    end

    local features = nn.Sequential()
    local channels = options.in_channels or 3
    if math.type(channels) ~= "integer" or channels < 1 then
        error("vgg: in_channels must be a positive integer, got " .. tostring(channels), 3)
    end
    for _, v in ipairs(config) do
        if v == "M" then
            features:add(nn.MaxPool2d(2, { stride = 2 }))
        else
            local out = scaled(v, width)
            features:add(nn.Conv2d(channels, out, 3, { padding = 1 }))
            if batch_norm then
                features:add(nn.BatchNorm2d(out))
            end
            features:add(nn.ReLU())
            channels = out
        end
    end
    local hidden = scaled(4096, width)

    self:add_module("features", features)
    self:add_module("avgpool", nn.AdaptiveAvgPool2d(7))
    self:add_module("classifier", nn.Sequential(
        nn.Linear(channels * 7 * 7, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, num_classes)))
    if options.init ~= false then
        initialise(self)
    end
end

--- Maps images (N, C, H, W) or (C, H, W) to raw class scores (logits).
function VGG:forward(x)
    local features = self.features(x)
    local pooled = self.avgpool(features)
    local flat
    if pooled:dim() == 4 then
        flat = pooled:reshape(pooled:size(1), -1)
    else
        flat = pooled:reshape(-1)
    end
    -- Only training keeps activations for backward, as Sequential does.
    rawset(self, "_saved", self.training and
        { input = x, features = features, pooled = pooled, flat = flat } or nil)
    return self.classifier(flat)
end

--- Back-propagates through classifier, pooling and features, using what
-- the last forward call on input saved.
function VGG:backward(input, grad_output)
    local saved = rawget(self, "_saved")
    if saved == nil or saved.input ~= input then
        error("VGG.backward: call forward with this input in training mode first", 2)
    end
    local grad = self.classifier:backward(saved.flat, grad_output)
    grad = self.avgpool:backward(saved.features, grad:reshape(saved.pooled:size()))
    return self.features:backward(input, grad)
end

local function constructor(name, batch_norm)
    return function(options)
        options = check_options(options)
        local merged = {}
        for k, v in pairs(options) do
            merged[k] = v
        end
        if batch_norm then
            merged.batch_norm = true
        end
        return VGG(vgg.configs[name], merged)
    end
end

for _, name in ipairs({ "vgg11", "vgg13", "vgg16", "vgg19" }) do
    vgg[name] = constructor(name, false)
    vgg[name .. "_bn"] = constructor(name, true)
end

return vgg
