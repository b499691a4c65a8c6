local lunet = require "lunet"
require "lunet.assertions"

local errors = require "spec.helpers.errors"
local shell = require "spec.helpers.shell"

local assert_error = errors.assert_error
local write_bytes, read_bytes = shell.write_file, shell.read_file

local folder = shell.temp_dir()

local function path_of(name)
    return folder .. "/" .. name
end

local function count_keys(t)
    local n = 0
    for _ in pairs(t) do
        n = n + 1
    end
    return n
end

-- A safetensors file from a JSON header text and raw data bytes.
local function safetensors_bytes(header, data)
    return string.pack("<I8", #header) .. header .. (data or "")
end

-- Little-endian bytes of a list of numbers in the given string.pack format.
local function pack_all(format, values)
    local parts = {}
    for i, v in ipairs(values) do
        parts[i] = string.pack(format, v)
    end
    return table.concat(parts)
end

local function is_negative_zero(x)
    return x == 0 and 1 / x < 0
end

-- Element-wise identity, telling -0 from 0 and NaN equal to NaN.
local function assert_same_values(expected, actual, what)
    assert.are.same(expected:size(), actual:size(), what)
    local e, a = expected:flat(), actual:flat()
    for i = 1, #e do
        local same = (e[i] ~= e[i] and a[i] ~= a[i])
            or (e[i] == a[i] and is_negative_zero(e[i]) == is_negative_zero(a[i]))
        assert.is_true(same, string.format("%s: element %d is %s, expected %s", what or "tensor",
            i, tostring(a[i]), tostring(e[i])))
    end
end

teardown(function()
    shell.remove_tree(folder)
end)

describe("save and load", function()
    it("round trips shapes and values", function()
        local tensors = {
            vector = lunet.arange(5),
            matrix = lunet.arange(12):view(3, 4),
            cube = lunet.randn(2, 3, 4),
            scalar = lunet.tensor(-2.5),
            empty = lunet.zeros(0, 4),
            empty_vector = lunet.zeros(0),
            eight_dims = lunet.randn(1, 2, 1, 2, 1, 2, 1, 2),
        }
        local path = path_of("shapes.safetensors")
        lunet.save(path, tensors)
        local loaded, metadata = lunet.load(path)
        assert.are.equal(count_keys(tensors), count_keys(loaded))
        for name, t in pairs(tensors) do
            assert_same_values(t, loaded[name], name)
        end
        assert.are.same({}, metadata)
    end)

    it("keeps a 0-d tensor 0-d", function()
        local path = path_of("scalar.safetensors")
        lunet.save(path, { s = lunet.tensor(7) })
        local s = lunet.load(path).s
        assert.are.equal(0, s:dim())
        assert.are.equal(7, s:item())
    end)

    it("writes non-contiguous tensors row-major", function()
        local base = lunet.arange(24):view(2, 3, 4)
        local tensors = {
            transposed = base:transpose(1, 3),
            narrowed = base:narrow(3, 2, 2),
            selected = base:select(2, 3),
            expanded = lunet.arange(3):view(3, 1):expand(3, 4),
        }
        local path = path_of("strided.safetensors")
        lunet.save(path, tensors)
        local loaded = lunet.load(path)
        for name, t in pairs(tensors) do
            assert.is_true(loaded[name]:is_contiguous())
            assert.are.same(t:totable(), loaded[name]:totable(), name)
        end
    end)

    it("round trips many tensors", function()
        local tensors = {}
        for i = 1, 300 do
            tensors["layer" .. i .. ".weight"] = lunet.full(i % 5 + 1, i)
        end
        local path = path_of("many.safetensors")
        lunet.save(path, tensors)
        local loaded = lunet.load(path)
        assert.are.equal(300, count_keys(loaded))
        for name, t in pairs(tensors) do
            assert.are.same(t:totable(), loaded[name]:totable(), name)
        end
    end)

    it("round trips metadata", function()
        local metadata = { epoch = "12", note = "line 1\nline 2 \"quoted\" \\ \t", empty = "",
            ["unicode é ✓"] = "値" }
        local path = path_of("metadata.safetensors")
        lunet.save(path, { w = lunet.ones(2) }, metadata)
        local loaded, loaded_metadata = lunet.load(path)
        assert.are.same(metadata, loaded_metadata)
        assert.are.same({ 1, 1 }, loaded.w:totable())
    end)

    it("round trips names needing escapes", function()
        local names = { 'quote"d', "back\\slash", "new\nline", "tab\t", "\1control", "é✓",
            "a.b/c d" }
        local tensors = {}
        for i, name in ipairs(names) do
            tensors[name] = lunet.full(1, i)
        end
        local path = path_of("names.safetensors")
        lunet.save(path, tensors)
        local loaded = lunet.load(path)
        for i, name in ipairs(names) do
            assert.are.equal(i, loaded[name][1], name)
        end
    end)

    it("saves an empty table", function()
        local path = path_of("nothing.safetensors")
        lunet.save(path, {})
        local loaded, metadata = lunet.load(path)
        assert.are.same({}, loaded)
        assert.are.same({}, metadata)
    end)

    it("writes sorted names and aligned data", function()
        local path = path_of("layout.safetensors")
        lunet.save(path, { b = lunet.ones(1), a = lunet.ones(2), c = lunet.ones(3) }, { k = "v" })
        local bytes = read_bytes(path)
        local length = string.unpack("<I8", bytes)
        local header = bytes:sub(9, 8 + length)
        assert.are.equal(0, (8 + length) % 8)
        local a, b, c = header:find('"a"', 1, true), header:find('"b"', 1, true),
            header:find('"c"', 1, true)
        assert.is_true(a < b and b < c)
        assert.is_truthy(header:find('^{"__metadata__":{"k":"v"}'))
        assert.are.equal(8 + length + 6 * 4, #bytes)
    end)

    it("writes the same bytes for the same content", function()
        local tensors = {}
        for i = 1, 20 do
            tensors["t" .. i] = lunet.full(3, i)
        end
        lunet.save(path_of("first.safetensors"), tensors, { a = "1", b = "2" })
        lunet.save(path_of("second.safetensors"), tensors, { b = "2", a = "1" })
        assert.are.equal(read_bytes(path_of("first.safetensors")),
            read_bytes(path_of("second.safetensors")))
    end)

    it("loads tensors that can be modified", function()
        local path = path_of("writable.safetensors")
        lunet.save(path, { w = lunet.zeros(3) })
        local w = lunet.load(path).w
        w[2] = 5
        assert.are.same({ 0, 5, 0 }, w:totable())
        assert.are.same({ 0, 0, 0 }, lunet.load(path).w:totable())
    end)

    it("reads the reference fixtures", function()
        local loaded, metadata = lunet.load("spec/fixtures/linear.safetensors")
        assert.is_true(count_keys(loaded) > 0)
        assert.is_true(count_keys(metadata) > 0)
        for _, t in pairs(loaded) do
            assert.is_true(lunet.is_tensor(t))
        end
    end)
end)

describe("load dtype conversion", function()
    local fixture = "spec/fixtures/dtypes.safetensors"

    it("matches torch for F16, BF16 and F64", function()
        local t = lunet.load(fixture)
        assert_same_values(t.f32, t.f64_as_f32, "f32")
        assert_same_values(t.f16_as_f32, t.f16, "f16")
        assert_same_values(t.bf16_as_f32, t.bf16, "bf16")
        assert_same_values(t.f64_as_f32, t.f64, "f64")
        assert.are.equal(-1.5, t.scalar:item())
        assert.are.same({ 0, 3 }, t.empty:size())
    end)

    -- Writes values (packed with format) as one 1-d tensor of dtype and loads it.
    local function load_packed(dtype, format, values)
        local bytes = pack_all(format, values)
        local header = string.format('{"x":{"dtype":"%s","shape":[%d],"data_offsets":[0,%d]}}',
            dtype, #values, #bytes)
        local path = path_of(dtype .. ".safetensors")
        write_bytes(path, safetensors_bytes(header, bytes))
        return lunet.load(path).x
    end

    it("converts F16 specials exactly", function()
        -- inf, -inf, NaN, smallest and largest subnormal, -smallest
        -- subnormal, -0, the largest finite value, smallest normal
        local bits = { 0x7C00, 0xFC00, 0x7E00, 0x0001, 0x03FF, 0x8001, 0x8000, 0x7BFF, 0x0400 }
        local expected = { math.huge, -math.huge, 0 / 0, 2 ^ -24, 1023 * 2 ^ -24, -2 ^ -24, -0.0,
            65504, 2 ^ -14 }
        assert_same_values(lunet.tensor(expected), load_packed("F16", "<I2", bits), "F16")
    end)

    it("converts BF16 specials exactly", function()
        local bits = { 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x8000, 0x3F80, 0xC0A0, 0x7F7F }
        local expected = { math.huge, -math.huge, 0 / 0, 2 ^ -133, -0.0, 1, -5,
            (2 - 2 ^ -7) * 2 ^ 127 }
        assert_same_values(lunet.tensor(expected), load_packed("BF16", "<I2", bits), "BF16")
    end)

    it("rounds F64 to nearest float32", function()
        local values = { 1e300, -1e300, 1e-50, -1e-50, 0 / 0, 0.1, 1 + 2 ^ -24, 1 + 3 * 2 ^ -24 }
        local float_of_0_1 = string.unpack("<f", string.pack("<f", 0.1))
        local expected = { math.huge, -math.huge, 0, -0.0, 0 / 0, float_of_0_1, 1, 1 + 2 ^ -22 }
        assert_same_values(lunet.tensor(expected), load_packed("F64", "<d", values), "F64")
    end)

    it("reads unaligned data offsets", function()
        local header = '{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},'
            .. '"b":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}}'
        local path = path_of("unaligned.safetensors")
        write_bytes(path, safetensors_bytes(header, string.pack("<I2ff", 0x3C00, 1.5, -3)))
        local t = lunet.load(path)
        assert.are.same({ 1 }, t.a:totable())
        assert.are.same({ 1.5, -3 }, t.b:totable())
    end)

    for _, dtype in ipairs({ "I64", "U8", "BOOL", "I32" }) do
        it("rejects dtype " .. dtype, function()
            local header = '{"x":{"dtype":"' .. dtype .. '","shape":[1],"data_offsets":[0,8]}}'
            local path = path_of("dtype_" .. dtype .. ".safetensors")
            write_bytes(path, safetensors_bytes(header, string.rep("\0", 8)))
            assert_error("load: " .. path .. ": tensor 'x' has dtype " .. dtype
                .. ", which lunet cannot represent (expected F32, F16, BF16 or F64)",
                lunet.load, path)
        end)
    end
end)

-- Each case: a description, the file's bytes and a fragment of the message,
-- which must start with "load: PATH: ".
local F32_W = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
local EIGHT = string.rep("\0", 8)
local function header_with(entry)
    return '{"w":' .. entry .. '}'
end

local MALICIOUS = {
    { "an empty file", "", "the file is 0 bytes, too short for the 8-byte header length" },
    { "a truncated length", "\5\0\0", "the file is 3 bytes, too short" },
    { "a header past the end", string.pack("<I8", 100) .. "{}",
        "header length 100 extends past the end of the file (2 bytes follow the length)" },
    { "a huge header length", string.pack("<I8", 1 << 40) .. "{}",
        "header length 1099511627776 is larger than the limit of 100000000 bytes" },
    { "a negative header length", string.pack("<i8", -1) .. "{}",
        "header length 18446744073709551615 is larger than the limit" },
    { "a zero header length", string.pack("<I8", 0) .. EIGHT,
        "invalid JSON header at byte 0: unexpected end of text, expected a value" },
    { "a wrong header length", string.pack("<I8", #F32_W - 1) .. F32_W .. EIGHT,
        "invalid JSON header at byte" },
    { "unclosed JSON", safetensors_bytes('{"w":', EIGHT), "invalid JSON header at byte 5" },
    { "trailing garbage", safetensors_bytes(F32_W .. " x", EIGHT),
        "unexpected data after the JSON value" },
    { "trailing NUL padding", safetensors_bytes(F32_W .. "\0\0", EIGHT),
        "unexpected data after the JSON value" },
    { "a trailing comma", safetensors_bytes('{"a":"b",}', ""), "expected a string as an object key" },
    { "a single-quoted key", safetensors_bytes("{'w':1}", ""), "expected a string as an object key" },
    { "a duplicate key", safetensors_bytes('{"w":{},"w":{}}', ""),
        "the object repeats the key 'w'" },
    { "an invalid escape", safetensors_bytes('{"\\q":{}}', ""), "invalid escape in a string" },
    { "invalid UTF-8", safetensors_bytes('{"\255":{}}', ""), "invalid UTF-8 in a string" },
    { "an overlong UTF-8 form", safetensors_bytes('{"\192\175":{}}', ""), "invalid UTF-8" },
    { "a lone surrogate", safetensors_bytes('{"\\ud800":{}}', ""),
        "a high surrogate \\u escape without a low surrogate after it" },
    { "a raw control character", safetensors_bytes('{"a\nb":{}}', ""),
        "a control character in a string must be escaped" },
    { "a leading zero", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[02],"data_offsets":[0,8]}'), EIGHT),
        "a number must not have a leading zero" },
    { "deep nesting", safetensors_bytes(string.rep("[", 1000) .. string.rep("]", 1000), ""),
        "arrays and objects nest deeper than 4 levels" },
    { "an array header", safetensors_bytes("[]", ""),
        "the header is an array, expected a JSON object" },
    { "a number as a tensor", safetensors_bytes('{"w":1}', ""),
        "tensor 'w' is a number, expected an object with dtype, shape and data_offsets" },
    { "a missing dtype", safetensors_bytes(header_with('{"shape":[2],"data_offsets":[0,8]}'),
        EIGHT), "tensor 'w' has no dtype" },
    { "a missing shape", safetensors_bytes(header_with('{"dtype":"F32","data_offsets":[0,8]}'),
        EIGHT), "tensor 'w' has no shape" },
    { "missing data_offsets", safetensors_bytes(header_with('{"dtype":"F32","shape":[2]}'),
        EIGHT), "tensor 'w' has no data_offsets" },
    { "an unknown field", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}'), EIGHT),
        "tensor 'w' has an unknown field 'extra'" },
    { "a numeric dtype", safetensors_bytes(header_with(
        '{"dtype":32,"shape":[2],"data_offsets":[0,8]}'), EIGHT),
        "tensor 'w' dtype is a number, expected a string" },
    { "an unknown dtype", safetensors_bytes(header_with(
        '{"dtype":"F33","shape":[2],"data_offsets":[0,8]}'), EIGHT),
        "tensor 'w' has unknown dtype 'F33' (expected F32, F16, BF16 or F64)" },
    { "a negative size", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[2,-1],"data_offsets":[0,8]}'), EIGHT),
        "tensor 'w' shape [2, -1]: size 2 is not a non-negative integer" },
    { "a fractional size", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}'), EIGHT),
        "tensor 'w' shape [?]: size 1 is not a non-negative integer" },
    { "a size beyond int64", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}'), EIGHT),
        "size 1 is not a non-negative integer" },
    { "a shape that is not an array", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":"2","data_offsets":[0,8]}'), EIGHT),
        "tensor 'w' shape is a string, expected an array of sizes" },
    { "nine dims", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,8]}'), EIGHT),
        "tensor 'w' shape has 9 dims, more than the 8 that lunet supports" },
    { "a very long shape", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[' .. string.rep("1,", 99) .. '1],"data_offsets":[0,4]}'), "\0\0\0\0"),
        "invalid JSON header at byte 157: an array has more than 64 elements" },
    { "an overflowing product", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}'), EIGHT),
        "tensor 'w' shape [4294967296, 4294967296] has too many elements" },
    { "a zero size beside huge sizes", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}'), ""),
        "tensor 'w' shape [0, 4294967296, 4294967296] has too many elements" },
    { "a product past the byte limit", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[2,576460752303423488],"data_offsets":[0,8]}'), EIGHT),
        "has too many elements (the product overflows 64-bit sizes)" },
    { "offsets past the end", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[10,10],"data_offsets":[0,400]}'), string.rep("\0", 240)),
        "tensor 'w' data_offsets [0, 400] extend past the end of the data section (240 bytes)" },
    { "reversed offsets", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[1],"data_offsets":[8,4]}'), EIGHT),
        "tensor 'w' data_offsets [8, 4] end before they begin" },
    { "negative offsets", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}'), EIGHT),
        "tensor 'w' data_offsets [-8, 0] must be non-negative integers" },
    { "three offsets", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}'), EIGHT),
        "tensor 'w' data_offsets must be an array [begin, end] of two byte offsets" },
    { "a huge end offset", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[2],"data_offsets":[0,9223372036854775807]}'), EIGHT),
        "extend past the end of the data section (8 bytes)" },
    { "a wrong byte count", safetensors_bytes(header_with(
        '{"dtype":"F32","shape":[2],"data_offsets":[0,12]}'), string.rep("\0", 12)),
        "tensor 'w' data_offsets [0, 12] cover 12 bytes, but shape 2 of F32 needs 8" },
    { "overlapping ranges", safetensors_bytes(
        '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
            .. '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', string.rep("\0", 12)),
        "tensors 'a' and 'b' overlap: data_offsets [0, 8] and [4, 12]" },
    { "one range inside another", safetensors_bytes(
        '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},'
            .. '"b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}', string.rep("\0", 16)),
        "tensors 'a' and 'b' overlap" },
    { "non-string metadata", safetensors_bytes('{"__metadata__":{"k":1}}', ""),
        "__metadata__ value of key 'k' is a number, expected a string" },
    { "metadata that is not an object", safetensors_bytes('{"__metadata__":"x"}', ""),
        "__metadata__ is a string, expected an object of strings" },
    { "a NUL byte in a name", safetensors_bytes(
        '{"a\\u0000b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', EIGHT),
        "tensor name 'a\\x00b' contains a NUL byte" },
    { "an empty name", safetensors_bytes(
        '{"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', EIGHT),
        "a tensor has an empty name" },
}

