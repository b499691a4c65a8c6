--- Layers, containers and losses: `lunet.nn`.
--
-- `local nn = require("lunet").nn`. Calling a constructor makes a layer,
-- and calling the layer runs its forward pass: `nn.Linear(4, 2)(x)`.
-- Native layers such as `Linear` and `Conv2d` are C userdata; containers
-- (`Sequential`) and your own layers (`Module:extend`) are Lua tables. Both
-- kinds mix freely and share the module methods (`parameters`,
-- `state_dict`, `train`, ...).
--
-- Gradients are computed by explicit backward calls rather than a tape:
-- after `y = model(x)`, `model:backward(x, grad_y)` returns the gradient
-- with respect to x and adds each parameter's gradient into its `grad`
-- field. Call `zero_grad` before each backward, since gradients add up.
--
-- Parameter and buffer names follow PyTorch (`weight`, `bias`,
-- `running_mean`, `running_var`), so `state_dict()` keys such as
-- `features.0.weight` match torchvision's and weights move between the two.
-- Layers start in training mode; `evaluate()` switches batch norm to its
-- running statistics and turns dropout off.
--
-- A layer given a wrong input raises an error that names the layer and the
-- shapes, such as
-- `Conv2d: input has 4 channels but weight expects 3 (input 1x4x8x8, weight 4x3x3x3)`.
-- @module lunet.nn
-- @prefix nn.

--- Linear and convolution layers.
-- @section linear

--- A fully connected layer: y = x * transpose(weight) + bias.
-- weight has shape out_features x in_features and bias out_features; both
-- start uniform in [-1/sqrt(in_features), 1/sqrt(in_features)], as in
-- PyTorch. The input's last dim has in_features elements and any dims
-- before it are a batch.
-- @function Linear
-- @int in_features the size of each input sample
-- @int out_features the size of each output sample
-- @tparam[opt] table options `{bias = true}`; `bias = false` leaves the bias out
-- @treturn Linear a layer mapping ... x in_features to ... x out_features
-- @raise when a size is not a non-negative integer; in forward, when the input's last dim
-- differs from in_features (`Linear: input has 3 features but weight expects 4 (input 2x3,
-- weight 2x4)`).
-- @usage local layer = nn.Linear(784, 10)
-- local logits = layer(lunet.randn(32, 784))    -- 32 x 10

--- A 2-d convolution over images of shape N x C x H x W (or C x H x W).
-- weight has shape out_channels x in_channels/groups x kh x kw and bias
-- out_channels, initialised as in PyTorch. The output has shape
-- N x out_channels x H' x W', with
-- H' = floor((H + 2 * padding - dilation * (kh - 1) - 1) / stride) + 1 and W' alike.
-- The work runs as Winograd F(4x4, 3x3) or as lunet's AVX-512 GEMM kernel
-- where they apply and pay, and as im2col and an OpenBLAS GEMM otherwise.
-- @function Conv2d
-- @int in_channels the channels of the input (C)
-- @int out_channels the channels of the output
-- @tparam int|table kernel_size the window, n or `{kh, kw}`
-- @tparam[opt] table options `{stride = 1, padding = 0, dilation = 1, groups = 1, bias = true}`;
-- stride, padding and dilation take n or `{h, w}`
-- @treturn Conv2d the layer
-- @raise when an argument is out of range (`Conv2d: stride must be >= 1, got 0`) or the
-- channels do not divide into groups. In forward it raises when the input is not 3-d or
-- 4-d or has the wrong channel count (`Conv2d: input has 4 channels but weight expects 3
-- (input 1x4x8x8, weight 4x3x3x3)`), or the window does not fit the padded input.
-- @usage local conv = nn.Conv2d(3, 64, 3, {padding = 1})    -- keeps H and W

--- Pooling layers.
-- They have no parameters and take N x C x H x W or C x H x W inputs.
-- @section pool

