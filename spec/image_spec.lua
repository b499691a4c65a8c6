local lunet = require "lunet"
require "lunet.assertions"
local image = lunet.image

-- spec/data/make_image_data.py wrote these files.
local DATA = "spec/data/"
local pixels = lunet.load(DATA .. "image_pixels.safetensors")
local fixture = lunet.load(DATA .. "image_transforms.safetensors")

local errors = require "spec.helpers.errors"
local shell = require "spec.helpers.shell"

local assert_error = errors.assert_error
local read_bytes = shell.read_file

local folder = shell.temp_dir()

-- Writes bytes to a file of the given name in the spec's folder.
local function write_bytes(name, bytes)
    local path = folder .. "/" .. name
    shell.write_file(path, bytes)
    return path
end

-- A 3 x H x W table of byte values divided by 255.
local function scaled(planes)
    local out = {}
    for c, plane in ipairs(planes) do
        out[c] = {}
        for y, row in ipairs(plane) do
            out[c][y] = {}
            for x, v in ipairs(row) do
                out[c][y][x] = v / 255
            end
        end
    end
    return out
end

local EXACT = { rtol = 0, atol = 1e-7 }

teardown(function()
    shell.remove_tree(folder)
end)

describe("image.load", function()
    it("decodes an RGB PNG", function()
        local img = image.load(DATA .. "rgb.png")
        assert.are.same({ 3, 3, 4 }, img:size())
        local expected = scaled({
            { { 255, 0, 0, 255 }, { 0, 10, 100, 251 }, { 1, 128, 7, 90 } },
            { { 0, 255, 0, 255 }, { 0, 20, 150, 252 }, { 2, 64, 77, 180 } },
            { { 0, 0, 255, 255 }, { 0, 30, 200, 253 }, { 3, 32, 177, 45 } },
        })
        assert.tensor_near(img, lunet.tensor(expected), EXACT)
    end)

    it("decodes a BMP", function()
        assert.tensor_near(image.load(DATA .. "rgb.bmp"), image.load(DATA .. "rgb.png"), EXACT)
    end)

    it("repeats grey into three channels", function()
        local img = image.load(DATA .. "grey.png")
        local grey = { { 0, 128, 255 }, { 17, 34, 51 } }
        assert.tensor_near(img, lunet.tensor(scaled({ grey, grey, grey })), EXACT)
    end)

    it("drops the alpha channel", function()
        local img = image.load(DATA .. "rgba.png")
        local expected = scaled({ { { 255, 0 }, { 0, 10 } }, { { 0, 255 }, { 0, 20 } },
            { { 0, 0 }, { 255, 30 } } })
        assert.tensor_near(img, lunet.tensor(expected), EXACT)
        local grey_alpha = image.load(DATA .. "grey_alpha.png")
        local grey = { { 200, 50 } }
        assert.tensor_near(grey_alpha, lunet.tensor(scaled({ grey, grey, grey })), EXACT)
    end)

    it("keeps 16-bit precision", function()
        local img = image.load(DATA .. "grey16.png")
        local grey = { { 0, 1 }, { 1000 / 65535, 32768 / 65535 } }
        assert.tensor_near(img, lunet.tensor({ grey, grey, grey }), EXACT)
    end)

    it("matches PIL on PNG and BMP", function()
        for _, name in ipairs({ "rgb.png", "rgb.bmp", "grey.png", "rgba.png", "grey_alpha.png",
            "palette.png" }) do
            assert.tensor_near(image.load(DATA .. name), pixels[name], EXACT, name)
        end
    end)

    it("matches PIL on JPEG within 3 levels", function()
        for _, name in ipairs({ "blocks.jpg", "blocks_progressive.jpg", "grey.jpg" }) do
            local img = image.load(DATA .. name)
            assert.are.same({ 3, 16, 16 }, img:size())
            assert.tensor_near(img, pixels[name], { rtol = 0, atol = 3 / 255 }, name)
        end
    end)

    it("returns values in [0, 1]", function()
        local img = image.load(DATA .. "blocks_progressive.jpg")
        assert.is_true(img:min() >= 0)
        assert.is_true(img:max() <= 1)
    end)

    local CORRUPT = {
        { "an empty file", "", "not a PNG, JPEG or BMP file" },
        { "text", "hello, not an image", "not a PNG, JPEG or BMP file" },
        { "a GIF", "GIF89a\1\0\1\0\0\0\0;", "not a PNG, JPEG or BMP file" },
        { "a PNG signature only", read_bytes(DATA .. "rgb.png"):sub(1, 8), "first not IHDR" },
        { "half a PNG", read_bytes(DATA .. "rgb.png"):sub(1, 52),
            "a PNG IDAT chunk of 48 bytes extends past the end of the file" },
        { "a JPEG header only", read_bytes(DATA .. "blocks.jpg"):sub(1, 100), "no SOF" },
        { "half a JPEG", read_bytes(DATA .. "blocks.jpg"):sub(1, 328),
            "the JPEG data is truncated: 0 bytes of scans for 12 blocks need at least 2" },
        { "half a BMP", read_bytes(DATA .. "rgb.bmp"):sub(1, 80),
            "truncated BMP: the pixels need 90 bytes but the file has 80" },
        { "a BMP header only", read_bytes(DATA .. "rgb.bmp"):sub(1, 20), "" },
    }

    for i, case in ipairs(CORRUPT) do
        local description, bytes, reason = case[1], case[2], case[3]
        it("rejects " .. description, function()
            local path = write_bytes("corrupt" .. i, bytes)
            assert_error("image.load: " .. path .. ": corrupt or unsupported image (" .. reason,
                image.load, path)
            -- The interpreter keeps working.
            assert.are.same({ 3, 3, 4 }, image.load(DATA .. "rgb.png"):size())
        end)
    end

    it("rejects every truncation", function()
        for _, name in ipairs({ "rgb.bmp", "blocks.jpg", "grey.jpg", "blocks_progressive.jpg" }) do
            local bytes = read_bytes(DATA .. name)
            for n = 0, #bytes - 1 do
                local path = write_bytes("cut_" .. name, bytes:sub(1, n))
                assert_error("image.load: " .. path .. ": corrupt or unsupported image (",
                    image.load, path)
            end
        end
    end)

    it("rejects a PNG cut before its pixels end", function()
        -- The last 12 bytes are the IEND chunk; a cut inside its CRC still
        -- leaves every pixel, so only cuts before it are errors.
        local bytes = read_bytes(DATA .. "rgb.png")
        for n = 0, #bytes - 13 do
            local path = write_bytes("cut_rgb.png", bytes:sub(1, n))
            assert_error("image.load: " .. path .. ": corrupt or unsupported image (", image.load,
                path)
        end
    end)

    it("rejects an oversized Huffman table", function()
        -- A DHT segment whose 16 code counts add up to more than 256
        -- symbols; the decoder would write past its tables.
        local bytes = read_bytes(DATA .. "blocks.jpg")
        local dht = assert(bytes:find("\255\196", 1, true))
        local counts = dht + 5
        local broken = bytes:sub(1, counts - 1) .. string.rep("\255", 16) .. bytes:sub(counts + 16)
        local path = write_bytes("huffman.jpg", broken)
        assert_error("image.load: " .. path .. ": corrupt or unsupported image (a JPEG Huffman "
            .. "table has 4080 symbols, more than 256)", image.load, path)
    end)

    it("rejects an undefined Huffman table", function()
        -- The scan's first component names DC and AC table 2, which no DHT
        -- segment defines; the decoder would read uninitialised tables.
        local bytes = read_bytes(DATA .. "blocks.jpg")
        local sos = assert(bytes:find("\255\218", 1, true))
        local selector = sos + 6
        local broken = bytes:sub(1, selector - 1) .. "\34" .. bytes:sub(selector + 1)
        local path = write_bytes("undefined_table.jpg", broken)
        assert_error("image.load: " .. path .. ": corrupt or unsupported image (a JPEG scan uses "
            .. "a Huffman table that is not defined)", image.load, path)
    end)

    it("rejects a JPEG too short for its size", function()
        -- blocks.jpg claiming 8000 x 8000 pixels: the decoder would fill the
        -- missing data with zeros and return 768 MB of grey.
        local bytes = read_bytes(DATA .. "blocks.jpg")
        local sof = assert(bytes:find("\255\192", 1, true))
        local size = string.pack(">I2I2", 8000, 8000)
        local broken = bytes:sub(1, sof + 4) .. size .. bytes:sub(sof + 9)
        local path = write_bytes("bomb.jpg", broken)
        assert_error("image.load: " .. path .. ": corrupt or unsupported image (the JPEG data is "
            .. "truncated: 32 bytes of scans for 3000000 blocks need at least 375000)", image.load,
            path)
    end)

    it("rejects a huge claimed IDAT chunk", function()
        -- The decoder would reserve memory for the claimed length first.
        local bytes = read_bytes(DATA .. "rgb.png")
        local idat = assert(bytes:find("IDAT", 1, true))
        local broken = bytes:sub(1, idat - 5) .. string.pack(">I4", 0x7FFFFFF0) .. bytes:sub(idat)
        local path = write_bytes("huge_idat.png", broken)
        assert_error("image.load: " .. path .. ": corrupt or unsupported image (a PNG IDAT chunk "
            .. "of 2147483632 bytes extends past the end of the file)", image.load, path)
    end)

    it("rejects huge claimed sizes", function()
        assert_error("image.load: " .. DATA .. "huge.bmp: the image is 30000 x 30000 pixels, "
            .. "more than the limit of 268435456 pixels", image.load, DATA .. "huge.bmp")
        assert_error("image.load: " .. DATA .. "huge.png: corrupt or unsupported image (too "
            .. "large)", image.load, DATA .. "huge.png")
    end)

    it("reports missing files and folders", function()
        local missing = folder .. "/missing.png"
        assert_error("image.load: " .. missing .. ": cannot open (No such file or directory)",
            image.load, missing)
        assert_error("image.load: " .. folder .. ": not a regular file", image.load, folder)
    end)

    it("checks its argument", function()
        assert_error("image.load: bad argument #1 (path string expected, got nil)", image.load,
            nil)
        assert_error("image.load: the path contains a NUL byte", image.load, "a\0b.png")
    end)
end)