describe("load of malicious files", function()
    local good = path_of("good.safetensors")

    setup(function()
        lunet.save(good, { w = lunet.tensor({ 1, 2 }) })
    end)

    for i, case in ipairs(MALICIOUS) do
        local description, bytes, fault = case[1], case[2], case[3]
        it("rejects " .. description, function()
            local path = path_of("malicious" .. i .. ".safetensors")
            write_bytes(path, bytes)
            local err = assert_error("load: " .. path .. ": ", lunet.load, path)
            assert.is_truthy(err:find(fault, 1, true), "expected '" .. fault .. "' in '" .. err
                .. "'")
            -- The interpreter keeps working.
            assert.are.same({ 1, 2 }, lunet.load(good).w:totable())
        end)
    end

    it("accepts zero-length ranges anywhere", function()
        local path = path_of("zero_ranges.safetensors")
        write_bytes(path, safetensors_bytes(
            '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                .. '"b":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]}}', EIGHT))
        local t = lunet.load(path)
        assert.are.same({ 0, 5 }, t.b:size())
    end)

    it("accepts space padding and trailing data", function()
        local path = path_of("padded.safetensors")
        write_bytes(path, safetensors_bytes(F32_W .. "    ", EIGHT .. "trailing"))
        assert.are.same({ 0, 0 }, lunet.load(path).w:totable())
    end)

    it("reports a missing file", function()
        local path = path_of("missing.safetensors")
        assert_error("load: " .. path .. ": cannot open (No such file or directory)", lunet.load,
            path)
    end)

    it("reports a folder", function()
        assert_error("load: " .. folder .. ": not a regular file", lunet.load, folder)
    end)

    it("checks its argument", function()
        assert_error("load: bad argument #1 (path string expected, got nil)", lunet.load, nil)
        assert_error("load: bad argument #1 (path string expected, got table)", lunet.load, {})
        assert_error("load: the path contains a NUL byte", lunet.load, "a\0b")
    end)
