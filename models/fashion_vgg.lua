--- A small VGG-style network for 1x28x28 Fashion-MNIST images: two blocks
-- of two 3x3 convolutions with batch norm and ReLU, each block ending in 2x2
-- max pooling, then a classifier with one hidden layer and dropout.
--
--     local fashion_vgg = require "models.fashion_vgg"
--     local model = fashion_vgg({width = 32})   -- channels 32 and 64
--
-- Options: `width` (32: channels of the first block; the second block has
-- twice as many), `hidden` (256), `dropout` (0.3), `num_classes` (10).
local lunet = require "lunet"
local nn = lunet.nn

local function positive_integer(options, name, default)
    local value = options[name]
    if value == nil then
        return default
    end
    if math.type(value) ~= "integer" or value < 1 then
        error(string.format("fashion_vgg: %s must be a positive integer, got %s", name,
            tostring(value)), 3)
    end
    return value
end

local function conv_block(model, in_channels, out_channels)
    model:add(nn.Conv2d(in_channels, out_channels, 3, { padding = 1, bias = false }))
    model:add(nn.BatchNorm2d(out_channels))
    model:add(nn.ReLU())
    model:add(nn.Conv2d(out_channels, out_channels, 3, { padding = 1, bias = false }))
    model:add(nn.BatchNorm2d(out_channels))
    model:add(nn.ReLU())
    model:add(nn.MaxPool2d(2))
end

local function fashion_vgg(options)
    options = options or {}
    if type(options) ~= "table" then
        error("fashion_vgg: bad argument #1 (options table expected, got " .. type(options) ..
            ")", 2)
    end
    for key in pairs(options) do
        if key ~= "width" and key ~= "hidden" and key ~= "dropout" and key ~= "num_classes" then
            error("fashion_vgg: unknown option '" .. tostring(key) .. "' (expected width, "
                .. "hidden, dropout or num_classes)", 2)
        end
    end
    local width = positive_integer(options, "width", 32)
    local hidden = positive_integer(options, "hidden", 256)
    local num_classes = positive_integer(options, "num_classes", 10)
    local dropout = options.dropout or 0.3
    if type(dropout) ~= "number" or not (dropout >= 0 and dropout <= 1) then
        error("fashion_vgg: dropout must be a number between 0 and 1, got " .. tostring(dropout),
            2)
    end

    local model = nn.Sequential()
    conv_block(model, 1, width)              -- 28x28 -> 14x14
    conv_block(model, width, 2 * width)      -- 14x14 -> 7x7
    model:add(nn.Flatten())
    model:add(nn.Linear(2 * width * 7 * 7, hidden))
    model:add(nn.ReLU())
    model:add(nn.Dropout(dropout))
    model:add(nn.Linear(hidden, num_classes))
    return model
end

return fashion_vgg
