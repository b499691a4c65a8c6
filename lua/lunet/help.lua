--- help(x): one paragraph on a lunet function, tensor method, layer or
-- model, with its signature.
--
-- Descriptions are keyed by name ("softmax", "Linear", "Sequential:add").
-- help() finds the name of a function or class through a reverse map from
-- the values in lunet, lunet.Tensor and lunet.nn, built on first use, and
-- the name of a layer or model through its metatable.
local help = {}

local WIDTH = 78

-- Categories in the order help() lists them.
local CATEGORIES = {
    { "create", "Creating tensors" },
    { "inspect", "Inspecting tensors" },
    { "view", "Views, copies and fills" },
    { "math", "Elementwise math (broadcasting)" },
    { "reduce", "Reductions, sorting and softmax" },
    { "linalg", "Matrix products" },
    { "io", "Files, threads and timing" },
    { "data", "Data sets (lunet.data)" },
    { "nn", "Layers (nn.*)" },
    { "module", "Methods of every layer and model" },
}

-- name = { category, signature, description }. A tensor method that is
-- also a lunet function is written as the function; x:name(...) works too.
-- NOTE: nn.Softmax and nn.LogSoftmax had not landed in lunet.nn when this
-- table was written; their entries follow PyTorch's arguments.
help.descriptions = {
    -- Creating tensors.
    tensor = { "create", "lunet.tensor(values)",
        "Returns a new float32 tensor copied from values: a nested table of numbers "
            .. "(the nesting gives the shape and must be rectangular), a single number "
            .. "(a 0-d tensor) or another tensor." },
    zeros = { "create", "lunet.zeros(size...) or lunet.zeros({size...})",
        "Returns a new tensor of the given shape filled with 0." },
    ones = { "create", "lunet.ones(size...) or lunet.ones({size...})",
        "Returns a new tensor of the given shape filled with 1." },
    full = { "create", "lunet.full(size..., value) or lunet.full({size...}, value)",
        "Returns a new tensor of the given shape with every element set to value." },
    empty = { "create", "lunet.empty(size...) or lunet.empty({size...})",
        "Returns a new tensor of the given shape whose elements are not initialised; "
            .. "fill it before reading it." },
    rand = { "create", "lunet.rand(size...) or lunet.rand({size...})",
        "Returns a new tensor of uniform random numbers in [0, 1). Seed the generator "
            .. "with lunet.manual_seed." },
    randn = { "create", "lunet.randn(size...) or lunet.randn({size...})",
        "Returns a new tensor of normally distributed random numbers (mean 0, standard "
            .. "deviation 1). Seed the generator with lunet.manual_seed." },
    arange = { "create", "lunet.arange(end) or lunet.arange(start, end [, step])",
        "Returns a 1-d tensor of the half-open range start, start + step, ... up to but "
            .. "excluding end, as torch.arange; start defaults to 0 and step to 1." },
    manual_seed = { "create", "lunet.manual_seed(seed)",
        "Seeds the random number generator behind rand, randn, uniform_, normal_ and "
            .. "layer initialisation, so runs repeat exactly." },

    -- Inspecting tensors.
    Tensor = { "inspect", "x = lunet.tensor(...); x:method(...)",
        "A float32 n-d array. Dims and indices are 1-based and negative dims count from "
            .. "the end; x[i] indexes the first dim. Views share storage with their source. "
            .. "Operators + - * / ^ and unary minus broadcast. lunet.Tensor is the table of "
            .. "methods: type x: and press Tab to list them." },
    size = { "inspect", "x:size([dim])",
        "Returns the shape as a table of sizes, or the size of one dim when dim is given." },
    stride = { "inspect", "x:stride([dim])",
        "Returns the strides in elements as a table, or the stride of one dim when dim is "
            .. "given." },
    dim = { "inspect", "x:dim()", "Returns the number of dims (the rank); 0 for a scalar tensor." },
    numel = { "inspect", "x:numel()", "Returns the number of elements." },
    is_contiguous = { "inspect", "x:is_contiguous()",
        "Returns true when the elements lie in row-major order without gaps, as views such "
            .. "as transpose may not." },
    is_tensor = { "inspect", "lunet.is_tensor(value)",
        "Returns true when value is a lunet tensor (an open one or one closed with close)." },
    item = { "inspect", "x:item()",
        "Returns the only element of a one-element tensor as a Lua number; raises for any "
            .. "other size." },
    totable = { "inspect", "x:totable()",
        "Returns the elements as nested Lua tables with the tensor's shape (a number for a "
            .. "0-d tensor)." },
    flat = { "inspect", "x:flat()",
        "Returns the elements as one flat Lua table in row-major order." },
    close = { "inspect", "x:close()",
        "Frees the tensor's storage now rather than at garbage collection; the tensor "
            .. "cannot be used afterwards. `local x <close> = ...` does the same at scope exit." },

    -- Views, copies and fills.
    view = { "view", "x:view(size...) or x:view({size...})",
        "Returns a view with a new shape and the same elements; one size may be -1 to be "
            .. "inferred. Raises when the layout cannot be viewed (use reshape)." },
    reshape = { "view", "x:reshape(size...) or x:reshape({size...})",
        "Returns x with a new shape: a view when the layout allows it, otherwise a copy. "
            .. "One size may be -1 to be inferred." },
    transpose = { "view", "x:transpose([dim0, dim1])",
        "Returns a view with dims dim0 and dim1 swapped; without dims it transposes a "
            .. "matrix." },
    t = { "view", "x:t()", "Returns the transpose of a matrix as a view." },
    permute = { "view", "x:permute(dims...) or x:permute({dims...})",
        "Returns a view whose dims are x's dims in the given order." },
    narrow = { "view", "x:narrow(dim, start, length)",
        "Returns a view of length elements of dim starting at the 1-based index start." },
    select = { "view", "x:select(dim, index)",
        "Returns a view of the slice at the 1-based index along dim, with that dim removed." },
    squeeze = { "view", "x:squeeze([dim])",
        "Returns a view without size-1 dims: all of them, or only dim when given." },
    unsqueeze = { "view", "x:unsqueeze(dim)",
        "Returns a view with a new size-1 dim inserted at position dim." },
    expand = { "view", "x:expand(size...) or x:expand({size...})",
        "Returns a view that repeats size-1 dims to the given sizes without copying; -1 "
            .. "keeps a size." },
    expand_as = { "view", "x:expand_as(other)", "Returns x:expand(other:size())." },
    contiguous = { "view", "x:contiguous()",
        "Returns x when it is already contiguous, otherwise a contiguous copy." },
    clone = { "view", "x:clone()", "Returns a contiguous copy that shares nothing with x." },
    copy_ = { "view", "x:copy_(src)",
        "Copies src's elements into x in place (src broadcasts to x's shape) and returns x." },
    fill_ = { "view", "x:fill_(value)", "Sets every element to value in place and returns x." },
    zero_ = { "view", "x:zero_()", "Sets every element to 0 in place and returns x." },
    uniform_ = { "view", "x:uniform_([low, high])",
        "Fills x in place with uniform random numbers in [low, high), by default [0, 1), "
            .. "and returns x." },
    normal_ = { "view", "x:normal_([mean, std])",
        "Fills x in place with normal random numbers, by default mean 0 and std 1, and "
            .. "returns x." },

    index_select = { "view", "lunet.index_select(x, dim, indices)",
        "Returns a new tensor holding the slices of x along dim at the given 1-based "
            .. "indices (a table of integers or a 1-d tensor), in that order; repeats are "
            .. "allowed. Gathers shuffled mini-batches." },

    -- Elementwise math.
    add = { "math", "lunet.add(a, b [, alpha])",
        "Returns a + alpha * b elementwise (alpha defaults to 1). a and b are tensors or "
            .. "numbers and broadcast NumPy-style; x + y is the same. x:add_(y) adds in place." },
    sub = { "math", "lunet.sub(a, b [, alpha])",
        "Returns a - alpha * b elementwise with broadcasting; x - y is the same. "
            .. "x:sub_(y) subtracts in place." },
    mul = { "math", "lunet.mul(a, b)",
        "Returns the elementwise product with broadcasting; x * y is the same (use matmul "
            .. "for matrix products). x:mul_(y) multiplies in place." },
    div = { "math", "lunet.div(a, b)",
        "Returns the elementwise quotient with broadcasting; x / y is the same. x:div_(y) "
            .. "divides in place." },
    pow = { "math", "lunet.pow(a, b)",
        "Returns a raised to the power b elementwise with broadcasting; x ^ y is the same." },
    neg = { "math", "lunet.neg(x)", "Returns -x elementwise; -x is the same." },
    exp = { "math", "lunet.exp(x)", "Returns e^x elementwise." },
    log = { "math", "lunet.log(x)", "Returns the natural logarithm elementwise (-inf at 0, "
        .. "NaN below 0)." },
    sqrt = { "math", "lunet.sqrt(x)", "Returns the square root elementwise (NaN below 0)." },
    abs = { "math", "lunet.abs(x)", "Returns the absolute value elementwise." },
    tanh = { "math", "lunet.tanh(x)", "Returns the hyperbolic tangent elementwise." },
    sigmoid = { "math", "lunet.sigmoid(x)", "Returns 1 / (1 + exp(-x)) elementwise." },
    relu = { "math", "lunet.relu(x)", "Returns max(x, 0) elementwise." },
    clamp = { "math", "lunet.clamp(x, min, max)",
        "Returns x with every element limited to [min, max]; either bound may be nil to "
            .. "leave that side open. NaN stays NaN." },
    maximum = { "math", "lunet.maximum(a, b)",
        "Returns the elementwise maximum of a and b with broadcasting (for the largest "
            .. "element of one tensor, see max)." },
    minimum = { "math", "lunet.minimum(a, b)",
        "Returns the elementwise minimum of a and b with broadcasting." },
    eq = { "math", "lunet.eq(a, b)",
        "Returns 1 where a == b and 0 elsewhere, elementwise with broadcasting. (x == y "
            .. "compares whole tensors and returns a boolean.)" },
    ne = { "math", "lunet.ne(a, b)", "Returns 1 where a ~= b and 0 elsewhere, elementwise." },
    lt = { "math", "lunet.lt(a, b)", "Returns 1 where a < b and 0 elsewhere, elementwise." },
    le = { "math", "lunet.le(a, b)", "Returns 1 where a <= b and 0 elsewhere, elementwise." },
    gt = { "math", "lunet.gt(a, b)", "Returns 1 where a > b and 0 elsewhere, elementwise." },
    ge = { "math", "lunet.ge(a, b)", "Returns 1 where a >= b and 0 elsewhere, elementwise." },

    -- Reductions, sorting and softmax.
    sum = { "reduce", "lunet.sum(x [, dim [, keepdim]])",
        "Without dim, returns the sum of all elements as a Lua number; with dim, a tensor "
            .. "of sums along dim, which is removed (or kept as size 1 with keepdim). Sums "
            .. "accumulate in double." },
    mean = { "reduce", "lunet.mean(x [, dim [, keepdim]])",
        "Without dim, returns the mean of all elements as a Lua number; with dim, a tensor "
            .. "of means along dim, which is removed unless keepdim is true." },
    max = { "reduce", "lunet.max(x [, dim [, keepdim]])",
        "Without dim, returns the largest element as a Lua number; with dim, two tensors: "
            .. "the maxima along dim and their 1-based indices. NaN wins, ties give the "
            .. "first index." },
    min = { "reduce", "lunet.min(x [, dim [, keepdim]])",
        "Without dim, returns the smallest element as a Lua number; with dim, two tensors: "
            .. "the minima along dim and their 1-based indices." },
    argmax = { "reduce", "lunet.argmax(x [, dim [, keepdim]])",
        "Without dim, returns the 1-based flat (row-major) index of the largest element as "
            .. "a Lua integer; with dim, a tensor of 1-based indices along dim." },
    argmin = { "reduce", "lunet.argmin(x [, dim [, keepdim]])",
        "Without dim, returns the 1-based flat index of the smallest element; with dim, a "
            .. "tensor of 1-based indices along dim." },
    topk = { "reduce", "lunet.topk(x, k [, dim [, largest]])",
        "Returns two tensors: the k largest elements along dim (the last by default), in "
            .. "descending order, and their 1-based indices. largest = false takes the k "
            .. "smallest instead." },
    sort = { "reduce", "lunet.sort(x [, dim [, descending]])",
        "Returns the elements sorted along dim (the last by default), ascending unless "
            .. "descending is true, and the 1-based indices they came from." },
    softmax = { "reduce", "lunet.softmax(x [, dim])",
        "Returns exp(x) / sum(exp(x)) along dim (the last by default), so each slice is a "
            .. "probability distribution summing to 1. The max is subtracted first, so large "
            .. "logits do not overflow." },
    log_softmax = { "reduce", "lunet.log_softmax(x [, dim])",
        "Returns log(softmax(x)) along dim (the last by default), computed as x - max - "
            .. "log(sum(exp(x - max))), which stays accurate where softmax underflows to 0." },
    softmax_backward = { "reduce", "lunet.softmax_backward(grad_output, output [, dim])",
        "Returns the gradient of softmax with respect to its input, given the gradient of "
            .. "its output and the output y itself: y * (grad_output - sum(grad_output * y)) "
            .. "along dim (the last by default)." },
    log_softmax_backward = { "reduce", "lunet.log_softmax_backward(grad_output, output [, dim])",
        "Returns the gradient of log_softmax with respect to its input, given the gradient "
            .. "of its output and the output y itself: grad_output - exp(y) * "
            .. "sum(grad_output) along dim (the last by default)." },
    logsumexp = { "reduce", "lunet.logsumexp(x [, dim [, keepdim]])",
        "Returns log(sum(exp(x))) along dim, computed stably by subtracting the max first." },

    -- Matrix products.
    matmul = { "linalg", "lunet.matmul(a, b)",
        "Returns the matrix product with torch.matmul's rank rules: 1-d x 1-d is a dot "
            .. "product, 2-d x 2-d a matrix product, a 1-d side gains and loses a dim, and "
            .. "higher ranks are batches whose batch dims broadcast. Runs on OpenBLAS." },
    mm = { "linalg", "lunet.mm(a, b)",
        "Returns the product of two matrices (2-d tensors only); see matmul for other ranks." },

    -- Files, threads and timing.
    save = { "io", "lunet.save(path, tensors [, metadata])",
        "Writes a table of name -> tensor to path in the safetensors format, with an optional "
            .. "table of string metadata. Files load in PyTorch with safetensors." },
    load = { "io", "lunet.load(path)",
        "Reads a safetensors file and returns two tables: name -> tensor and the string "
            .. "metadata. float16, bfloat16 and float64 data convert to float32." },
    time = { "io", "lunet.time()",
        "Returns seconds from a monotonic wall clock, for timing code (os.clock counts CPU "
            .. "time of all threads)." },
    config = { "io", "lunet.config()",
        "Returns a table describing the build: version, num_threads, blas_config and "
            .. "blas_core." },
    set_num_threads = { "io", "lunet.set_num_threads(n)",
        "Sets the number of threads lunet's kernels (OpenMP) and GEMM (OpenBLAS) use, "
            .. "from 1 to 1024." },
    get_num_threads = { "io", "lunet.get_num_threads()",
        "Returns the number of threads lunet's kernels use." },

    -- Data sets.
    read_idx = { "data", "lunet.data.read_idx(path)",
        "Reads an IDX file of unsigned bytes, gzip-compressed or not, into a float tensor "
            .. "of the raw values 0..255 with the dims stored in the file." },
    fashion_mnist = { "data", "lunet.data.fashion_mnist(split [, dir])",
        "Loads the \"train\" or \"test\" split of Fashion-MNIST (by default from Debian's "
            .. "dataset-fashion-mnist package) and returns images as an N x 1 x 28 x 28 tensor "
            .. "scaled to [0, 1] and labels as an N tensor of 1-based classes 1..10." },
    batches = { "data", "lunet.data.batches(inputs, targets, batch_size [, options])",
        "Iterates over mini-batches along dim 1: for x, y in data.batches(...) do ... end. "
            .. "targets may be nil. The options are {shuffle = false, seed, drop_last = "
            .. "false}; unshuffled batches are views, shuffled ones gathered copies." },

    -- Layers.
    Linear = { "nn", "nn.Linear(in_features, out_features [, {bias = true}])",
        "A fully connected layer: y = x W^T + b, with weight of shape out_features x "
            .. "in_features and bias of out_features, initialised as PyTorch does. The "
            .. "input's last dim has in_features elements; earlier dims are a batch." },
    Conv2d = { "nn", "nn.Conv2d(in_channels, out_channels, kernel_size [, options])",
        "A 2-d convolution over inputs of shape N x C x H x W (or C x H x W). The options "
            .. "and their defaults are {stride = 1, padding = 0, dilation = 1, groups = 1, "
            .. "bias = true}. kernel_size, stride, padding and dilation take n or {h, w}. "
            .. "weight has shape out_channels x in_channels/groups x kh x kw." },
    MaxPool2d = { "nn", "nn.MaxPool2d(kernel_size [, options])",
        "Takes the maximum over each kernel_size window of an N x C x H x W (or C x H x W) "
            .. "input. The options and their defaults are {stride = kernel_size, padding = 0, "
            .. "dilation = 1, ceil_mode = false}; sizes take n or {h, w}." },
    AvgPool2d = { "nn", "nn.AvgPool2d(kernel_size [, options])",
        "Takes the mean over each kernel_size window of an N x C x H x W (or C x H x W) "
            .. "input. The options and their defaults are {stride = kernel_size, padding = 0, "
            .. "ceil_mode = false, count_include_pad = true, divisor_override = nil}; sizes "
            .. "take n or {h, w}." },
    AdaptiveAvgPool2d = { "nn", "nn.AdaptiveAvgPool2d(output_size)",
        "Averages an N x C x H x W input over windows chosen so that the output is "
            .. "output_size (n or {h, w}) whatever the input size." },
    BatchNorm1d = { "nn", "nn.BatchNorm1d(num_features [, options])",
        "Batch normalisation for N x C or N x C x L inputs, with the options of "
            .. "BatchNorm2d: {eps = 1e-5, momentum = 0.1, affine = true, track_running_stats "
            .. "= true}." },
    BatchNorm2d = { "nn", "nn.BatchNorm2d(num_features [, options])",
        "Normalises each channel of an N x C x H x W (or C x H x W) input: with batch "
            .. "statistics in training mode, updating running_mean and running_var, and with "
            .. "the running statistics after evaluate(); then scales by weight and adds bias. "
            .. "The options and their defaults are {eps = 1e-5, momentum = 0.1, affine = "
            .. "true, track_running_stats = true}." },
    ReLU = { "nn", "nn.ReLU()", "Applies max(x, 0) elementwise." },
    LeakyReLU = { "nn", "nn.LeakyReLU([negative_slope = 0.01])",
        "Applies x for x >= 0 and negative_slope * x below 0, elementwise." },
    Sigmoid = { "nn", "nn.Sigmoid()", "Applies 1 / (1 + exp(-x)) elementwise." },
    Tanh = { "nn", "nn.Tanh()", "Applies the hyperbolic tangent elementwise." },
    Flatten = { "nn", "nn.Flatten([start_dim = 2, end_dim = -1])",
        "Merges dims start_dim through end_dim into one, as a view where possible. The "
            .. "default keeps the batch dim: N x C x H x W becomes N x (C*H*W)." },
    Identity = { "nn", "nn.Identity()", "Returns its input unchanged (a placeholder layer)." },
    Dropout = { "nn", "nn.Dropout([p = 0.5])",
        "In training mode zeroes each element with probability p and scales the rest by "
            .. "1 / (1 - p); after evaluate() it passes the input through unchanged." },
    Softmax = { "nn", "nn.Softmax([dim])",
        "Applies lunet.softmax along dim (the last by default)." },
    LogSoftmax = { "nn", "nn.LogSoftmax([dim])",
        "Applies lunet.log_softmax along dim (the last by default)." },
    CrossEntropyLoss = { "nn", "nn.CrossEntropyLoss([options])",
        "loss(logits, target) returns the cross entropy of logits (N x C, N x C x d1 ... "
            .. "for a class per position, or C for one sample) against target's 1-based "
            .. "class indices, a tensor or a Lua list, as a 0-d tensor (read it with :item()). The options are {weight = class "
            .. "weights, reduction = \"mean\" | \"sum\" | \"none\", label_smoothing = 0, "
            .. "ignore_index}. loss:backward(logits, target) returns the gradient." },
    NLLLoss = { "nn", "nn.NLLLoss([options])",
        "loss(log_probs, target) returns the negative log likelihood of 1-based class "
            .. "indices under log-probabilities such as nn.LogSoftmax's output. The options "
            .. "are {weight, reduction = \"mean\", ignore_index}." },
    MSELoss = { "nn", "nn.MSELoss([options])",
        "loss(input, target) returns the mean squared error between two tensors of one "
            .. "shape. The option reduction is \"mean\" (default), \"sum\" or \"none\"." },
    BCEWithLogitsLoss = { "nn", "nn.BCEWithLogitsLoss([options])",
        "loss(logits, target) returns the binary cross entropy of sigmoid(logits) against "
            .. "targets in [0, 1], computed stably from the logits. The options are "
            .. "{reduction = \"mean\", pos_weight = per-class weight of positives}." },
    Sequential = { "nn", "nn.Sequential(module...) or nn.Sequential({module...})",
        "A container that applies its modules one after another. seq[i] is the i-th module "
            .. "and #seq the count; children are named 0, 1, ... as in PyTorch, so state_dict "
            .. "keys read like features.0.weight." },
    ["Sequential:add"] = { "nn", "seq:add(module)",
        "Appends module to the Sequential and returns the Sequential, so calls chain." },
    Module = { "nn", "nn.Module:extend(name)",
        "The base class of layers and models written in Lua. Define init, forward and "
            .. "backward on the class; add_module, register_parameter and register_buffer "
            .. "make children and tensors take part in parameters() and state_dict()." },
    is_native_layer = { "nn", "nn.is_native_layer(value)",
        "Returns true when value is a layer implemented in C (Linear, Conv2d, ...)." },

    nn = { false, "nn = lunet.nn",
        "Layers, containers and losses. Calling a layer runs its forward; every layer and "
            .. "model has the module methods listed by help(). Native layers are C userdata "
            .. "and nn.Module subclasses are Lua tables; both mix inside nn.Sequential." },

    -- Methods of every layer and model.
    forward = { "module", "module:forward(input) or module(input)",
        "Computes and returns the module's output for input." },
    backward = { "module", "module:backward(input, grad_output)",
        "Returns the gradient with respect to input and adds the parameter gradients into "
            .. "each parameter's grad field; call after forward on the same input." },
    parameters = { "module", "module:parameters()",
        "Returns the list of parameter tensors of the module and its children, the input "
            .. "optimisers take." },
    named_parameters = { "module", "module:named_parameters([prefix])",
        "Returns a list of {name, tensor} pairs for every parameter, with dotted names." },
    num_parameters = { "module", "module:num_parameters()",
        "Returns the number of scalar parameters in the module and its children." },
    state_dict = { "module", "module:state_dict()",
        "Returns a table of dotted name -> tensor holding parameters and buffers (such as "
            .. "running_mean), the module's own tensors rather than copies. lunet.save writes "
            .. "it in a form PyTorch loads." },
    load_state_dict = { "module", "module:load_state_dict(tensors [, {strict = true}])",
        "Copies tensors into the module's parameters and buffers by name. Strict mode lists "
            .. "missing, unexpected and mismatched names in one error and copies nothing." },
    zero_grad = { "module", "module:zero_grad()", "Fills every parameter's gradient with 0." },
    train = { "module", "module:train([mode = true])",
        "Sets training mode on the module and its children (batch statistics, dropout on)." },
    evaluate = { "module", "module:evaluate()",
        "Sets evaluation mode on the module and its children (running statistics, dropout "
            .. "off)." },
    children = { "module", "module:children()",
        "Returns an iterator over name, child for the direct children, in registration "
            .. "order." },
    type = { "module", "layer:type()", "Returns the class name of a native layer, e.g. \"Linear\"." },
}

