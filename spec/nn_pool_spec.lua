local lunet = require "lunet"
local json = require "dkjson"
local gradient_check = require "spec.gradient_check"
require "lunet.assertions"

local nn = lunet.nn
local inf = math.huge

-- PyTorch agreement: within 1e-5 absolute or 1e-4 relative.
local TORCH = { atol = 1e-5, rtol = 1e-4 }
local EXACT = { atol = 0, rtol = 0 }

-- Returns the error message of a call that must fail.
local function error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    return tostring(err)
end

local function assert_error(expected, fn, ...)
    assert.matches(expected, error_of(fn, ...), 1, true)
end

-- A 1x1xHxW tensor from a nested table of rows.
local function image(rows)
    return lunet.tensor({ { rows } })
end

-- A tensor of shape with the distinct values 0.1, 0.2, ... in a shuffled
-- order: no two values within 0.1, so a finite-difference step of 0.01 never
-- changes which element is the max of a window.
local function distinct(shape)
    local count = 1
    for _, size in ipairs(shape) do
        count = count * size
    end
    local values = {}
    for i = 1, count do
        values[i] = i * 0.1
    end
    for i = count, 2, -1 do
        local j = math.random(i)
        values[i], values[j] = values[j], values[i]
    end
    return lunet.tensor(values):view(shape)
end

-- Checks grad_input of layer against central differences on input x.
local function check_gradient(layer, x)
    gradient_check.check_layer(layer, x, { eps = 1e-2, atol = 1e-3, rtol = 1e-3 })
end

-- Runs every case of a PyTorch fixture file through the layer that make(config)
-- builds, comparing output and grad_input.
local function check_fixture(file, make)
    local tensors, metadata = lunet.load("spec/fixtures/" .. file .. ".safetensors")
    local cases = 0
    for case, text in pairs(metadata) do
        local config = assert(json.decode(text))
        local layer = make(config)
        local input = tensors[case .. ".input"]
        local message = file .. " case " .. case

        assert.tensor_near(layer(input), tensors[case .. ".output"], TORCH, message)
        local grad_input = layer:backward(input, tensors[case .. ".grad_output"])
        assert.tensor_near(grad_input, tensors[case .. ".grad_input"], TORCH, message)
        cases = cases + 1
    end
    assert.is_true(cases > 0)
end

before_each(function()
    lunet.manual_seed(11)
    math.randomseed(11)
end)

