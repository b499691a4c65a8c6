--- Bad-input cases of the file and data functions: lunet.save and
-- lunet.load, lunet.data and lunet.image. Files go to a fresh folder under
-- /tmp. See spec/helpers/bad_input.lua for the case format;
-- spec/bad_input_io_spec.lua runs them.
local lunet = require "lunet"
local A = require "spec.helpers.bad_input"

local data, image = lunet.data, lunet.image

local folder = os.tmpname()
os.remove(folder)
assert(os.execute("mkdir -p '" .. folder .. "'"))

local function path_of(name)
    return folder .. "/" .. name
end

local function write_bytes(path, bytes)
    local file = assert(io.open(path, "wb"))
    file:write(bytes)
    file:close()
end

-- An IDX file of unsigned bytes with the given dims (big-endian 32-bit
-- sizes after the magic number 0x08 and the rank), filled with 1..n mod 10
-- so that label files hold valid classes.
local function write_idx(path, dims)
    local count = 1
    local parts = { string.pack(">I2BB", 0, 0x08, #dims) }
    for _, size in ipairs(dims) do
        parts[#parts + 1] = string.pack(">I4", size)
        count = count * size
    end
    local values = {}
    for i = 1, count do
        values[i] = string.char(i % 10)
    end
    parts[#parts + 1] = table.concat(values)
    write_bytes(path, table.concat(parts))
end

-- A small Fashion-MNIST folder of 2 test images; zlib reads the files
-- without compression despite their .gz names.
local fashion = path_of("fashion")
assert(os.execute("mkdir -p '" .. fashion .. "'"))
write_idx(fashion .. "/t10k-images-idx3-ubyte.gz", { 2, 28, 28 })
write_idx(fashion .. "/t10k-labels-idx1-ubyte.gz", { 2 })

local idx_path = path_of("small.idx")
write_idx(idx_path, { 2, 3 })

local saved_path = path_of("saved.safetensors")
lunet.save(saved_path, { w = lunet.ones(2, 3) })

local png_path = "spec/data/rgb.png"

local log_path = path_of("log.csv")
write_bytes(log_path, "epoch,step,train_loss,test_accuracy\n1,10,0.5,0.8\n2,20,0.4,0.85\n")

local cases = {}

local function add(case)
    cases[#cases + 1] = case
end

local function paths_wrong(extra)
    local wrong = {
        { "nil", nil, { "nil", "no value" } },
        { "a number", 5, { "number" } },
        { "a table", {}, { "table" } },
        { "a path with a NUL byte", "/tmp/a\0b", { "NUL" } },
    }
    for _, entry in ipairs(extra) do
        wrong[#wrong + 1] = entry
    end
    return wrong
end

add({
    name = "save", path = "lunet.save", fn = lunet.save,
    args = {
        A.custom(path_of("out.safetensors"), paths_wrong({
            { "a missing folder", "/nonexistent/lunet/out.safetensors", { "/nonexistent/lunet" } },
            { "a folder", folder, { folder } },
        })),
        A.custom(function() return { w = lunet.rand(2, 3) } end, {
            { "nil", nil, { "nil", "no value" } },
            { "a string", "text", { "string" } },
            { "a tensor", function() return lunet.ones(2) end, { "userdata" } },
            { "a number key", function() return { lunet.ones(2) } end, { "number" } },
            { "a string value", { w = "text" }, { "'w'", "string" } },
            { "a closed tensor", function() return { w = A.closed_tensor() } end,
                { "'w'", "closed" } },
            { "a name with a NUL byte", function() return { ["a\0b"] = lunet.ones(1) } end,
                { "NUL" } },
        }),
        A.custom(nil, {
            { "a string", "text", { "string" } },
            { "a number value", { version = 2 }, { "'version'", "number" } },
            { "a number key", { "v" }, { "number" } },
        }),
    },
})
add({
    name = "load", path = "lunet.load", fn = lunet.load,
    args = { A.custom(saved_path, paths_wrong({
        { "a missing file", "/nonexistent/lunet/x.safetensors", { "/nonexistent/lunet" } },
        { "a folder", folder, { folder } },
        { "a PNG file", png_path, { png_path } },
    })) },
})
add({
    name = "read_idx", path = "data.read_idx", fn = data.read_idx,
    args = { A.custom(idx_path, paths_wrong({
        { "a missing file", "/nonexistent/lunet/x.idx", { "/nonexistent/lunet" } },
        { "a folder", folder, { folder } },
        { "a safetensors file", saved_path, { saved_path } },
    })) },
})
add({
    name = "fashion_mnist", path = "data.fashion_mnist", fn = data.fashion_mnist,
    args = {
        A.custom("test", {
            { "nil", nil, { "nil" } },
            { "a number", 5, { "number" } },
            { "an unknown split", "validation", { "validation" } },
        }),
        A.custom(fashion, {
            { "a number", 5, { "number" } },
            { "a folder without the files", folder, { folder } },
            { "a folder with a NUL byte", fashion .. "\0x", { "NUL" } },
        }),
    },
})
add({
    name = "batches", path = "data.batches",
    fn = function(...)
        local next_batch = data.batches(...)
        return next_batch()
    end,
    args = {
        A.tensor(5, 2),
        A.custom(function() return lunet.rand(5) end, {
            { "a string", "text", { "string" } },
            { "a table", {}, { "table" } },
            { "4 targets", function() return lunet.rand(4) end, { "4" } },
            { "a 0-d target", function() return lunet.tensor(1) end, { "shape" } },
        }),
        A.integer(2, { { 0 }, { -1 } }),
        A.options({
            { "an unknown option", { order = 1 }, { "order" } },
            { "a string shuffle", { shuffle = "yes" }, { "shuffle", "yes" } },
            { "a fractional seed", { seed = 1.5 }, { "seed", "1.5" } },
            { "a numeric drop_last", { drop_last = 1 }, { "drop_last", "1" } },
        }),
    },
    bad = { { "a 0-d input", function() return lunet.tensor(1), nil, 1 end, { "0-d" } } },
})

-- A size argument of resize and center_crop: n or {h, w}, each >= 1.
local function image_size()
    return A.custom(2, {
        { "nil", nil, { "nil", "no value" } },
        { "size 0", 0, { "0" } },
        { "size -1", -1, { "-1" } },
        { "size 1.5", 1.5, { "1.5" } },
        { "a string", "text", { "string" } },
        { "an empty table", {}, { "0 entries" } },
        { "a table of 3", { 1, 2, 3 }, { "3 entries" } },
        { "a pair with 0", { 0, 2 }, { "0" } },
        { "a huge size", 1 << 40, { "1099511627776" } },
    })
end

add({
    name = "image.load", path = "image.load", fn = image.load,
    args = { A.custom(png_path, paths_wrong({
        { "a missing file", "/nonexistent/lunet/x.png", { "/nonexistent/lunet" } },
        { "a folder", folder, { folder } },
        { "a safetensors file", saved_path, { saved_path } },
    })) },
})
for _, name in ipairs({ "resize", "center_crop" }) do
    add({
        name = "image." .. name, path = "image." .. name, fn = image[name],
        args = { A.tensor(3, 4, 5), image_size() },
        bad = {
            { "a 1-d image", function() return lunet.rand(4), 2 end, { "4" } },
            { "sizes overflowing 64 bits", function()
                return lunet.rand(1, 1, 1), { (1 << 31) - 1, (1 << 31) - 1 }
            end, { "2147483647" } },
        },
    })
end
add({
    name = "image.normalize", path = "image.normalize", fn = image.normalize,
    args = {
        A.tensor(3, 4, 5),
        A.custom(function() return { 0.5, 0.4, 0.3 } end, {
            { "nil", nil, { "nil", "no value" } },
            { "a string", "text", { "string" } },
            { "two values", { 1, 2 }, { "2 entries" } },
            { "a string value", { 1, "a", 3 }, { "mean[2]", "string" } },
        }),
        A.custom(0.5, {
            { "nil", nil, { "nil", "no value" } },
            { "std 0", 0, { "std[1]", "0" } },
            { "a zero in a table", { 1, 0, 1 }, { "std[2]" } },
            { "a string", "text", { "string" } },
        }),
    },
    bad = { { "a 2-d image", function() return lunet.rand(4, 5), 0.5, 0.5 end, { "4x5" } } },
})

-- A PNG path gnuplot cannot write is not an error: training_curves warns
-- and returns nil and the message (spec/bad_input_spec.lua checks it).
add({
    name = "plot", path = "plot.training_curves",
    fn = require("lunet.plot").training_curves,
    args = {
        A.custom(log_path, paths_wrong({
            { "a missing file", "/nonexistent/lunet/log.csv", { "/nonexistent/lunet" } },
            { "a PNG file", png_path, { png_path } },
            { "a file without rows", function()
                local path = path_of("empty.csv")
                write_bytes(path, "epoch,step,train_loss,test_accuracy\n")
                return path
            end, { "no data rows" } },
            { "a text field", function()
                local path = path_of("text.csv")
                write_bytes(path, "epoch,step,train_loss,test_accuracy\n1,10,high,0.8\n")
                return path
            end, { "train_loss", "high" } },
        })),
        A.custom(path_of("curves.png"), {
            { "nil", nil, { "nil" } },
            { "a number", 5, { "number" } },
            { "an empty path", "", { "empty" } },
            { "a path with a NUL byte", "/tmp/a\0b.png", { "NUL" } },
        }),
    },
})

return {
    cases = cases,
    folder = folder,
    -- Paths that spec/bad_input_spec.lua checks by hand.
    by_hand = {},
}
