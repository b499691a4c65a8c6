--- Model constructors: `lunet.models`.
--
-- `local models = require "lunet.models"`. The models are Lua files built
-- from `lunet.nn` layers, and each field loads its file on first use. In a
-- checkout the files are `models/*.lua`, and scripts may also
-- `require "models.vgg"`. An installation keeps them as `lunet/models/*.lua`,
-- where `require "lunet.models.vgg"` finds them. The lunet executable still
-- resolves `require "models.vgg"` there.
--
-- A model returns raw class scores (logits), not probabilities: apply
-- `lunet.softmax` along the class dim to get probabilities.
-- @module lunet.models
-- @prefix models.
-- @usage local models = require "lunet.models"
-- local model = models.vgg.vgg11_bn({num_classes = 10, width = 1/16})
-- local probs = lunet.softmax(model(lunet.randn(2, 3, 32, 32)), 2)   -- 2 x 10

--- VGG.
-- @section vgg

--- VGG networks with torchvision's layer order and parameter names.
-- The fields are the constructors below, the class `VGG` and `configs`, the
-- channel counts of each depth. A VGG has three children, as in
-- torchvision: `features` (convolutions, ReLU and 2 x 2 max pooling),
-- `avgpool` (AdaptiveAvgPool2d to 7 x 7) and `classifier` (three Linear
-- layers with ReLU and dropout). Its state_dict keys equal torchvision's
-- (`features.0.weight`, `features.1.running_mean`, `classifier.6.bias`), so
-- weights exported from torchvision load unchanged. Inputs are
-- N x 3 x H x W (or 3 x H x W) images of at least 32 x 32 pixels, and the
-- output is N x num_classes logits.
--
-- Every constructor takes the same options table:
--
-- - `num_classes` (1000): the number of outputs
-- - `dropout` (0.5): the dropout probability of the classifier
-- - `width` (1): multiplies every channel count and the 4096-wide hidden
--   layers, for small VGGs on small inputs (at least 1 channel each)
-- - `in_channels` (3): the channels of the input images
-- - `init` (true): false skips the weight initialisation, for weights that
--   will be loaded
--
-- Unknown options raise `vgg: unknown option 'x' (expected num_classes, ...)`.
-- @table vgg

--- Builds VGG-11 (configuration A: 8 convolutions and 3 linear layers).
-- @function vgg.vgg11
-- @tparam[opt] table options the options of `vgg`
-- @treturn VGG the model
-- @raise when an option is unknown or out of range (`vgg: num_classes must be a positive
-- integer, got 0`).

--- Builds VGG-11 with batch norm after every convolution.
-- @function vgg.vgg11_bn
-- @tparam[opt] table options the options of `vgg`
-- @treturn VGG the model
-- @raise as `vgg.vgg11` does.

--- Builds VGG-13 (configuration B: 10 convolutions and 3 linear layers).
-- @function vgg.vgg13
-- @tparam[opt] table options the options of `vgg`
-- @treturn VGG the model
-- @raise as `vgg.vgg11` does.

--- Builds VGG-13 with batch norm after every convolution.
-- @function vgg.vgg13_bn
-- @tparam[opt] table options the options of `vgg`
-- @treturn VGG the model
-- @raise as `vgg.vgg11` does.

--- Builds VGG-16 (configuration D: 13 convolutions and 3 linear layers).
-- With the default options it has 138,357,544 parameters, as torchvision's.
-- @function vgg.vgg16
-- @tparam[opt] table options the options of `vgg`
-- @treturn VGG the model
-- @raise as `vgg.vgg11` does.
-- @usage local model = models.vgg.vgg16({init = false})
-- model:load_state_dict(lunet.load("vgg16.safetensors"))

--- Builds VGG-16 with batch norm after every convolution.
-- @function vgg.vgg16_bn
-- @tparam[opt] table options the options of `vgg`
-- @treturn VGG the model
-- @raise as `vgg.vgg11` does.

--- Builds VGG-19 (configuration E: 16 convolutions and 3 linear layers).
-- @function vgg.vgg19
-- @tparam[opt] table options the options of `vgg`
-- @treturn VGG the model
-- @raise as `vgg.vgg11` does.

--- Builds VGG-19 with batch norm after every convolution.
-- @function vgg.vgg19_bn
-- @tparam[opt] table options the options of `vgg`
-- @treturn VGG the model
-- @raise as `vgg.vgg11` does.

--- The VGG class, a subclass of `nn.Module`.
-- `vgg.VGG(config, options)` builds a VGG from a list of channel counts
-- with "M" for max pooling, such as `vgg.configs.vgg11`. Its forward maps
-- images to logits, and its backward returns the gradient with respect to
-- the images.
-- @function vgg.VGG
-- @tab config channel counts and "M", as in `vgg.configs`
-- @tparam[opt] table options the options of `vgg`, with `batch_norm = false`
-- @treturn VGG the model
-- @raise as `vgg.vgg11` does.

--- The channel counts of VGG-11, 13, 16 and 19 per convolution, with "M" for 2 x 2 max pooling.
-- These are the configurations A, B, D and E of Simonyan and Zisserman
-- (2014), as in torchvision.
-- @table vgg.configs
-- @field vgg11 `{64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"}`
-- @field vgg13 two convolutions in each of the first two blocks
-- @field vgg16 three convolutions in each of the last three blocks
-- @field vgg19 four convolutions in each of the last three blocks

--- Small models.
-- @section small

--- Builds a one-block VGG for small images: Conv2d to 16 channels, ReLU, 2 x 2 max pooling, Flatten and Linear.
-- The convolution is 3 x 3 with padding 1. The Linear's input width is
-- 16 * (H/2) * (W/2), computed from input_size, so the model accepts only
-- that image size. The result is an `nn.Sequential`.
-- @function simple_vgg
-- @tparam[opt] table options `{num_classes = 10, in_channels = 3, input_size = 32}`; input_size
-- is a number or `{h, w}`, at least 2
-- @treturn Sequential the model, mapping N x in_channels x H x W images to N x num_classes logits
-- @raise when an option is not a positive integer (`simple_vgg: num_classes must be a
-- positive integer, got 0`) or the input size is below 2 x 2.
-- @usage local model = models.simple_vgg({num_classes = 3})
-- local logits = model(lunet.randn(4, 3, 32, 32))      -- 4 x 3

--- Builds the small VGG-style network that examples/train_fashion_mnist.lua trains on 1 x 28 x 28 images.
-- It has two blocks of two 3 x 3 convolutions with batch norm and ReLU,
-- each block ending in 2 x 2 max pooling (28 -> 14 -> 7), then Flatten,
-- Linear to hidden, ReLU, Dropout and Linear to num_classes. The result is
-- an `nn.Sequential`.
-- @function fashion_vgg
-- @tparam[opt] table options `{width = 32, hidden = 256, dropout = 0.3, num_classes = 10}`;
-- width is the channel count of the first block, and the second has twice as many
-- @treturn Sequential the model, mapping N x 1 x 28 x 28 images to N x num_classes logits
-- @raise when an option is not a positive integer (`fashion_vgg: width must be a positive
-- integer, got 0`).
-- @usage local model = models.fashion_vgg()
-- model:load_state_dict(lunet.load("examples/out/fashion_vgg.safetensors"))