describe("nn.MaxPool2d", function()
    describe("forward", function()
        it("takes the max of 2x2 windows", function()
            local pool = nn.MaxPool2d(2)
            local y = pool(lunet.arange(16):view(1, 1, 4, 4))
            assert.tensor_near(y, image({ { 5, 7 }, { 13, 15 } }), EXACT)
        end)

        it("ignores rows outside every window", function()
            local y = nn.MaxPool2d(2)(lunet.arange(25):view(1, 1, 5, 5))
            assert.tensor_near(y, image({ { 6, 8 }, { 16, 18 } }), EXACT)
        end)

        it("treats padding as -inf", function()
            local x = image({ { -1, -2, -3 }, { -4, -5, -6 }, { -7, -8, -9 } })
            local y = nn.MaxPool2d(2, { stride = 2, padding = 1 })(x)
            assert.tensor_near(y, image({ { -1, -2 }, { -4, -5 } }), EXACT)
        end)

        it("applies stride and dilation", function()
            -- Taps at columns 0 and 2, then 1 and 3, of each row pair 0 and 2.
            local x = lunet.arange(16):view(1, 1, 4, 4)
            local y = nn.MaxPool2d(2, { stride = 1, dilation = 2 })(x)
            assert.tensor_near(y, image({ { 10, 11 }, { 14, 15 } }), EXACT)
        end)

        it("takes kernel_size and stride pairs", function()
            local x = lunet.arange(12):view(1, 1, 3, 4)
            local y = nn.MaxPool2d({ 3, 2 }, { stride = { 1, 2 } })(x)
            assert.tensor_near(y, image({ { 9, 11 } }), EXACT)
        end)

        it("keeps ceil_mode's partial window", function()
            -- Windows start at rows 0, 2 and 4; the last covers rows 4 and 5.
            local x = lunet.arange(36):view(1, 1, 6, 6)
            local y = nn.MaxPool2d(3, { stride = 2, ceil_mode = true })(x)
            assert.has_shape(y, { 1, 1, 3, 3 })
            assert.tensor_near(y, image({ { 14, 16, 17 }, { 26, 28, 29 }, { 32, 34, 35 } }), EXACT)
            assert.has_shape(nn.MaxPool2d(3, { stride = 2 })(x), { 1, 1, 2, 2 })
        end)

        it("drops a ceil_mode window starting in padding", function()
            -- ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the fourth would
            -- start at padded row 6, past the input's last row 5.
            local x = lunet.arange(25):view(1, 1, 5, 5)
            local y = nn.MaxPool2d(2, { stride = 2, padding = 1, ceil_mode = true })(x)
            assert.has_shape(y, { 1, 1, 3, 3 })
            assert.tensor_near(y, image({ { 0, 2, 4 }, { 10, 12, 14 }, { 20, 22, 24 } }), EXACT)
        end)

        it("propagates NaN", function()
            local x = image({ { 1, 0 / 0, 5, 2 }, { 3, 4, 6, 7 } })
            local y = nn.MaxPool2d(2)(x):flat()
            assert.is_true(y[1] ~= y[1])
            assert.are.equal(7, y[2])
        end)

        it("passes -inf through", function()
            local x = image({ { -inf, -inf }, { -inf, -inf } })
            assert.are.equal(-inf, nn.MaxPool2d(2)(x):item())
        end)

        it("pools unbatched input", function()
            local x = lunet.randn(3, 6, 5)
            local pool = nn.MaxPool2d(2, { ceil_mode = true })
            local y = pool(x)
            assert.has_shape(y, { 3, 3, 3 })
            assert.tensor_near(y, pool(x:view(1, 3, 6, 5))[1], EXACT)
        end)

        it("pools every plane separately", function()
            local x = lunet.randn(2, 3, 4, 4)
            local pool = nn.MaxPool2d(2)
            local y = pool(x)
            for n = 1, 2 do
                for c = 1, 3 do
                    assert.tensor_near(y[n][c], pool(x[n][c]:view(1, 4, 4))[1], EXACT)
                end
            end
        end)

        it("reads non-contiguous input", function()
            local x = lunet.randn(1, 2, 5, 6)
            local pool = nn.MaxPool2d(2)
            local transposed = x:transpose(3, 4)
            assert.is_false(transposed:is_contiguous())
            assert.tensor_near(pool(transposed), pool(transposed:contiguous()), EXACT)
        end)

        it("accepts an empty batch", function()
            assert.has_shape(nn.MaxPool2d(2)(lunet.zeros(0, 3, 4, 4)), { 0, 3, 2, 2 })
        end)
    end)

    describe("backward", function()
        it("routes gradient to the max", function()
            local x = image({ { 1, 9, 2, 3 }, { 4, 5, 8, 6 } })
            local pool = nn.MaxPool2d(2)
            local grad = pool:backward(x, image({ { 10, 20 } }))
            assert.tensor_near(grad, image({ { 0, 10, 0, 0 }, { 0, 0, 20, 0 } }), EXACT)
        end)

        it("picks the first of tied maxima", function()
            local x = image({ { 7, 7 }, { 7, 7 } })
            local grad = nn.MaxPool2d(2):backward(x, image({ { 1 } }))
            assert.tensor_near(grad, image({ { 1, 0 }, { 0, 0 } }), EXACT)
        end)

        it("routes gradient to the last NaN", function()
            local x = image({ { 0 / 0, 5 }, { 0 / 0, 1 } })
            local grad = nn.MaxPool2d(2):backward(x, image({ { 1 } }))
            assert.tensor_near(grad, image({ { 0, 0 }, { 1, 0 } }), EXACT)
        end)

        it("adds overlapping windows' gradients", function()
            -- With stride 1 the center 9 is the max of all four windows.
            local x = image({ { 1, 2, 3 }, { 4, 9, 5 }, { 6, 7, 8 } })
            local grad = nn.MaxPool2d(2, { stride = 1 }):backward(x, image({ { 1, 2 }, { 3, 4 } }))
            assert.tensor_near(grad, image({ { 0, 0, 0 }, { 0, 10, 0 }, { 0, 0, 0 } }), EXACT)
        end)

        it("matches finite differences", function()
            local cases = {
                { 2, nil, { 2, 3, 5, 5 } },
                { 3, { stride = 2, padding = 1 }, { 2, 2, 7, 6 } },
                { 2, { stride = 1, dilation = 2 }, { 1, 2, 6, 6 } },
                { 3, { stride = 2, ceil_mode = true }, { 1, 2, 6, 6 } },
                { { 3, 2 }, { stride = { 2, 1 }, padding = { 1, 0 } }, { 1, 2, 5, 4 } },
                { 2, { padding = 1, ceil_mode = true }, { 3, 5, 5 } },
            }
            for _, case in ipairs(cases) do
                check_gradient(nn.MaxPool2d(case[1], case[2]), distinct(case[3]))
            end
        end)

        it("handles unbatched input", function()
            local x = lunet.randn(2, 4, 4)
            local pool = nn.MaxPool2d(2)
            local g = lunet.randn(2, 2, 2)
            local batched = pool:backward(x:view(1, 2, 4, 4), g:view(1, 2, 2, 2))
            assert.tensor_near(pool:backward(x, g), batched[1], EXACT)
        end)
    end)

    describe("errors", function()
        it("rejects a wrong rank", function()
            assert_error("MaxPool2d: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got 2x3",
                nn.MaxPool2d(2), lunet.zeros(2, 3))
            assert_error("got 1x1x1x2x2", nn.MaxPool2d(2), lunet.zeros(1, 1, 1, 2, 2))
        end)

        it("rejects an input that pools to nothing", function()
            assert_error("MaxPool2d: input 1x3x1x1 is too small: kernel 2 with padding 0 and "
                .. "dilation 1 gives an output of 0x0", nn.MaxPool2d(2), lunet.zeros(1, 3, 1, 1))
            assert_error("MaxPool2d: input 1x3x8x8 is too small: kernel 3 with padding 1 and "
                .. "dilation 5 gives an output of 0x0",
                nn.MaxPool2d(3, { padding = 1, dilation = 5 }), lunet.zeros(1, 3, 8, 8))
            assert_error("kernel 3x1 with padding 0 and dilation 1 gives an output of 0x4",
                nn.MaxPool2d({ 3, 1 }), lunet.zeros(1, 2, 4))
        end)

        it("rejects an empty height or width", function()
            assert_error("MaxPool2d: input 1x3x0x4 is empty: height and width must be at least 1",
                nn.MaxPool2d(2), lunet.zeros(1, 3, 0, 4))
        end)

        it("rejects padding above half the kernel", function()
            assert_error("MaxPool2d: padding must be at most half of kernel_size, got padding 2 "
                .. "and kernel_size 3", nn.MaxPool2d, 3, { padding = 2 })
            assert_error("got padding 1x3 and kernel_size 2x4", nn.MaxPool2d, { 2, 4 },
                { padding = { 1, 3 } })
            assert_error("got padding 1 and kernel_size 1", nn.MaxPool2d, 1, { padding = 1 })
        end)

        it("rejects non-positive sizes", function()
            assert_error("MaxPool2d: kernel_size must be positive, got 0", nn.MaxPool2d, 0)
            assert_error("MaxPool2d: kernel_size must be positive, got 2x-1", nn.MaxPool2d, { 2, -1 })
            assert_error("MaxPool2d: stride must be positive, got 0", nn.MaxPool2d, 2, { stride = 0 })
            assert_error("MaxPool2d: padding must be non-negative, got -1", nn.MaxPool2d, 2,
                { padding = -1 })
            assert_error("MaxPool2d: dilation must be positive, got 0", nn.MaxPool2d, 2,
                { dilation = 0 })
            assert_error("MaxPool2d: kernel_size must be at most 2147483647, got 4294967296",
                nn.MaxPool2d, 1 << 32)
        end)

        it("rejects bad option types", function()
            assert_error("MaxPool2d: kernel_size must be an integer or a table {h, w}, got nil",
                nn.MaxPool2d)
            assert_error("MaxPool2d: kernel_size must be an integer, got 2.5", nn.MaxPool2d, 2.5)
            assert_error("MaxPool2d: kernel_size must be a number or a table of 2 numbers, got a "
                .. "table of 3", nn.MaxPool2d, { 2, 2, 2 })
            assert_error("MaxPool2d: stride must be an integer or a table {h, w}, got boolean",
                nn.MaxPool2d, 2, { stride = true })
            assert_error("MaxPool2d: option 'ceil_mode' must be a boolean, got number",
                nn.MaxPool2d, 2, { ceil_mode = 1 })
            assert_error("MaxPool2d: bad argument #2 (options table expected, got number)",
                nn.MaxPool2d, 2, 2)
        end)

        it("rejects a wrong grad_output", function()
            local pool = nn.MaxPool2d(2)
            local x = lunet.zeros(1, 1, 4, 4)
            assert_error("MaxPool2d.backward: grad_output has shape 1x1x3x2 but the output has "
                .. "shape 1x1x2x2", pool.backward, pool, x, lunet.zeros(1, 1, 3, 2))
            assert_error("MaxPool2d.backward: bad argument #3", pool.backward, pool, x, 1)
            assert_error("MaxPool2d.backward: expected a 3-d (C, H, W) or 4-d (N, C, H, W) "
                .. "input, got 4x4", pool.backward, pool, lunet.zeros(4, 4), lunet.zeros(2, 2))
        end)

        it("rejects a non-tensor input", function()
            assert_error("MaxPool2d: bad argument #2", nn.MaxPool2d(2), "x")
        end)
    end)

    it("prints like PyTorch", function()
        assert.are.equal("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
            .. "ceil_mode=false)", tostring(nn.MaxPool2d(2)))
        assert.are.equal("MaxPool2d(kernel_size=(3, 2), stride=(3, 2), padding=(1, 0), "
            .. "dilation=2, ceil_mode=true)", tostring(nn.MaxPool2d({ 3, 2 },
            { padding = { 1, 0 }, dilation = 2, ceil_mode = true })))
        assert.are.equal("MaxPool2d(kernel_size=3, stride=(2, 1), padding=1, dilation=1, "
            .. "ceil_mode=false)", tostring(nn.MaxPool2d(3, { stride = { 2, 1 }, padding = 1 })))
    end)

    it("matches PyTorch fixtures", function()
        check_fixture("maxpool2d", function(config)
            return nn.MaxPool2d(config.kernel_size, {
                stride = config.stride,
                padding = config.padding,
                dilation = config.dilation,
                ceil_mode = config.ceil_mode,
            })
        end)
    end)
end)

