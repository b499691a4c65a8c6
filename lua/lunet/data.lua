--- Data sets and mini-batches: `lunet.data`.
--
--     local data = require("lunet").data
--     local images, labels = data.fashion_mnist("train")   -- 60000x1x28x28, 60000
--     for x, y in data.batches(images, labels, 64, { shuffle = true, seed = epoch }) do
--         ...
--     end
local core = require "lunet.core"

local data = {}

local DEFAULT_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

--- The Fashion-MNIST class names; label k (1-based) is `fashion_mnist_classes[k]`.
data.fashion_mnist_classes = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

--- Reads an IDX file of unsigned bytes (gzip-compressed or not) into a float
-- tensor of the raw values 0..255, with the dims stored in the file:
-- `data.read_idx(path)`.
data.read_idx = core._read_idx

local function file_exists(path)
    local f = io.open(path, "rb")
    if f then
        f:close()
        return true
    end
    return false
end

local FASHION_MNIST_FILES = {
    train = { "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz" },
    test = { "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" },
}

--- Loads a Fashion-MNIST split ("train" or "test") from dir (default: the
-- folder of Debian's dataset-fashion-mnist package). Returns images as an
-- N x 1 x 28 x 28 tensor scaled to [0, 1] and labels as an N tensor of
-- 1-based class numbers 1..10.
function data.fashion_mnist(split, dir)
    local files = FASHION_MNIST_FILES[split]
    if not files then
        error(string.format('fashion_mnist: split must be "train" or "test", got %s',
            type(split) == "string" and string.format("%q", split) or type(split)), 2)
    end
    if dir ~= nil and type(dir) ~= "string" then
        error("fashion_mnist: dir must be a folder path string, got " .. type(dir), 2)
    end
    if dir ~= nil and dir:find("\0", 1, true) then
        error("fashion_mnist: the folder path contains a NUL byte", 2)
    end
    dir = dir or DEFAULT_FASHION_MNIST_DIR

    local images_path, labels_path = dir .. "/" .. files[1], dir .. "/" .. files[2]
    for _, path in ipairs({ images_path, labels_path }) do
        if not file_exists(path) then
            error("fashion_mnist: " .. path .. " not found; install Debian's "
                .. "dataset-fashion-mnist package or pass the folder that holds the IDX files", 2)
        end
    end

    local images = core._read_idx(images_path, 1 / 255)
    local labels = core._read_idx(labels_path, 1, 1)
    local n = labels:dim() == 1 and labels:size(1) or -1
    local image_shape = table.concat(images:size(), "x")
    if images:dim() ~= 3 or images:size(2) ~= 28 or images:size(3) ~= 28 then
        error("fashion_mnist: " .. images_path .. " holds images of shape " .. image_shape
            .. ", expected N x 28 x 28", 2)
    end
    if n ~= images:size(1) then
        error(string.format("fashion_mnist: %s holds labels of shape %s for %d images",
            labels_path, table.concat(labels:size(), "x"), images:size(1)), 2)
    end
    for i, label in ipairs(labels:flat()) do
        if label > 10 then
            error(string.format("fashion_mnist: %s holds label %d at position %d, outside 0..9",
                labels_path, label - 1, i), 2)
        end
    end
    return images:view(n, 1, 28, 28), labels
end

-- A splitmix64 stream: deterministic on every platform, independent of
-- math.random's global state. Returns a function giving integers in 1..n.
local function integer_stream(seed)
    local state = seed
    return function(n)
        state = state + 0x9E3779B97F4A7C15
        local z = state
        z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
        z = (z ~ (z >> 27)) * 0x94D049BB133111EB
        z = z ~ (z >> 31)
        -- 53 random bits; the modulo bias is below n / 2^53.
        return (z >> 11) % n + 1
    end
end

-- A random permutation of 1..n (Fisher-Yates).
local function permutation(n, seed)
    local next_integer = integer_stream(seed)
    local order = {}
    for i = 1, n do
        order[i] = i
    end
    for i = n, 2, -1 do
        local j = next_integer(i)
        order[i], order[j] = order[j], order[i]
    end
    return order
end

-- A seed drawn from lunet's generator, so that lunet.manual_seed fixes the
-- order of unseeded shuffles too.
local function draw_seed()
    local r = core.rand(2)
    return math.floor(r[1] * 2 ^ 24) << 24 | math.floor(r[2] * 2 ^ 24)
end

local BATCH_OPTIONS = { shuffle = "boolean", seed = "integer", drop_last = "boolean" }

local function check_batch_options(options)
    if options == nil then
        return {}
    end
    if type(options) ~= "table" then
        error("batches: options must be a table, got " .. type(options), 3)
    end
    for key, value in pairs(options) do
        local expected = BATCH_OPTIONS[key]
        if not expected then
            error("batches: unknown option '" .. tostring(key)
                .. "' (expected shuffle, seed or drop_last)", 3)
        end
        local ok = expected == "integer" and math.type(value) == "integer"
            or type(value) == expected
        if not ok then
            error(string.format("batches: option %s must be a%s %s, got %s", key,
                expected == "integer" and "n" or "", expected, tostring(value)), 3)
        end
    end
    return options
end

--- Iterates over mini-batches: `for x, y in data.batches(inputs, targets,
-- batch_size, options) do`. inputs and targets (targets may be nil) are
-- split along dim 1, which must have the same size in both. Options:
-- `shuffle` (default false) visits the samples in a random order, `seed`
-- makes that order the same on every run (without it the order comes from
-- lunet's generator, see lunet.manual_seed), and `drop_last` (default false)
-- skips a final batch smaller than batch_size. Unshuffled batches are views
-- of the inputs; shuffled ones are gathered copies.
function data.batches(inputs, targets, batch_size, options)
    if not core.is_tensor(inputs) then
        error("batches: bad argument #1 (tensor expected, got " .. type(inputs) .. ")", 2)
    end
    if targets ~= nil and not core.is_tensor(targets) then
        error("batches: bad argument #2 (tensor or nil expected, got " .. type(targets) .. ")",
            2)
    end
    for position, t in pairs({ inputs, targets }) do
        if not pcall(t.dim, t) then
            error("batches: bad argument #" .. position .. " (the tensor was closed and cannot "
                .. "be used)", 2)
        end
    end
    if math.type(batch_size) ~= "integer" or batch_size < 1 then
        error("batches: batch_size must be a positive integer, got " .. tostring(batch_size), 2)
    end
    options = check_batch_options(options)
    if inputs:dim() == 0 then
        error("batches: inputs must have at least 1 dim, got a 0-d tensor", 2)
    end
    local n = inputs:size(1)
    if targets and (targets:dim() == 0 or targets:size(1) ~= n) then
        error(string.format("batches: inputs have %d samples (shape %s) but targets have shape %s",
            n, table.concat(inputs:size(), "x"), table.concat(targets:size(), "x")), 2)
    end

    local order
    if options.shuffle then
        order = permutation(n, options.seed or draw_seed())
    end
    local position = 0
    return function()
        local count = math.min(batch_size, n - position)
        if count <= 0 or (options.drop_last and count < batch_size) then
            return nil
        end
        local first = position
        position = position + count
        if not order then
            return inputs:narrow(1, first + 1, count),
                targets and targets:narrow(1, first + 1, count)
        end
        local index = table.move(order, first + 1, first + count, 1, {})
        return core.index_select(inputs, 1, index),
            targets and core.index_select(targets, 1, index)
    end
end

return data