describe("image.resize", function()
    local CASES = {
        { "down", "image", { 4, 5 } },
        { "up", "image", { 15, 23 } },
        { "same", "image", { 7, 10 } },
        { "mixed", "image", { 3, 17 } },
        { "one_pixel", "image", { 1, 1 } },
        { "shorter", "image", 5 },
        { "shorter_up", "image", 13 },
        { "tall_shorter", "tall", 3 },
        { "batch", "batch", { 4, 4 } },
    }

    for _, case in ipairs(CASES) do
        local name, input, size = case[1], case[2], case[3]
        it("matches torch: " .. name, function()
            local expected = fixture["resize." .. name]
            local out = image.resize(fixture[input], size)
            assert.are.same(expected:size(), out:size())
            assert.tensor_near(out, expected, { rtol = 1e-6, atol = 1e-6 })
        end)
    end

    it("resizes the shorter side", function()
        assert.are.same({ 3, 5, 7 }, image.resize(fixture.image, 5):size())
        assert.are.same({ 3, 5, 7 }, image.resize(fixture.image, { 5 }):size())
        -- 9 x 4 to a shorter side of 3: int(3 * 9 / 4) = 6
        assert.are.same({ 3, 6, 3 }, image.resize(fixture.tall, 3):size())
        assert.are.same({ 224, 298 }, image.resize(lunet.zeros(480, 640), 224):size())
    end)

    it("reads strided images", function()
        local transposed = fixture.image:transpose(2, 3)
        local expected = image.resize(transposed:contiguous(), { 6, 4 })
        assert.tensor_near(image.resize(transposed, { 6, 4 }), expected, EXACT)
    end)

    it("resizes 2-d tensors", function()
        local plane = fixture.image:select(1, 2)
        local expected = image.resize(fixture.image, { 4, 5 }):select(1, 2)
        assert.tensor_near(image.resize(plane, { 4, 5 }), expected, EXACT)
    end)

    it("keeps a constant image constant", function()
        local out = image.resize(lunet.full(3, 5, 9, 0.25), { 11, 2 })
        assert.tensor_near(out, lunet.full(3, 11, 2, 0.25), EXACT)
    end)

    it("checks its arguments", function()
        local img = fixture.image
        assert_error("image.resize: sizes must be positive integers, got 0", image.resize, img, 0)
        assert_error("image.resize: sizes must be positive integers, got -3", image.resize, img,
            { -3, 4 })
        assert_error("image.resize: sizes must be positive integers, got 2.5", image.resize, img,
            2.5)
        assert_error("image.resize: sizes must be positive integers, got string", image.resize,
            img, { "4", 4 })
        assert_error("image.resize: a size table must hold {height, width}, got 3 entries",
            image.resize, img, { 1, 2, 3 })
        assert_error("image.resize: bad argument #2 (size expected: a number or a table "
            .. "{height, width}, got nil)", image.resize, img, nil)
        assert_error("image.resize: expected an image of shape H x W, C x H x W or N x C x H x W, "
            .. "got shape 5", image.resize, lunet.zeros(5), 2)
        assert_error("image.resize: cannot resize an empty image (shape 3x0x4)", image.resize,
            lunet.zeros(3, 0, 4), 2)
        assert_error("image.resize: bad argument #1 (tensor expected, got nil)", image.resize,
            nil, 2)
    end)
end)