describe("nn.AvgPool2d", function()
    describe("forward", function()
        it("averages 2x2 windows", function()
            local y = nn.AvgPool2d(2)(lunet.arange(16):view(1, 1, 4, 4))
            assert.tensor_near(y, image({ { 2.5, 4.5 }, { 10.5, 12.5 } }), EXACT)
        end)

        it("counts padding in the divisor", function()
            local x = lunet.ones(1, 1, 2, 2)
            local y = nn.AvgPool2d(2, { padding = 1 })(x)
            assert.tensor_near(y, image({ { 0.25, 0.25 }, { 0.25, 0.25 } }), EXACT)
        end)

        it("excludes padding without count_include_pad", function()
            local x = lunet.arange(4):view(1, 1, 2, 2)
            local y = nn.AvgPool2d(2, { padding = 1, count_include_pad = false })(x)
            assert.tensor_near(y, image({ { 0, 1 }, { 2, 3 } }), EXACT)
        end)

        it("divides ceil_mode windows by cells within padding", function()
            -- Rows: windows start at -1, 1, 3 and 5 (ceil_mode adds the last).
            -- The last spans padded rows 5..7, but only rows 5 and 6 lie in
            -- the padded input, so count_include_pad divides by 2 per dim.
            local x = lunet.ones(1, 1, 6, 6)
            local y = nn.AvgPool2d(3, { stride = 2, padding = 1, ceil_mode = true })(x)
            assert.has_shape(y, { 1, 1, 4, 4 })
            local per_dim = { 2 / 3, 1, 1, 1 / 2 }
            local expected = {}
            for i = 1, 4 do
                expected[i] = {}
                for j = 1, 4 do
                    expected[i][j] = per_dim[i] * per_dim[j]
                end
            end
            assert.tensor_near(y, image(expected), { atol = 1e-7, rtol = 0 })
        end)

        it("averages only real cells of ceil_mode windows", function()
            local x = lunet.ones(1, 1, 6, 6)
            local pool = nn.AvgPool2d(3, { stride = 2, padding = 1, ceil_mode = true,
                count_include_pad = false })
            assert.tensor_near(pool(x), lunet.ones(1, 1, 4, 4), EXACT)
        end)

        it("drops a ceil_mode window starting in padding", function()
            local x = lunet.ones(1, 1, 5, 5)
            local y = nn.AvgPool2d(2, { padding = 1, ceil_mode = true })(x)
            assert.has_shape(y, { 1, 1, 3, 3 })
        end)

        it("uses divisor_override", function()
            local x = lunet.ones(1, 1, 4, 4)
            local y = nn.AvgPool2d(2, { divisor_override = 3 })(x)
            assert.tensor_near(y, lunet.full({ 1, 1, 2, 2 }, 4 / 3), EXACT)
            -- Every 3x3 window (stride 3, padding 1) covers 2x2 real cells.
            local padded = nn.AvgPool2d(3, { padding = 1, divisor_override = 2 })(x)
            assert.tensor_near(padded, lunet.full({ 1, 1, 2, 2 }, 2), EXACT)
        end)

        it("pools unbatched input", function()
            local x = lunet.randn(3, 7, 6)
            local pool = nn.AvgPool2d(3, { stride = 2, padding = 1, count_include_pad = false })
            local y = pool(x)
            assert.has_shape(y, { 3, 4, 3 })
            assert.tensor_near(y, pool(x:view(1, 3, 7, 6))[1], EXACT)
        end)
    end)

    describe("backward", function()
        it("spreads gradient over each window", function()
            local x = lunet.zeros(1, 1, 2, 4)
            local grad = nn.AvgPool2d(2):backward(x, image({ { 4, 8 } }))
            assert.tensor_near(grad, image({ { 1, 1, 2, 2 }, { 1, 1, 2, 2 } }), EXACT)
        end)

        it("matches finite differences", function()
            local cases = {
                { 2, nil, { 2, 3, 5, 5 } },
                { 3, { stride = 2, padding = 1 }, { 1, 2, 7, 6 } },
                { 3, { stride = 2, padding = 1, count_include_pad = false }, { 1, 2, 7, 6 } },
                { 3, { stride = 2, padding = 1, ceil_mode = true }, { 1, 2, 6, 6 } },
                { 3, { stride = 2, padding = 1, ceil_mode = true, count_include_pad = false },
                    { 1, 2, 6, 6 } },
                { 2, { stride = 1, divisor_override = 3 }, { 1, 1, 4, 5 } },
                { { 3, 2 }, { stride = { 2, 1 }, padding = { 1, 0 } }, { 2, 5, 4 } },
            }
            for _, case in ipairs(cases) do
                check_gradient(nn.AvgPool2d(case[1], case[2]), lunet.randn(case[3]))
            end
        end)
    end)

    describe("errors", function()
        it("rejects a wrong rank", function()
            assert_error("AvgPool2d: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got 5",
                nn.AvgPool2d(2), lunet.zeros(5))
        end)

        it("rejects an input that pools to nothing", function()
            assert_error("AvgPool2d: input 1x1x2x5 is too small: kernel 3 with padding 0 gives an "
                .. "output of 0x1", nn.AvgPool2d(3), lunet.zeros(1, 1, 2, 5))
        end)

        it("rejects bad options", function()
            assert_error("AvgPool2d: padding must be at most half of kernel_size, got padding 2 "
                .. "and kernel_size 2", nn.AvgPool2d, 2, { padding = 2 })
            assert_error("AvgPool2d: stride must be positive, got -2", nn.AvgPool2d, 2,
                { stride = -2 })
            assert_error("AvgPool2d: divisor_override must be positive, got 0", nn.AvgPool2d, 2,
                { divisor_override = 0 })
            assert_error("AvgPool2d: divisor_override must be an integer, got 1.5", nn.AvgPool2d,
                2, { divisor_override = 1.5 })
            assert_error("AvgPool2d: option 'count_include_pad' must be a boolean, got string",
                nn.AvgPool2d, 2, { count_include_pad = "yes" })
        end)

        it("rejects a wrong grad_output", function()
            local pool = nn.AvgPool2d(2)
            assert_error("AvgPool2d.backward: grad_output has shape 2x2 but the output has shape "
                .. "1x2x2", pool.backward, pool, lunet.zeros(1, 4, 4), lunet.zeros(2, 2))
        end)
    end)

    it("prints like PyTorch", function()
        assert.are.equal("AvgPool2d(kernel_size=3, stride=2, padding=1)",
            tostring(nn.AvgPool2d(3, { stride = 2, padding = 1 })))
        assert.are.equal("AvgPool2d(kernel_size=(2, 3), stride=(2, 3), padding=0)",
            tostring(nn.AvgPool2d({ 2, 3 }, { count_include_pad = false })))
    end)

    it("matches PyTorch fixtures", function()
        check_fixture("avgpool2d", function(config)
            return nn.AvgPool2d(config.kernel_size, {
                stride = config.stride,
                padding = config.padding,
                ceil_mode = config.ceil_mode,
                count_include_pad = config.count_include_pad,
            })
        end)
    end)
end)

