local lunet = require "lunet"
local data = lunet.data

local errors = require "spec.helpers.errors"
local shell = require "spec.helpers.shell"

local assert_error = errors.assert_error
local read_bytes = shell.read_file

local folder = shell.temp_dir()

local function path_of(name)
    return folder .. "/" .. name
end

local function write_bytes(path, bytes)
    shell.write_file(path, bytes)
    return path
end

-- Compresses a file with gzip and returns the path of the .gz file.
local function gzip(path)
    assert(os.execute("gzip -c -n '" .. path .. "' > '" .. path .. ".gz'"))
    return path .. ".gz"
end

-- The bytes of an IDX file of unsigned bytes with the given dims and values.
local function idx_bytes(dims, values)
    local parts = { string.char(0, 0, 8, #dims) }
    for _, size in ipairs(dims) do
        parts[#parts + 1] = string.pack(">I4", size)
    end
    for _, v in ipairs(values or {}) do
        parts[#parts + 1] = string.char(v)
    end
    return table.concat(parts)
end

local function range(first, last)
    local values = {}
    for v = first, last do
        values[#values + 1] = v
    end
    return values
end

-- n pixel values cycling through 0..255.
local function pixels_of(n)
    local values = {}
    for i = 1, n do
        values[i] = i % 256
    end
    return values
end

teardown(function()
    shell.remove_tree(folder)
end)

describe("read_idx", function()
    local values = range(0, 23)
    values[24] = 255

    it("reads an uncompressed file", function()
        local path = write_bytes(path_of("plain.idx"), idx_bytes({ 2, 3, 4 }, values))
        local t = data.read_idx(path)
        assert.are.same({ 2, 3, 4 }, t:size())
        assert.are.same(values, t:flat())
    end)

    it("reads a gzip-compressed file", function()
        local path = gzip(write_bytes(path_of("packed.idx"), idx_bytes({ 2, 3, 4 }, values)))
        local t = data.read_idx(path)
        assert.are.same({ 2, 3, 4 }, t:size())
        assert.are.same(values, t:flat())
    end)

    it("reads a label file", function()
        local path = gzip(write_bytes(path_of("labels.idx"), idx_bytes({ 5 }, { 9, 0, 3, 3, 1 })))
        assert.are.same({ 9, 0, 3, 3, 1 }, data.read_idx(path):totable())
    end)

    it("reads a file with no elements", function()
        local path = write_bytes(path_of("empty.idx"), idx_bytes({ 0, 28, 28 }))
        assert.are.same({ 0, 28, 28 }, data.read_idx(path):size())
    end)

    it("reads a large file", function()
        local bytes = {}
        for i = 1, 3000 * 100 do
            bytes[i] = i % 251
        end
        local raw = idx_bytes({ 3000, 100 })
            .. string.char(table.unpack(bytes, 1, 100000))
            .. string.char(table.unpack(bytes, 100001, 200000))
            .. string.char(table.unpack(bytes, 200001, 300000))
        local path = gzip(write_bytes(path_of("large.idx"), raw))
        local t = data.read_idx(path)
        assert.are.same({ 3000, 100 }, t:size())
        assert.are.equal(1, t[1][1])
        assert.are.equal(300000 % 251, t[3000][100])
    end)

    local ERRORS = {
        { "an empty file", "", "the file ends after 0 bytes, inside the 4-byte magic number" },
        { "a truncated magic", "\0\0\8", "the file ends after 3 bytes, inside the 4-byte magic" },
        { "a zip file", "PK\3\4" .. string.rep("\0", 20),
            "bad magic number 0x504B0304: an IDX file starts with two zero bytes" },
        { "a float file", string.char(0, 0, 0x0D, 1) .. string.pack(">I4", 1) .. "abcd",
            "data type 0x0D is not supported (expected 0x08, unsigned bytes)" },
        { "zero dims", string.char(0, 0, 8, 0), "magic number 0x00000800 gives 0 dims "
            .. "(expected 1 to 8)" },
        { "nine dims", string.char(0, 0, 8, 9) .. string.rep(string.pack(">I4", 1), 9) .. "x",
            "magic number 0x00000809 gives 9 dims (expected 1 to 8)" },
        { "truncated dims", string.char(0, 0, 8, 3) .. string.pack(">I4", 2) .. "\0\0",
            "the file ends inside the dims (after 10 of 16 header bytes)" },
        { "dims too large", idx_bytes({ 4294967295, 4294967295, 4294967295 }),
            "dims 4294967295x4294967295x4294967295 are too large (the element count overflows "
                .. "64-bit sizes)" },
        { "a zero dim beside huge dims", idx_bytes({ 0, 4294967295, 4294967295, 4294967295 }),
            "dims 0x4294967295x4294967295x4294967295 are too large" },
        { "truncated data", idx_bytes({ 2, 3, 4 }, range(1, 5)),
            "the file ends after 5 of 24 data bytes (dims 2x3x4)" },
        { "a huge claim", idx_bytes({ 60000, 28, 28 }, range(1, 10)),
            "the file ends after 10 of 47040000 data bytes (dims 60000x28x28)" },
        { "extra data", idx_bytes({ 2 }, { 1, 2, 3 }),
            "unexpected data after the 2 data bytes of dims 2" },
    }

    for i, case in ipairs(ERRORS) do
        local description, bytes, fault = case[1], case[2], case[3]
        it("rejects " .. description, function()
            local path = write_bytes(path_of("bad" .. i .. ".idx"), bytes)
            assert_error("read_idx: " .. path .. ": " .. fault, data.read_idx, path)
            local packed = gzip(path)
            assert_error("read_idx: " .. packed .. ": " .. fault, data.read_idx, packed)
        end)
    end

    it("rejects truncated gzip data", function()
        local bytes = {}
        for i = 1, 20000 do
            bytes[i] = (i * 7919) % 256
        end
        local path = gzip(write_bytes(path_of("cut.idx"),
            idx_bytes({ 200, 100 }) .. string.char(table.unpack(bytes))))
        local packed = read_bytes(path)
        for _, keep in ipairs({ #packed - 4, #packed // 2, 40, 12 }) do
            local cut = write_bytes(path_of("cut" .. keep .. ".idx.gz"), packed:sub(1, keep))
            local err = assert_error("read_idx: " .. cut .. ": ", data.read_idx, cut)
            assert.is_truthy(err:find("the gzip data is truncated (unexpected end of file)", 1,
                true) or err:find("the file ends", 1, true), err)
        end
    end)

    it("rejects corrupt gzip data", function()
        local path = gzip(write_bytes(path_of("flip.idx"), idx_bytes({ 100 }, range(0, 99))))
        local packed = read_bytes(path)
        -- The deflate stream starts after the 10-byte gzip header.
        local broken = packed:sub(1, 10) .. string.rep("\255", 8) .. packed:sub(19)
        local corrupt = write_bytes(path_of("flip_stream.idx.gz"), broken)
        assert_error("read_idx: " .. corrupt .. ": corrupt gzip data (", data.read_idx, corrupt)
    end)

    it("rejects a wrong gzip checksum", function()
        local path = gzip(write_bytes(path_of("crc.idx"), idx_bytes({ 4 }, { 1, 2, 3, 4 })))
        local packed = read_bytes(path)
        local crc = string.unpack("<I4", packed, #packed - 7)
        local broken = packed:sub(1, #packed - 8) .. string.pack("<I4", crc ~ 1)
            .. packed:sub(#packed - 3)
        local corrupt = write_bytes(path_of("crc_bad.idx.gz"), broken)
        assert_error("read_idx: " .. corrupt .. ": corrupt gzip data (incorrect data check)",
            data.read_idx, corrupt)
    end)

    it("reports a missing file", function()
        local path = path_of("missing.idx.gz")
        assert_error("read_idx: " .. path .. ": cannot open (No such file or directory)",
            data.read_idx, path)
    end)

    it("reports a folder", function()
        assert_error("read_idx: " .. folder .. ": not a regular file", data.read_idx, folder)
    end)

    it("checks its argument", function()
        assert_error("read_idx: bad argument #1 (path string expected, got nil)", data.read_idx,
            nil)
        assert_error("read_idx: bad argument #1 (path string expected, got number)",
            data.read_idx, 3)
    end)
end)

describe("fashion_mnist", function()
    local real = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    local has_real = io.open(real, "rb")
    if has_real then
        has_real:close()
    end

    it("loads the Debian test split", function()
        if not has_real then
            return
        end
        local images, labels = data.fashion_mnist("test")
        assert.are.same({ 10000, 1, 28, 28 }, images:size())
        assert.are.same({ 10000 }, labels:size())
        assert.are.equal(0, images:min())
        assert.are.equal(1, images:max())
        -- The test split has 1000 images of each class.
        local counts = {}
        for _, label in ipairs(labels:flat()) do
            assert.is_true(label >= 1 and label <= 10 and label == math.floor(label))
            counts[label] = (counts[label] or 0) + 1
        end
        for class = 1, 10 do
            assert.are.equal(1000, counts[class])
        end
        assert.are.equal("Ankle boot", data.fashion_mnist_classes[labels[1]])
    end)

    it("reads a folder of IDX files", function()
        local dir = path_of("fashion")
        assert(os.execute("mkdir -p '" .. dir .. "'"))
        local pixels = {}
        for i = 1, 2 * 28 * 28 do
            pixels[i] = i % 256
        end
        pixels[1], pixels[2] = 0, 255
        gzip(write_bytes(dir .. "/train-images-idx3-ubyte", idx_bytes({ 2, 28, 28 }, pixels)))
        gzip(write_bytes(dir .. "/train-labels-idx1-ubyte", idx_bytes({ 2 }, { 0, 9 })))
        local images, labels = data.fashion_mnist("train", dir)
        assert.are.same({ 2, 1, 28, 28 }, images:size())
        assert.are.equal(0, images[1][1][1][1])
        assert.are.equal(1, images[1][1][1][2])
        assert.is_true(math.abs(images[1][1][1][3] - 3 / 255) < 1e-7)
        assert.are.same({ 1, 10 }, labels:totable())
    end)

    it("rejects labels past 9", function()
        local dir = path_of("bad_labels")
        assert(os.execute("mkdir -p '" .. dir .. "'"))
        gzip(write_bytes(dir .. "/t10k-images-idx3-ubyte", idx_bytes({ 1, 28, 28 },
            pixels_of(784))))
        gzip(write_bytes(dir .. "/t10k-labels-idx1-ubyte", idx_bytes({ 1 }, { 10 })))
        assert_error("fashion_mnist: " .. dir .. "/t10k-labels-idx1-ubyte.gz holds label 10 "
            .. "at position 1, outside 0..9", data.fashion_mnist, "test", dir)
    end)

    it("rejects mismatched counts", function()
        local dir = path_of("mismatch")
        assert(os.execute("mkdir -p '" .. dir .. "'"))
        gzip(write_bytes(dir .. "/t10k-images-idx3-ubyte", idx_bytes({ 1, 28, 28 },
            pixels_of(784))))
        gzip(write_bytes(dir .. "/t10k-labels-idx1-ubyte", idx_bytes({ 2 }, { 1, 2 })))
        assert_error("holds labels of shape 2 for 1 images", data.fashion_mnist, "test", dir)
    end)

    it("rejects images of the wrong size", function()
        local dir = path_of("small_images")
        assert(os.execute("mkdir -p '" .. dir .. "'"))
        gzip(write_bytes(dir .. "/t10k-images-idx3-ubyte", idx_bytes({ 1, 2, 2 }, range(1, 4))))
        gzip(write_bytes(dir .. "/t10k-labels-idx1-ubyte", idx_bytes({ 1 }, { 1 })))
        assert_error("holds images of shape 1x2x2, expected N x 28 x 28", data.fashion_mnist,
            "test", dir)
    end)

    it("checks its arguments", function()
        assert_error('fashion_mnist: split must be "train" or "test", got "valid"',
            data.fashion_mnist, "valid")
        assert_error('fashion_mnist: split must be "train" or "test", got nil',
            data.fashion_mnist)
        assert_error("fashion_mnist: dir must be a folder path string, got number",
            data.fashion_mnist, "test", 5)
        assert_error("fashion_mnist: " .. folder .. "/nowhere/t10k-images-idx3-ubyte.gz not "
            .. "found; install Debian's dataset-fashion-mnist package", data.fashion_mnist, "test",
            folder .. "/nowhere")
    end)
end)

describe("index_select", function()
    local x = lunet.arange(12):view(3, 4)

    it("selects rows and columns", function()
        assert.are.same({ { 8, 9, 10, 11 }, { 0, 1, 2, 3 } }, lunet.index_select(x, 1, { 3, 1 })
            :totable())
        assert.are.same({ { 3, 3, 0 }, { 7, 7, 4 }, { 11, 11, 8 } },
            x:index_select(2, { 4, 4, 1 }):totable())
        assert.are.same({ { 3 }, { 7 }, { 11 } }, x:index_select(-1, { 4 }):totable())
    end)

    it("accepts a tensor of indices", function()
        assert.are.same({ { 4, 5, 6, 7 } }, x:index_select(1, lunet.tensor({ 2 })):totable())
    end)

    it("reads strided tensors", function()
        local t = x:t()
        assert.are.same({ { 1, 5, 9 }, { 3, 7, 11 } }, t:index_select(1, { 2, 4 }):totable())
        assert.are.same({ { 8, 0 }, { 9, 1 }, { 10, 2 }, { 11, 3 } },
            t:index_select(2, { 3, 1 }):totable())
    end)

    it("selects from 4-d tensors", function()
        local images = lunet.arange(2 * 3 * 2 * 2):view(2, 3, 2, 2)
        local picked = images:index_select(2, { 3, 2 })
        assert.are.same({ 2, 2, 2, 2 }, picked:size())
        assert.are.same(images:select(2, 3):totable(), picked:select(2, 1):totable())
    end)

    it("returns an empty selection", function()
        assert.are.same({ 0, 4 }, x:index_select(1, {}):size())
    end)

    it("copies rather than views", function()
        local picked = x:index_select(1, { 1 })
        picked[1][1] = 100
        assert.are.equal(0, x[1][1])
    end)

    it("checks its arguments", function()
        assert_error("index_select: index 0 is out of range for dim 1 of size 3 (expected 1..3)",
            lunet.index_select, x, 1, { 0 })
        assert_error("index_select: index 5 is out of range for dim 2 of size 4 (expected 1..4)",
            lunet.index_select, x, 2, { 1, 5 })
        assert_error("index_select: dim 3 is out of range for a 2-d tensor", lunet.index_select,
            x, 3, { 1 })
        assert_error("index_select: indices[2] is 1.5, expected an integer", lunet.index_select,
            x, 1, { 1, 1.5 })
        assert_error("index_select: indices[1] is a string, expected an integer",
            lunet.index_select, x, 1, { "1" })
        assert_error("index_select: indices must be a 1-d tensor or a table, got a 2-d tensor",
            lunet.index_select, x, 1, lunet.ones(1, 1))
        assert_error("index_select: bad argument #3 (table or tensor of indices expected, got "
            .. "nil)", lunet.index_select, x, 1, nil)
        assert_error("index_select: bad argument #1 (tensor expected, got table)",
            lunet.index_select, {}, 1, { 1 })
        assert_error("index_select: a 0-d tensor has no dim to select from", lunet.index_select,
            lunet.tensor(1), 1, { 1 })
    end)
end)

describe("batches", function()
    local inputs = lunet.arange(10):view(10, 1)
    local targets = lunet.arange(10)

    -- Runs an iterator to the end and returns the input batches as tables.
    local function collect(iterator)
        local batches = {}
        for x, y in iterator do
            local values = {}
            for i, v in ipairs(x:flat()) do
                values[i] = v
                assert.are.equal(v, y[i])
            end
            batches[#batches + 1] = values
        end
        return batches
    end

    it("splits in order by default", function()
        assert.are.same({ { 0, 1, 2, 3 }, { 4, 5, 6, 7 }, { 8, 9 } },
            collect(data.batches(inputs, targets, 4)))
    end)

    it("drops a short last batch", function()
        assert.are.same({ { 0, 1, 2, 3 }, { 4, 5, 6, 7 } },
            collect(data.batches(inputs, targets, 4, { drop_last = true })))
    end)

    it("keeps a full last batch", function()
        assert.are.equal(2, #collect(data.batches(inputs, targets, 5, { drop_last = true })))
    end)

    it("shuffles the same way for a seed", function()
        local first = collect(data.batches(inputs, targets, 3, { shuffle = true, seed = 7 }))
        local second = collect(data.batches(inputs, targets, 3, { shuffle = true, seed = 7 }))
        assert.are.same(first, second)
        local other = collect(data.batches(inputs, targets, 3, { shuffle = true, seed = 8 }))
        assert.are_not.same(first, other)
    end)

    it("visits every sample once", function()
        local seen = {}
        for _, batch in ipairs(collect(data.batches(inputs, targets, 3, { shuffle = true,
            seed = 1 }))) do
            for _, v in ipairs(batch) do
                assert.is_nil(seen[v])
                seen[v] = true
            end
        end
        for v = 0, 9 do
            assert.is_true(seen[v])
        end
    end)

    it("follows manual_seed without a seed", function()
        lunet.manual_seed(3)
        local first = collect(data.batches(inputs, targets, 10, { shuffle = true }))
        lunet.manual_seed(3)
        local second = collect(data.batches(inputs, targets, 10, { shuffle = true }))
        assert.are.same(first, second)
    end)

    it("works without targets", function()
        local count = 0
        for x, y in data.batches(inputs, nil, 4) do
            count = count + 1
            assert.is_nil(y)
            assert.are.equal(1, x:size(2))
        end
        assert.are.equal(3, count)
    end)

    it("handles an empty data set", function()
        assert.are.same({}, collect(data.batches(lunet.zeros(0, 3), lunet.zeros(0), 4)))
    end)

    it("checks its arguments", function()
        assert_error("batches: bad argument #1 (tensor expected, got table)", data.batches, {},
            nil, 1)
        assert_error("batches: bad argument #2 (tensor or nil expected, got string)",
            data.batches, inputs, "y", 1)
        assert_error("batches: batch_size must be a positive integer, got 0", data.batches,
            inputs, targets, 0)
        assert_error("batches: batch_size must be a positive integer, got 2.5", data.batches,
            inputs, targets, 2.5)
        assert_error("batches: inputs have 10 samples (shape 10x1) but targets have shape 9",
            data.batches, inputs, lunet.zeros(9), 2)
        assert_error("batches: unknown option 'shufle' (expected shuffle, seed or drop_last)",
            data.batches, inputs, targets, 2, { shufle = true })
        assert_error("batches: option seed must be an integer, got 1.5", data.batches, inputs,
            targets, 2, { seed = 1.5 })
        assert_error("batches: option shuffle must be a boolean, got yes", data.batches, inputs,
            targets, 2, { shuffle = "yes" })
        assert_error("batches: options must be a table, got number", data.batches, inputs,
            targets, 2, 5)
        assert_error("batches: inputs must have at least 1 dim, got a 0-d tensor", data.batches,
            lunet.tensor(1), nil, 1)
    end)
end)