--- Takes the maximum over each window of an image.
-- @function MaxPool2d
-- @tparam int|table kernel_size the window, n or `{kh, kw}`
-- @tparam[opt] table options `{stride = kernel_size, padding = 0, dilation = 1, ceil_mode = false}`;
-- sizes take n or `{h, w}`
-- @treturn MaxPool2d the layer
-- @raise when a size is out of range; in forward, when the input is not 3-d or 4-d
-- (`MaxPool2d: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got 1x1`) or smaller
-- than the window.
-- @usage local pool = nn.MaxPool2d(2)    -- halves H and W

--- Takes the mean over each window of an image.
-- @function AvgPool2d
-- @tparam int|table kernel_size the window, n or `{kh, kw}`
-- @tparam[opt] table options `{stride = kernel_size, padding = 0, ceil_mode = false,
-- count_include_pad = true, divisor_override = nil}`; sizes take n or `{h, w}`
-- @treturn AvgPool2d the layer
-- @raise as `MaxPool2d` does.

--- Averages each channel over windows chosen so that the output has a fixed size.
-- Whatever H x W the input has, the output is N x C x output_size. VGG uses
-- it to accept images of any size.
-- @function AdaptiveAvgPool2d
-- @tparam int|table output_size n or `{h, w}`
-- @treturn AdaptiveAvgPool2d the layer
-- @raise when a size is not a positive integer, or in forward when the input is not 3-d
-- or 4-d.

--- Normalisation layers.
-- @section norm

--- Batch normalisation for N x C or N x C x L inputs.
-- It works as `BatchNorm2d` does, over the batch (and length) dims.
-- @function BatchNorm1d
-- @int num_features C, the features or channels
-- @tparam[opt] table options `{eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true}`
-- @treturn BatchNorm1d the layer
-- @raise when an option has the wrong type or range; in forward, when the input is not
-- 2-d or 3-d or has another channel count.

--- Normalises each channel of an N x C x H x W (or C x H x W) input.
-- In training mode it uses the batch's mean and variance per channel and
-- updates running_mean and running_var with momentum. After `evaluate()` it
-- uses the running statistics instead. Then it scales by weight and adds bias (when
-- affine). weight, bias, running_mean and running_var have C elements.
-- @function BatchNorm2d
-- @int num_features C, the channels
-- @tparam[opt] table options `{eps = 1e-5, momentum = 0.1, affine = true, track_running_stats = true}`
-- @treturn BatchNorm2d the layer
-- @raise when an option has the wrong type or range; in forward, when the input is not
-- 3-d or 4-d or has another channel count (`BatchNorm2d: input has 4 channels but the
-- layer expects 3 (input 1x4x2x2)`).

--- Activations.
-- @section activation

--- Applies max(x, 0) elementwise.
-- @function ReLU
-- @treturn ReLU the layer

--- Applies x where x >= 0 and negative_slope * x elsewhere, elementwise.
-- @function LeakyReLU
-- @tparam[opt=0.01] number negative_slope the slope below 0
-- @treturn LeakyReLU the layer

--- Applies 1 / (1 + exp(-x)) elementwise.
-- @function Sigmoid
-- @treturn Sigmoid the layer

--- Applies the hyperbolic tangent elementwise.
-- @function Tanh
-- @treturn Tanh the layer

--- Applies `lunet.softmax` along dim, turning scores into probabilities.
-- Put it after a classifier only for inference: `CrossEntropyLoss` expects
-- the raw scores (logits).
-- @function Softmax
-- @tparam[opt] int dim the dim to normalise, 1-based or negative from the end; the last by default
-- @treturn Softmax the layer
-- @raise when dim is 0 or not an integer; in forward, when dim is out of range for the
-- input (`Softmax: dim 3 is out of range for a 2-d tensor (expected -2..2, excluding 0)`).

--- Applies `lunet.log_softmax` along dim.
-- Its output feeds `NLLLoss`.
-- @function LogSoftmax
-- @tparam[opt] int dim the dim to normalise, 1-based or negative from the end; the last by default
-- @treturn LogSoftmax the layer
-- @raise as `Softmax` does.

--- Shape and regularisation layers.
-- @section shape