describe("nn.AdaptiveAvgPool2d", function()
    -- Mean of 0-based values begin .. end - 1.
    local function window_mean(begin, finish)
        return (begin + finish - 1) / 2
    end

    describe("forward", function()
        it("splits 10 columns into 7 windows", function()
            -- [floor(10 i / 7), ceil(10 (i + 1) / 7)) for i = 0..6.
            local windows = { { 0, 2 }, { 1, 3 }, { 2, 5 }, { 4, 6 }, { 5, 8 }, { 7, 9 }, { 8, 10 } }
            local expected = {}
            for i, w in ipairs(windows) do
                expected[i] = window_mean(w[1], w[2])
            end
            local y = nn.AdaptiveAvgPool2d({ 1, 7 })(lunet.arange(10):view(1, 1, 1, 10))
            assert.tensor_near(y, image({ expected }), { atol = 1e-6, rtol = 0 })
        end)

        it("splits 13 rows into 7 windows", function()
            local windows = { { 0, 2 }, { 1, 4 }, { 3, 6 }, { 5, 8 }, { 7, 10 }, { 9, 12 },
                { 11, 13 } }
            local expected = {}
            for i, w in ipairs(windows) do
                expected[i] = { window_mean(w[1], w[2]) }
            end
            local y = nn.AdaptiveAvgPool2d({ 7, 1 })(lunet.arange(13):view(1, 1, 13, 1))
            assert.tensor_near(y, image(expected), { atol = 1e-6, rtol = 0 })
        end)

        it("averages whole windows when sizes divide", function()
            local y = nn.AdaptiveAvgPool2d(2)(lunet.arange(16):view(1, 1, 4, 4))
            assert.tensor_near(y, image({ { 2.5, 4.5 }, { 10.5, 12.5 } }), EXACT)
        end)

        it("repeats values when the output is larger", function()
            local x = lunet.tensor({ { { 3 } }, { { -2 } } })
            local y = nn.AdaptiveAvgPool2d(7)(x)
            assert.has_shape(y, { 2, 7, 7 })
            assert.tensor_near(y[1], lunet.full({ 7, 7 }, 3), EXACT)
            assert.tensor_near(y[2], lunet.full({ 7, 7 }, -2), EXACT)
        end)

        it("pools unbatched input", function()
            local x = lunet.randn(3, 9, 7)
            local pool = nn.AdaptiveAvgPool2d({ 4, 3 })
            assert.tensor_near(pool(x), pool(x:view(1, 3, 9, 7))[1], EXACT)
        end)
    end)

    describe("backward", function()
        it("spreads gradient over overlapping windows", function()
            -- 3 columns into 2 windows: [0, 2) and [1, 3).
            local x = lunet.zeros(1, 1, 1, 3)
            local grad = nn.AdaptiveAvgPool2d({ 1, 2 }):backward(x, image({ { 2, 4 } }))
            assert.tensor_near(grad, image({ { 1, 3, 2 } }), EXACT)
        end)

        it("matches finite differences", function()
            local cases = {
                { 7, { 1, 2, 10, 13 } },
                { { 3, 2 }, { 2, 2, 8, 5 } },
                { 5, { 1, 1, 3, 4 } },
                { 1, { 2, 5, 6 } },
            }
            for _, case in ipairs(cases) do
                check_gradient(nn.AdaptiveAvgPool2d(case[1]), lunet.randn(case[2]))
            end
        end)
    end)

    describe("errors", function()
        it("rejects a bad output_size", function()
            assert_error("AdaptiveAvgPool2d: output_size must be between 1 and 2147483647, got 0",
                nn.AdaptiveAvgPool2d, 0)
            assert_error("AdaptiveAvgPool2d: output_size must be between 1 and 2147483647, got -3",
                nn.AdaptiveAvgPool2d, { 2, -3 })
            assert_error("AdaptiveAvgPool2d: output_size must be a number or a table of 2 numbers, "
                .. "got a table of 1", nn.AdaptiveAvgPool2d, { 7 })
            assert_error("AdaptiveAvgPool2d: output_size must be an integer or a table {h, w}, "
                .. "got string", nn.AdaptiveAvgPool2d, "7")
        end)

        it("rejects a wrong rank", function()
            assert_error("AdaptiveAvgPool2d: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, "
                .. "got 4x4", nn.AdaptiveAvgPool2d(2), lunet.zeros(4, 4))
        end)

        it("rejects an empty height or width", function()
            assert_error("AdaptiveAvgPool2d: input 2x0x3 is empty", nn.AdaptiveAvgPool2d(2),
                lunet.zeros(2, 0, 3))
        end)

        it("rejects a wrong grad_output", function()
            local pool = nn.AdaptiveAvgPool2d(7)
            assert_error("AdaptiveAvgPool2d.backward: grad_output has shape 1x3x4x4 but the "
                .. "output has shape 1x3x7x7", pool.backward, pool, lunet.zeros(1, 3, 10, 10),
                lunet.zeros(1, 3, 4, 4))
        end)
    end)

    it("prints like PyTorch", function()
        assert.are.equal("AdaptiveAvgPool2d(output_size=(7, 7))",
            tostring(nn.AdaptiveAvgPool2d({ 7, 7 })))
        assert.are.equal("AdaptiveAvgPool2d(output_size=1)", tostring(nn.AdaptiveAvgPool2d(1)))
    end)

    it("has no parameters", function()
        assert.are.same({}, nn.AdaptiveAvgPool2d(2):parameters())
        assert.are.same({}, nn.MaxPool2d(2):state_dict())
    end)

    it("matches PyTorch fixtures", function()
        check_fixture("adaptive_avgpool2d", function(config)
            return nn.AdaptiveAvgPool2d(config.output_size)
        end)
    end)
end)

describe("pooling on large inputs", function()
    it("matches the unthreaded result", function()
        -- 2 x 8 x 64 x 64 elements pass LN_PARALLEL_GRAIN, so planes run on
        -- threads. Pooling each plane alone runs on one thread.
        local x = lunet.randn(2, 8, 64, 64)
        local g = lunet.randn(2, 8, 32, 32)
        for _, pool in ipairs({ nn.MaxPool2d(2), nn.AvgPool2d(3, { stride = 2, padding = 1 }),
            nn.AdaptiveAvgPool2d(32) }) do
            local y = pool(x)
            local grad = pool:backward(x, g)
            for _, index in ipairs({ { 1, 1 }, { 2, 8 } }) do
                local n, c = index[1], index[2]
                local plane = x[n][c]:view(1, 64, 64)
                assert.tensor_near(y[n][c], pool(plane)[1], EXACT)
                assert.tensor_near(grad[n][c], pool:backward(plane, g[n][c]:view(1, 32, 32))[1],
                    EXACT)
            end
        end
    end)
end)