end)

describe("save errors", function()
    local path = path_of("kept.safetensors")

    before_each(function()
        lunet.save(path, { old = lunet.tensor({ 4, 5, 6 }) }, { version = "old" })
    end)

    local function assert_old_file()
        local t, metadata = lunet.load(path)
        assert.are.same({ 4, 5, 6 }, t.old:totable())
        assert.are.same({ version = "old" }, metadata)
    end

    it("rejects a non-tensor value", function()
        assert_error("save: tensors['bias'] is a string, expected a tensor", lunet.save, path,
            { weight = lunet.ones(2), bias = "zeros" })
        assert_old_file()
    end)

    it("rejects a non-string name", function()
        assert_error("save: tensor names must be strings, got the number key 1", lunet.save,
            path, { lunet.ones(2) })
        assert_old_file()
    end)

    it("rejects a closed tensor", function()
        local t = lunet.ones(2)
        t:close()
        assert_error("save: tensors['t'] was closed and cannot be saved", lunet.save, path,
            { t = t })
        assert_old_file()
    end)

    it("rejects bad names", function()
        assert_error("save: tensor names must not be empty", lunet.save, path,
            { [""] = lunet.ones(1) })
        assert_error("save: tensor name '__metadata__' is reserved for metadata", lunet.save,
            path, { __metadata__ = lunet.ones(1) })
        assert_error("save: tensor name '\\xFFx' is not valid UTF-8 (invalid byte at offset 0)",
            lunet.save, path, { ["\255x"] = lunet.ones(1) })
        assert_error("save: tensor name 'a\\x00b' contains a NUL byte", lunet.save, path,
            { ["a\0b"] = lunet.ones(1) })
        assert_old_file()
    end)

    it("rejects bad metadata", function()
        assert_error("save: metadata['epoch'] is a number, expected a string", lunet.save, path,
            { w = lunet.ones(1) }, { epoch = 3 })
        assert_error("save: metadata keys must be strings, got the number key 1", lunet.save,
            path, { w = lunet.ones(1) }, { "x" })
        assert_error("save: metadata value '\\xC3' is not valid UTF-8", lunet.save, path,
            { w = lunet.ones(1) }, { k = "\195" })
        assert_old_file()
    end)

    it("checks its arguments", function()
        assert_error("save: bad argument #1 (path string expected, got number)", lunet.save, 1,
            {})
        assert_error("save: bad argument #2 (table of name -> tensor expected, got nil)",
            lunet.save, path, nil)
        assert_error("save: bad argument #3 (metadata table of strings expected, got string)",
            lunet.save, path, {}, "meta")
        assert_old_file()
    end)

    it("fails in a missing folder", function()
        local target = path_of("no/such/folder/x.safetensors")
        assert_error("save: " .. target .. ": cannot create a temporary file beside it (No such "
            .. "file or directory)", lunet.save, target, { w = lunet.ones(1) })
    end)

    it("fails when the target is a folder", function()
        local target = path_of("a_folder")
        assert(os.execute("mkdir -p '" .. target .. "'"))
        assert_error("save: " .. target .. ": cannot replace the file", lunet.save, target,
            { w = lunet.ones(1) })
        local leftovers = io.popen("ls '" .. folder .. "' | grep -c 'a_folder.tmp' || true")
        assert.are.equal("0", leftovers:read("l"))
        leftovers:close()
    end)

    it("fails in a read-only folder", function()
        local locked = path_of("locked")
        assert(os.execute("mkdir -p '" .. locked .. "'"))
        local target = locked .. "/x.safetensors"
        lunet.save(target, { old = lunet.ones(1) })
        -- root writes to any folder regardless of its mode bits, but not to
        -- an immutable one (chattr +i, where the file system supports it).
        local lock = "chmod 555 '" .. locked .. "'"
        local unlock = "chmod 755 '" .. locked .. "'"
        local id = io.popen("id -u")
        if id:read("l") == "0" then
            lock = "chattr +i '" .. locked .. "' 2>/dev/null"
            unlock = "chattr -i '" .. locked .. "' 2>/dev/null"
        end
        id:close()
        if not os.execute(lock) then
            return
        end
        local ok, err = pcall(lunet.save, target, { new = lunet.zeros(1) })
        os.execute(unlock)
        assert.is_false(ok)
        local message = tostring(err)
        assert.is_truthy(message:find("save: " .. target .. ": cannot create a temporary file "
            .. "beside it (", 1, true), message)
        assert.is_truthy(message:find("Permission denied", 1, true)
            or message:find("Operation not permitted", 1, true), message)
        assert.are.same({ 1 }, lunet.load(target).old:totable())
    end)

    -- Runs a Lua script in a child lunet through sh; returns the pipe.
    local function spawn(shell_prefix, script)
        local script_path = path_of("child.lua")
        write_bytes(script_path, script)
        -- The braces keep the shell's "Killed" notice out of the spec output.
        return io.popen(string.format("{ sh -c '%s exec %s %s'; } 2>/dev/null", shell_prefix,
            os.getenv("LUNET_EXE") or "./lunet", script_path))
    end

    it("keeps the old file when a write fails", function()
        -- A 1 KB file size limit makes write() fail with EFBIG once SIGXFSZ
        -- is ignored; ignored signals stay ignored across exec.
        local child = spawn("trap \"\" XFSZ; ulimit -f 1;", string.format(
            "local l = require 'lunet'\n"
                .. "local ok, err = pcall(l.save, %q, {w = l.zeros(10000)})\n"
                .. "print(err)\n", path))
        local output = child:read("a")
        child:close()
        assert.is_truthy(output:find("save: " .. path .. ": write failed (File too large)", 1,
            true), output)
        assert_old_file()
        local leftovers = io.popen("ls '" .. folder .. "' | grep -c 'kept.safetensors.tmp' || true")
        assert.are.equal("0", leftovers:read("l"))
        leftovers:close()
    end)

    it("keeps the old file when killed", function()
        -- The child prints its pid, then a line just before saving 256 MB;
        -- the parent kills it with SIGKILL in the middle of the write.
        local child = spawn("echo $$;", string.format(
            "io.stdout:setvbuf('no')\n"
                .. "local l = require 'lunet'\n"
                .. "local t = l.zeros(64 * 1024 * 1024)\n"
                .. "print('saving')\n"
                .. "l.save(%q, {old = t}, {version = 'new'})\n", path))
        local pid = child:read("l")
        assert.are.equal("saving", child:read("l"))
        os.execute("sleep 0.03; kill -9 " .. pid)
        child:close()
        assert_old_file()
        os.execute("rm -f '" .. path .. "'.tmp.*")
    end)
end)