-- Reverse map ---------------------------------------------------------------

local names_by_value

local function add_names(map, t, format)
    if type(t) ~= "table" then
        return
    end
    for name, value in pairs(t) do
        if type(name) == "string" and (type(value) == "function" or type(value) == "table")
            and map[value] == nil then
            map[value] = format and format(name) or name
        end
    end
end

-- Maps the values of lunet, its tensor methods and lunet.nn to their names.
local function build_names()
    local map = {}
    local ok, lunet = pcall(require, "lunet")
    if not ok then
        return map
    end
    add_names(map, lunet)
    add_names(map, lunet.Tensor)
    local data = lunet.data
    if data == nil and package.searchpath("lunet.data", package.path) then
        local data_ok, module = pcall(require, "lunet.data")
        data = data_ok and module or nil
    end
    add_names(map, data)
    local nn = lunet.nn
    add_names(map, nn)
    local core = package.loaded["lunet.core"]
    if type(core) == "table" and type(core.nn) == "table" then
        add_names(map, core.nn._layer_methods)
    end
    local shared_ok, shared = pcall(require, "lunet.nn.module")
    if shared_ok then
        add_names(map, shared)
    end
    local add = type(nn) == "table" and type(nn.Sequential) == "table" and rawget(nn.Sequential, "add")
    if add then
        map[add] = "Sequential:add"
    end
    map[lunet] = "lunet"
    if nn ~= nil then
        map[nn] = "nn"
    end
    return map
