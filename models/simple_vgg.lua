--- A one-block VGG for small images: a 3x3 convolution to 16 channels with
-- padding 1, ReLU, 2x2 max pooling, Flatten and a Linear to num_classes.
--
--     local simple_vgg = require "models.simple_vgg"
--     local model = simple_vgg({num_classes = 3})            -- 3x32x32 input
--     local model = simple_vgg({num_classes = 10, input_size = 28, in_channels = 1})
--
-- The Linear's input width is 16 * (H/2) * (W/2), computed from input_size
-- (a number or {h, w}): 16*16*16 for 32x32 images. Feeding another size
-- fails with an error naming both widths.
local lunet = require "lunet"
local nn = lunet.nn

local function check_positive_integer(name, value)
    if math.type(value) ~= "integer" or value < 1 then
        error(string.format("simple_vgg: %s must be a positive integer, got %s", name,
            tostring(value)), 3)
    end
    return value
end

local function simple_vgg(options)
    options = options or {}
    if type(options) ~= "table" then
        error("simple_vgg: bad argument #1 (options table expected, got " .. type(options) ..
            ")", 2)
    end
    for key in pairs(options) do
        if key ~= "num_classes" and key ~= "in_channels" and key ~= "input_size" then
            error("simple_vgg: unknown option '" .. tostring(key) .. "' (expected num_classes, "
                .. "in_channels or input_size)", 2)
        end
    end
    local num_classes = check_positive_integer("num_classes", options.num_classes or 10)
    local in_channels = check_positive_integer("in_channels", options.in_channels or 3)
    local size = options.input_size or 32
    local height, width
    if type(size) == "table" then
        height, width = size[1], size[2]
    else
        height, width = size, size
    end
    check_positive_integer("input height", height)
    check_positive_integer("input width", width)
    if height < 2 or width < 2 then
        error(string.format("simple_vgg: input_size %dx%d is too small for 2x2 pooling",
            height, width), 2)
    end

    local features = 16 * (height // 2) * (width // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, { padding = 1 }),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(features, num_classes))
end

return simple_vgg