--- Merges dims start_dim through end_dim into one.
-- It returns a view where the strides allow and a copy otherwise. The
-- defaults keep the batch dim: N x C x H x W becomes N x F with F = C * H * W.
-- @function Flatten
-- @tparam[opt=2] int start_dim the first dim to merge, 1-based or negative from the end
-- @tparam[opt=-1] int end_dim the last dim to merge
-- @treturn Flatten the layer
-- @raise when a dim is 0 or not an integer, or in forward when a dim is out of range.

--- Returns its input unchanged; a placeholder where a layer is expected.
-- @function Identity
-- @treturn Identity the layer

--- Zeroes each element with probability p in training mode and scales the rest by 1 / (1 - p).
-- The expected output equals the input. After `evaluate()` (or with p = 0)
-- it returns the input unchanged. The draws come from lunet's generator
-- (see `lunet.manual_seed`).
-- @function Dropout
-- @tparam[opt=0.5] number p the probability of zeroing an element, from 0 to 1
-- @treturn Dropout the layer
-- @raise when p is outside [0, 1] (`Dropout: p must be between 0 and 1, got 1.5`).

--- Losses.
-- A loss is a layer without parameters: `loss(input, target)` returns the
-- loss and `loss:backward(input, target)` its gradient with respect to
-- input (see `Loss`). Targets that are class indices are 1-based.
-- @section loss

--- Returns the cross entropy between logits and 1-based class indices.
-- It applies log_softmax along the class dim and takes the negative log
-- probability of each target class, so the input is the raw scores
-- (logits), not probabilities. The input is N x C, N x C x d1 x ... (a class
-- per position) or C (one sample). The target is then N class numbers in
-- 1..C (a tensor or a Lua list), a tensor of shape N x d1 x ..., or one number.
-- With reduction "mean" or "sum" the loss is a 0-d tensor (read it with
-- `:item()`); with "none" it has the target's shape.
-- @function CrossEntropyLoss
-- @tparam[opt] table options `{weight = nil, reduction = "mean", label_smoothing = 0, ignore_index = nil}`:
-- weight is a tensor of C class weights, reduction is "mean", "sum" or "none",
-- and positions whose target equals ignore_index count for nothing
-- @treturn CrossEntropyLoss the loss
-- @raise when an option is unknown or invalid (`CrossEntropyLoss: option 'reduction' must
-- be "mean", "sum" or "none", got "avg"`); in forward, when a target is out of range
-- (`CrossEntropyLoss: target 5 is out of range for 3 classes (expected 1..3) at position 2`)
-- or the shapes do not match.
-- @usage local criterion = nn.CrossEntropyLoss()
-- local loss = criterion(logits, labels)                  -- logits N x 10, labels N
-- model:backward(x, criterion:backward(logits, labels))

--- Returns the negative log likelihood of 1-based class indices under log-probabilities.
-- The input is the output of `LogSoftmax` (or `lunet.log_softmax`), with
-- the shapes of `CrossEntropyLoss`. NLLLoss after LogSoftmax equals
-- CrossEntropyLoss on the logits.
-- @function NLLLoss
-- @tparam[opt] table options `{weight = nil, reduction = "mean", ignore_index = nil}`
-- @treturn NLLLoss the loss
-- @raise as `CrossEntropyLoss` does.

--- Returns the mean squared error between two tensors of one shape.
-- @function MSELoss
-- @tparam[opt] table options `{reduction = "mean"}`; reduction is "mean", "sum" or "none"
-- @treturn MSELoss the loss
-- @raise when an option is unknown or invalid, or in forward when the shapes differ.

--- Returns the binary cross entropy of sigmoid(logits) against targets in [0, 1].
-- It is computed from the logits directly, which stays accurate where
-- sigmoid rounds to 0 or 1.
-- @function BCEWithLogitsLoss
-- @tparam[opt] table options `{reduction = "mean", pos_weight = nil}`; pos_weight is a
-- tensor that weights the positive term of each class, as in PyTorch
-- @treturn BCEWithLogitsLoss the loss
-- @raise as `MSELoss` does.

--- Containers and your own layers.
-- @section containers