describe("image.center_crop", function()
    local CASES = {
        { "odd", "image", { 4, 4 } },
        { "ties", "image", { 5, 5 } },
        { "by_one", "image", { 6, 9 } },
        { "square", "image", 3 },
        { "larger", "image", { 9, 13 } },
        { "larger_odd", "image", { 10, 11 } },
        { "mixed", "image", { 9, 4 } },
        { "batch", "batch", { 2, 3 } },
    }

    for _, case in ipairs(CASES) do
        local name, input, size = case[1], case[2], case[3]
        it("matches torchvision: " .. name, function()
            local expected = fixture["center_crop." .. name]
            local out = image.center_crop(fixture[input], size)
            assert.are.same(expected:size(), out:size())
            assert.tensor_near(out, expected, EXACT)
        end)
    end

    it("rounds offsets half to even", function()
        -- 1..8 in a row: a crop of 5 leaves 3 columns, round(1.5) = 2;
        -- a crop of 3 leaves 5, round(2.5) = 2.
        local row = lunet.arange(1, 9):view(1, 8)
        assert.are.same({ { 3, 4, 5, 6, 7 } }, image.center_crop(row, { 1, 5 }):totable())
        assert.are.same({ { 3, 4, 5 } }, image.center_crop(row, { 1, 3 }):totable())
    end)

    it("pads with zeros", function()
        local row = lunet.tensor({ { 1, 2 } })
        assert.are.same({ { 0, 1, 2, 0, 0 } }, image.center_crop(row, { 1, 5 }):totable())
    end)

    it("returns a copy", function()
        local img = lunet.ones(3, 4, 4)
        local crop = image.center_crop(img, 2)
        crop:fill_(5)
        assert.are.equal(1, img[1][2][2])
    end)

    it("checks its arguments", function()
        assert_error("image.center_crop: sizes must be positive integers, got 0",
            image.center_crop, fixture.image, 0)
        assert_error("image.center_crop: expected an image of shape H x W, C x H x W or "
            .. "N x C x H x W, got shape scalar", image.center_crop, lunet.tensor(1), 2)
    end)
end)