end

-- The name of x: a string names itself ("lunet.softmax" and "x:size" name
-- their last part), a function or class is looked up in the reverse map,
-- and a tensor, layer or model is named by its metatable.
local function name_of(x)
    if type(x) == "string" then
        if help.descriptions[x] then
            return x
        end
        return x:match("([%w_]+)$") or x
    end
    names_by_value = names_by_value or build_names()
    local name = names_by_value[x]
    if name then
        return name
    end
    -- A class made by nn.Module:extend.
    if type(x) == "table" and rawget(x, "super") and type(rawget(x, "__name")) == "string" then
        return rawget(x, "__name")
    end
    local mt = getmetatable(x)
    if type(mt) ~= "table" then
        return nil
    end
    local class = rawget(mt, "__name")
    if class == "lunet.Tensor" then
        return "Tensor"
    elseif type(class) == "string" then
        return names_by_value[mt] or class:match("([%w_]+)$")
    end
    return names_by_value[mt]
end

-- Output ----------------------------------------------------------------------

-- Wraps text at WIDTH columns with every line indented.
local function wrap(text, indent)
    local lines, line = {}, indent
    for word in text:gmatch("%S+") do
        if #line > #indent and #line + 1 + #word > WIDTH then
            lines[#lines + 1] = line
            line = indent .. word
        elseif #line > #indent then
            line = line .. " " .. word
        else
            line = line .. word
        end
    end
    lines[#lines + 1] = line
    return table.concat(lines, "\n")
end

--- Returns the help text for name, or nil when there is none. An in-place
-- method (add_) falls back to its function (add).
function help.text(name)
    local entry = help.descriptions[name]
    local note = ""
    if not entry and type(name) == "string" and name:sub(-1) == "_" then
        entry = help.descriptions[name:sub(1, -2)]
        note = " x:" .. name .. "(...) is the in-place form, which writes into x and returns it."
    end
    if not entry then
        return nil
    end
    return entry[2] .. "\n" .. wrap(entry[3] .. note, "    ")
end

local function overview()
    local lines = {
        "lunet: float32 tensors and neural networks for Lua 5.4.",
        "help(x) describes a function, method, layer or model; help(\"name\") works too.",
        "Type a name and press Tab to complete it; x: and Tab lists a tensor's methods.",
        "",
    }
    local by_category = {}
    for name, entry in pairs(help.descriptions) do
        if entry[1] then
            local list = by_category[entry[1]] or {}
            list[#list + 1] = name
            by_category[entry[1]] = list
        end
    end
    for _, category in ipairs(CATEGORIES) do
        local list = by_category[category[1]] or {}
        table.sort(list)
        lines[#lines + 1] = category[2] .. ":"
        lines[#lines + 1] = wrap(table.concat(list, " "), "    ")
    end
    return table.concat(lines, "\n")
end

local STANDARD_LIBRARIES = { "coroutine", "debug", "io", "math", "os", "package", "string",
    "table", "utf8" }

-- The name of a function from Lua's standard library ("print",
-- "string.format"), or nil.
local function standard_name(x)
    if type(x) ~= "function" then
        return nil
    end
    for name, value in pairs(_G) do
        if value == x then
            return name
        end
    end
    for _, library in ipairs(STANDARD_LIBRARIES) do
        for name, value in pairs(_G[library] or {}) do
            if value == x then
                return library .. "." .. name
            end
        end
    end
    return nil
end

-- The text of the nearest described class above a Module subclass or its
-- instance, such as a model built on nn.Sequential.
local function superclass_text(x, name)
    if type(x) ~= "table" then
        return nil
    end
    local class = rawget(x, "super") and x or getmetatable(x)
    class = type(class) == "table" and rawget(class, "super")
    for _ = 1, 32 do
        if type(class) ~= "table" then
            return nil
        end
        local text = help.text(rawget(class, "__name"))
        if text then
            return string.format("%s is a subclass of nn.%s.\n%s", name, class.__name, text)
        end
        class = rawget(class, "super")
    end
    return nil
end

--- Prints the description of x (a lunet function, method, layer, model or
-- name), or an overview when x is absent.
function help.help(...)
    if select("#", ...) == 0 then
        print(overview())
        return
    end
    local x = ...
    local name = name_of(x)
    if name == "lunet" then
        print(overview())
        return
    end
    local text = name and help.text(name)
    if not text then
        text = superclass_text(x, name)
    end
    if not text then
        local label = type(x) == "string" and x or tostring(x)
        local library = standard_name(x)
        if library then
            label = library .. " (part of Lua's standard library: see the Lua 5.4 manual)"
        end
        print("help: no description for " .. label)
        return
    end
    print(text)
end

return help