--- A container that applies its modules one after another.
-- `seq[i]` is the i-th module (1-based) and `#seq` the count. The children
-- are named "0", "1", ... as in PyTorch, so state_dict keys read
-- `features.0.weight`. When a module fails, the error names its position,
-- the module and the shape it received: `Sequential: module 1
-- (Linear(in_features=4, out_features=2)) failed on input of shape 2x3: ...`.
-- @function Sequential
-- @param ... the modules, as arguments or as one list
-- @treturn Sequential the container
-- @raise when an element is not a module (`Sequential: element 1 is not a module (got
-- number; a module has a forward method)`).
-- @usage local model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

--- The base class of layers and models written in Lua.
-- Make a subclass with `Module:extend`, give it `init`, `forward` and
-- `backward` methods, and register its children and tensors with
-- `add_module`, `register_parameter` and `register_buffer` so that they take
-- part in `parameters()`, `state_dict()`, `zero_grad()` and
-- `train()`/`evaluate()`.
-- @table Module
-- @usage local Scale = nn.Module:extend("Scale")
-- function Scale:init(factor) self.factor = factor end
-- function Scale:forward(x) return x * self.factor end
-- function Scale:backward(input, grad_output) return grad_output * self.factor end
-- local layer = Scale(2)

--- Returns true when value is a layer implemented in C, such as Linear or Conv2d.
-- @function is_native_layer
-- @param value any Lua value
-- @treturn bool

--- Methods of every layer and model.
-- Native layers, `Sequential`, models and `Module` subclasses all have
-- these methods.
-- @type Module
-- @prefix module:

--- Computes and returns the module's output for input.
-- `module(input)` is the same call.
-- @function Module:forward
-- @tparam Tensor input the input, of the shape the module expects
-- @treturn Tensor the output
-- @raise when the input has the wrong rank or shape; the message names the module and
-- the shapes.

--- Returns the gradient with respect to input and adds the parameter gradients into each parameter's grad field.
-- Call it after forward on the same input. Gradients add up across calls,
-- so call `zero_grad` first.
-- @function Module:backward
-- @tparam Tensor input the input of the forward call
-- @tparam Tensor grad_output the gradient of the loss with respect to the output, of the output's shape
-- @treturn Tensor the gradient with respect to input, of input's shape
-- Containers keep their modules' inputs only when forward runs in training
-- mode, so in evaluation mode inference frees each activation early.
-- @raise when grad_output has the wrong shape, or for containers when forward did not
-- run on this input in training mode (`Sequential.backward: call forward with this
-- input in training mode first (evaluation mode keeps no inputs)`).

--- Returns the list of parameter tensors of the module and its children.
-- The order is that of `named_parameters`; optimizers take this list.
-- @function Module:parameters
-- @treturn table a list of tensors, the module's own (not copies)

--- Returns a list of `{name, tensor}` pairs for every parameter, with dotted names.
-- @function Module:named_parameters
-- @tparam[opt] string prefix a prefix for every name
-- @treturn table a list such as `{{"0.weight", w}, {"0.bias", b}}`

--- Returns the number of scalar parameters in the module and its children.
-- @function Module:num_parameters
-- @treturn int

--- Returns a table of dotted name -> tensor with every parameter and buffer.
-- Buffers are tensors that are saved but not trained, such as batch norm's
-- running_mean. The tensors are the module's own, not copies. `lunet.save`
-- writes the table in a form PyTorch loads.
-- @function Module:state_dict
-- @treturn table name -> tensor
-- @usage lunet.save("model.safetensors", model:state_dict())

--- Copies tensors into the module's parameters and buffers by name.
-- In strict mode (the default) missing names, unexpected names and shape
-- mismatches are all listed in one error and nothing is copied. With
-- `{strict = false}` the matching tensors are copied and a report is
-- returned.
-- @function Module:load_state_dict
-- @tab tensors name -> tensor, such as the first result of `lunet.load`
-- @tparam[opt] table options `{strict = true}`
-- @treturn[1] nil in strict mode
-- @treturn[2] table with strict = false, the lists `missing`, `unexpected` and `mismatched`
-- @raise in strict mode when the names or shapes differ, listing each problem:
-- `load_state_dict: the tensors do not match the model` followed by lines such as
-- `missing keys: bias` and `shape mismatches: weight (file 2x2, model 2x3)`.
-- @usage local tensors = lunet.load("model.safetensors")
-- model:load_state_dict(tensors)