describe("image.normalize", function()
    local MEAN, STD = { 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }

    it("matches torchvision", function()
        assert.tensor_near(image.normalize(fixture.image, MEAN, STD), fixture["normalize.image"],
            EXACT)
        assert.tensor_near(image.normalize(fixture.batch, MEAN, STD), fixture["normalize.batch"],
            EXACT)
    end)

    it("accepts numbers for every channel", function()
        local out = image.normalize(lunet.ones(3, 2, 2), 0.5, 0.25)
        assert.tensor_near(out, lunet.full(3, 2, 2, 2), EXACT)
    end)

    it("reads strided images", function()
        local img = fixture.image:transpose(2, 3)
        assert.tensor_near(image.normalize(img, MEAN, STD),
            image.normalize(img:contiguous(), MEAN, STD), EXACT)
    end)

    it("checks its arguments", function()
        local img = fixture.image
        assert_error("image.normalize: std[2] is 0, which would divide by zero", image.normalize,
            img, MEAN, { 1, 0, 1 })
        assert_error("image.normalize: mean has 2 entries but the image has 3 channels",
            image.normalize, img, { 0, 0 }, STD)
        assert_error("image.normalize: std[3] is a string, expected a number", image.normalize,
            img, MEAN, { 1, 1, "1" })
        assert_error("image.normalize: bad argument #3 (std expected: a number or a table of one "
            .. "number per channel, got nil)", image.normalize, img, MEAN, nil)
        assert_error("image.normalize: expected an image of shape C x H x W or N x C x H x W, got "
            .. "shape 4x4", image.normalize, lunet.zeros(4, 4), 0, 1)
    end)
end)