--- Fills the gradient of every parameter that has one with 0.
-- @function Module:zero_grad

--- Sets training mode on the module and its children and returns the module.
-- In training mode batch norm uses batch statistics and dropout is on.
-- @function Module:train
-- @tparam[opt=true] bool mode false sets evaluation mode
-- @treturn Module the module

--- Sets evaluation mode on the module and its children and returns the module.
-- Batch norm uses its running statistics and dropout passes its input
-- through. Call it before measuring accuracy or running inference.
-- @function Module:evaluate
-- @treturn Module the module

--- Returns an iterator over name, child for the direct children, in registration order.
-- @function Module:children
-- @treturn function an iterator for a generic `for`
-- @usage for name, child in model:children() do print(name, child) end

--- Returns the class name of a native layer, such as "Linear".
-- Only native layers have this method.
-- @function Module:type
-- @treturn string

--- Makes a subclass of Module (or of any Module class, such as Sequential).
-- Calling the subclass constructs an instance and runs its `init` method
-- with the call's arguments.
-- @function Module:extend
-- @prefix nn.Module:
-- @string name the class name, shown by tostring and help
-- @treturn table the class
-- @raise when name is not a string.

--- Registers child under name, reachable as `self[name]`, and returns self.
-- @function Module:add_module
-- @string name a non-empty name without '.'
-- @param child a module: a native layer or a table with a forward method
-- @treturn Module self
-- @raise when name is empty or contains '.' (`add_module: name must be a non-empty string
-- without '.', got a.b`), or child is not a table or userdata.

--- Registers a trainable tensor under name, reachable as `self[name]`, and returns it.
-- @function Module:register_parameter
-- @string name a non-empty name without '.'
-- @tparam Tensor|nil tensor the parameter, or nil for an empty slot
-- @treturn Tensor tensor
-- @raise when name is invalid or tensor is neither nil nor an open tensor.

--- Registers a tensor that is saved but not trained under name and returns it.
-- Running statistics are buffers: they appear in `state_dict` but not in
-- `parameters`.
-- @function Module:register_buffer
-- @string name a non-empty name without '.'
-- @tparam Tensor|nil tensor the buffer, or nil for an empty slot
-- @treturn Tensor tensor
-- @raise as `register_parameter` does.

--- Methods of Sequential.
-- @type Sequential
-- @prefix seq:

--- Appends module to the Sequential and returns the Sequential, so that calls chain.
-- @function Sequential:add
-- @param module a native layer or a table with a forward method
-- @treturn Sequential seq
-- @raise when module has no forward method.
-- @usage local model = nn.Sequential():add(nn.Linear(4, 2)):add(nn.ReLU())

--- Methods of the losses.
-- @type Loss
-- @prefix loss:

--- Returns the loss of input against target.
-- `loss(input, target)` is the same call. The result is a 0-d tensor for
-- reduction "mean" or "sum" and has the target's shape for "none".
-- @function Loss:forward
-- @tparam Tensor input the logits, log-probabilities or predictions
-- @tparam Tensor|table|number target class indices (1-based) or values, as the loss expects
-- @treturn Tensor the loss
-- @raise when the shapes do not match or a class index is out of range.

--- Returns the gradient of the loss with respect to input.
-- @function Loss:backward
-- @tparam Tensor input the input of the forward call
-- @tparam Tensor|table|number target the target of the forward call
-- @tparam[opt=1] Tensor|number grad_output a number or 0-d tensor that scales the gradient,
-- or for reduction "none" a tensor of the loss's shape
-- @treturn Tensor the gradient, of input's shape
-- @raise as `Loss:forward` does, or when grad_output has the wrong shape.
