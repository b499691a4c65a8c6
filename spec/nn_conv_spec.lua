local lunet = require "lunet"
local json = require "dkjson"
local gradient_check = require "spec.gradient_check"
require "lunet.assertions"

local nn = lunet.nn

-- Returns the error message of a call that must fail.
local function error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    return tostring(err)
end

local function pair(value, default)
    if value == nil then
        return { default, default }
    elseif type(value) == "table" then
        return value
    end
    return { value, value }
end

-- Cross-correlation in Lua doubles over tensors x (N, C, H, W) and weight
-- (OC, C / groups, KH, KW), with options as Conv2d takes them. Returns the
-- flat output and its shape.
local function reference_conv(x, weight, bias, options)
    options = options or {}
    local n_count, channels, height, width = table.unpack(x:size())
    local out_channels, group_channels, kh, kw = table.unpack(weight:size())
    local stride, padding = pair(options.stride, 1), pair(options.padding, 0)
    local dilation, groups = pair(options.dilation, 1), options.groups or 1
    local oh_count = (height + 2 * padding[1] - dilation[1] * (kh - 1) - 1) // stride[1] + 1
    local ow_count = (width + 2 * padding[2] - dilation[2] * (kw - 1) - 1) // stride[2] + 1
    local xs, ws, bs = x:flat(), weight:flat(), bias and bias:flat()
    local group_out = out_channels // groups

    local out = {}
    for n = 0, n_count - 1 do
        for oc = 0, out_channels - 1 do
            local first_channel = (oc // group_out) * group_channels
            for oh = 0, oh_count - 1 do
                for ow = 0, ow_count - 1 do
                    local sum = bs and bs[oc + 1] or 0
                    for c = 0, group_channels - 1 do
                        for ki = 0, kh - 1 do
                            local ih = oh * stride[1] - padding[1] + ki * dilation[1]
                            for kj = 0, kw - 1 do
                                local iw = ow * stride[2] - padding[2] + kj * dilation[2]
                                if ih >= 0 and ih < height and iw >= 0 and iw < width then
                                    local xi = ((n * channels + first_channel + c) * height + ih)
                                        * width + iw
                                    local wi = ((oc * group_channels + c) * kh + ki) * kw + kj
                                    sum = sum + xs[xi + 1] * ws[wi + 1]
                                end
                            end
                        end
                    end
                    out[#out + 1] = sum
                end
            end
        end
    end
    return out, { n_count, out_channels, oh_count, ow_count }
end

local function tensor_of(flat, shape)
    return lunet.tensor(flat):view(shape)
end

describe("nn.Conv2d", function()
    before_each(function()
        lunet.manual_seed(7)
    end)

    describe("forward", function()
        it("sums 2x2 windows", function()
            local conv = nn.Conv2d(1, 1, 2)
            conv.weight:fill_(1)
            conv.bias:fill_(0.5)
            local y = conv(lunet.arange(1, 10):view(1, 1, 3, 3))
            assert.tensor_near(y, { { { { 12.5, 16.5 }, { 24.5, 28.5 } } } })
        end)

        it("pads with zeros", function()
            local conv = nn.Conv2d(1, 1, 3, { padding = 1, bias = false })
            conv.weight:fill_(1)
            local y = conv(lunet.tensor { { { { 1, 2 }, { 3, 4 } } } })
            assert.tensor_near(y, { { { { 10, 10 }, { 10, 10 } } } })
        end)

        it("steps by the stride", function()
            local conv = nn.Conv2d(1, 1, 1, { stride = 2, bias = false })
            conv.weight:fill_(2)
            local y = conv(lunet.arange(1, 17):view(1, 1, 4, 4))
            assert.tensor_near(y, { { { { 2, 6 }, { 18, 22 } } } })
        end)

        it("spreads taps by the dilation", function()
            local conv = nn.Conv2d(1, 1, 2, { dilation = 2, bias = false })
            conv.weight:fill_(1)
            local y = conv(lunet.arange(1, 10):view(1, 1, 3, 3))
            assert.tensor_near(y, { { { { 20 } } } })
        end)

        it("keeps groups apart", function()
            local conv = nn.Conv2d(2, 2, 1, { groups = 2, bias = false })
            conv.weight:copy_(lunet.tensor { 2, 10 }:view(2, 1, 1, 1))
            local y = conv(lunet.tensor { 3, 5 }:view(1, 2, 1, 1))
            assert.tensor_near(y, { { { { 6 } }, { { 50 } } } })
        end)

        local cases = {
            { name = "padding 1", args = { 3, 4, 3, { padding = 1 } }, input = { 2, 3, 6, 5 } },
            { name = "stride 2", args = { 3, 4, 3, { stride = 2, padding = 1 } },
                input = { 2, 3, 7, 6 } },
            { name = "stride 3", args = { 2, 3, 2, { stride = 3 } }, input = { 1, 2, 8, 7 } },
            { name = "dilation 2", args = { 2, 3, 3, { dilation = 2, padding = 2 } },
                input = { 2, 2, 6, 7 } },
            { name = "asymmetric pairs", args = { 2, 3, { 3, 2 },
                { stride = { 2, 1 }, padding = { 1, 0 }, dilation = { 1, 2 } } },
                input = { 1, 2, 7, 6 } },
            { name = "groups 2", args = { 4, 6, 3, { groups = 2, padding = 1 } },
                input = { 2, 4, 5, 5 } },
            { name = "depthwise", args = { 3, 6, 3, { groups = 3 } }, input = { 2, 3, 5, 4 } },
            { name = "1x1 kernel", args = { 5, 3, 1 }, input = { 2, 5, 4, 3 } },
            { name = "1x1 kernel, no bias", args = { 5, 3, 1, { bias = false } },
                input = { 1, 5, 2, 2 } },
            { name = "1x1 kernel, padding 1", args = { 2, 3, 1, { padding = 1 } },
                input = { 1, 2, 3, 3 } },
            { name = "kernel as large as input", args = { 2, 2, 4 }, input = { 3, 2, 4, 4 } },
        }
        for _, case in ipairs(cases) do
            it("matches a reference, " .. case.name, function()
                local conv = nn.Conv2d(table.unpack(case.args))
                local x = lunet.randn(case.input)
                local expected, shape = reference_conv(x, conv.weight, conv.bias, case.args[4])
                local y = conv(x)
                assert.has_shape(y, shape)
                assert.tensor_near(y, tensor_of(expected, shape), { atol = 1e-5, rtol = 1e-5 })
            end)
        end

        it("accepts an unbatched input", function()
            local conv = nn.Conv2d(3, 4, 3, { padding = 1 })
            local x = lunet.randn(3, 5, 6)
            local y = conv(x)
            assert.has_shape(y, { 4, 5, 6 })
            assert.tensor_near(y, conv(x:unsqueeze(1))[1], { atol = 0, rtol = 0 })
        end)

        it("computes each sample alone", function()
            local conv = nn.Conv2d(2, 3, 3, { stride = 2 })
            local x = lunet.randn(3, 2, 7, 7)
            local y = conv(x)
            for n = 1, 3 do
                assert.tensor_near(y[n], conv(x[n]), { atol = 1e-6, rtol = 1e-6 })
            end
        end)

        it("reads a non-contiguous input", function()
            local conv = nn.Conv2d(2, 3, { 3, 2 })
            local x = lunet.randn(1, 2, 5, 6)
            local transposed = x:transpose(3, 4)
            assert.is_false(transposed:is_contiguous())
            assert.tensor_near(conv(transposed), conv(transposed:contiguous()),
                { atol = 0, rtol = 0 })
        end)

        it("handles an empty batch", function()
            local conv = nn.Conv2d(2, 3, 3)
            local y = conv(lunet.zeros(0, 2, 5, 5))
            assert.has_shape(y, { 0, 3, 3, 3 })
        end)

        it("joins blocks of output rows", function()
            -- 64 channels of a 3x3 kernel over 64 columns split the 64
            -- output rows into more than one block of the patch matrix.
            local conv = nn.Conv2d(64, 2, 3, { padding = 1 })
            local x = lunet.randn(1, 64, 64, 64)
            local y = conv(x)
            local rows = x:narrow(3, 50, 14)
            local expected, shape = reference_conv(rows, conv.weight, conv.bias,
                { padding = { 0, 1 } })
            assert.tensor_near(y:narrow(3, 51, 12), tensor_of(expected, shape),
                { atol = 1e-4, rtol = 1e-4 })
        end)

        it("keeps NaN within the kernel's window", function()
            -- 64 channels at 56x56 take Winograd, whose tiles would spread
            -- one NaN to every output around it, and overflow on 1e38.
            lunet.manual_seed(22)
            local conv = nn.Conv2d(64, 64, 3, { padding = 1, bias = false })
            local x = lunet.zeros(1, 64, 56, 56)
            x[1][1][20][21] = 0 / 0
            local y = conv(x)
            assert.are.equal(64 * 9, y:ne(y):sum())

            local gy = lunet.zeros(1, 64, 56, 56)
            gy[1][5][30][30] = 0 / 0
            local gx = conv:backward(lunet.zeros(1, 64, 56, 56), gy)
            assert.are.equal(64 * 9, gx:ne(gx):sum())

            x[1][1][20][21] = 1e38
            y = conv(x)
            assert.are.equal(0, y:ne(y):sum() + y:abs():eq(math.huge):sum())
        end)

        it("streams a large output like a small one", function()
            -- 16 x 384 x 384 outputs (9 MiB) are stored around the caches;
            -- each half of the channels alone is below that size.
            lunet.manual_seed(21)
            local conv = nn.Conv2d(3, 16, 3, { padding = 1 })
            local x = lunet.randn(1, 3, 384, 384)
            local y = conv(x)
            for half = 0, 1 do
                local part = nn.Conv2d(3, 8, 3, { padding = 1 })
                part.weight:copy_(conv.weight:narrow(1, 8 * half + 1, 8))
                part.bias:copy_(conv.bias:narrow(1, 8 * half + 1, 8))
                assert.tensor_near(y:narrow(2, 8 * half + 1, 8), part(x),
                    { atol = 1e-6, rtol = 1e-6 })
            end
        end)
    end)

    describe("backward", function()
        local cases = {
            { name = "padding 1", args = { 2, 3, 3, { padding = 1 } }, input = { 2, 2, 4, 5 } },
            { name = "stride 2", args = { 2, 3, 3, { stride = 2, padding = 1 } },
                input = { 2, 2, 5, 6 } },
            { name = "dilation 2", args = { 2, 2, 2, { dilation = 2, padding = 1 } },
                input = { 1, 2, 5, 5 } },
            { name = "asymmetric pairs", args = { 2, 2, { 3, 2 },
                { stride = { 2, 1 }, padding = { 1, 0 }, dilation = { 1, 2 } } },
                input = { 1, 2, 6, 5 } },
            { name = "groups 2", args = { 4, 2, 3, { groups = 2, padding = 1 } },
                input = { 1, 4, 4, 4 } },
            { name = "depthwise", args = { 3, 3, 3, { groups = 3 } }, input = { 2, 3, 4, 4 } },
            { name = "1x1 kernel", args = { 3, 2, 1 }, input = { 2, 3, 3, 4 } },
            { name = "no bias", args = { 2, 2, 3, { bias = false } }, input = { 1, 2, 4, 4 } },
        }
        for _, case in ipairs(cases) do
            it("matches finite differences, " .. case.name, function()
                local conv = nn.Conv2d(table.unpack(case.args))
                local with_bias = not case.args[4] or case.args[4].bias ~= false
                gradient_check.check_layer(conv, lunet.randn(case.input), {
                    parameters = with_bias and { "weight", "bias" } or { "weight" },
                })
            end)
        end

        it("matches finite differences, unbatched", function()
            local conv = nn.Conv2d(2, 3, 3, { padding = 1, stride = 2 })
            gradient_check.check_layer(conv, lunet.randn(2, 5, 4),
                { parameters = { "weight", "bias" } })
        end)

        it("is the adjoint across row blocks", function()
            -- Convolution is linear in the input and in the weight, so
            -- <conv(x) - bias, v> equals <x, grad_input> and <weight, grad_weight>.
            local conv = nn.Conv2d(64, 3, 3, { padding = 1, stride = { 1, 2 }, bias = false })
            local x = lunet.randn(2, 64, 40, 70)
            local y = conv(x)
            local v = lunet.randn(y:size())
            local grad_input = conv:backward(x, v)
            local expected = gradient_check.dot(y:flat(), v:flat())
            local by_input = gradient_check.dot(x:flat(), grad_input:flat())
            local by_weight = gradient_check.dot(conv.weight:flat(), conv.weight.grad:flat())
            assert.is_true(math.abs(by_input - expected) <= 1e-4 * math.abs(expected) + 1e-2)
            assert.is_true(math.abs(by_weight - expected) <= 1e-4 * math.abs(expected) + 1e-2)
        end)

        it("accumulates parameter gradients", function()
            local conv = nn.Conv2d(2, 3, 3)
            local x = lunet.randn(1, 2, 4, 4)
            local v = lunet.randn(1, 3, 2, 2)
            conv:backward(x, v)
            local once = { weight = conv.weight.grad:clone(), bias = conv.bias.grad:clone() }
            conv:backward(x, v)
            for name, grad in pairs(once) do
                local doubled = {}
                for i, value in ipairs(grad:flat()) do
                    doubled[i] = 2 * value
                end
                assert.tensor_near(conv[name].grad, tensor_of(doubled, grad:size()),
                    { atol = 1e-5, rtol = 1e-5 }, name)
            end
        end)

        it("sums grad_output for the bias", function()
            local conv = nn.Conv2d(1, 2, 1)
            conv:backward(lunet.randn(3, 1, 2, 2), lunet.ones(3, 2, 2, 2))
            assert.tensor_near(conv.bias.grad, { 12, 12 })
        end)
    end)

    describe("parameters", function()
        it("lists weight and bias", function()
            local conv = nn.Conv2d(3, 4, 3)
            local parameters = conv:parameters()
            assert.are.equal(2, #parameters)
            assert.are.equal(conv.weight, parameters[1])
            assert.are.equal(conv.bias, parameters[2])
            assert.are.same({ 4, 3, 3, 3 }, conv.weight:size())
            assert.are.same({ 4 }, conv.bias:size())
        end)

        it("leaves out a disabled bias", function()
            local conv = nn.Conv2d(3, 4, 3, { bias = false })
            assert.is_nil(conv.bias)
            assert.are.equal(1, #conv:parameters())
        end)

        it("divides weight channels by groups", function()
            assert.are.same({ 6, 2, 3, 2 }, nn.Conv2d(4, 6, { 3, 2 }, { groups = 2 }).weight:size())
        end)

        it("uses a replaced weight", function()
            local conv = nn.Conv2d(2, 3, 3)
            conv.weight = lunet.zeros(3, 2, 3, 3)
            conv.bias = lunet.tensor { 1, 2, 3 }
            local y = conv(lunet.randn(1, 2, 4, 4))
            assert.tensor_near(y:select(2, 1), 1)
            assert.tensor_near(y:select(2, 3), 3)
        end)

        it("uses a weight copied in place", function()
            local conv = nn.Conv2d(1, 1, 1, { bias = false })
            conv.weight:copy_(lunet.full({ 1, 1, 1, 1 }, 3))
            assert.tensor_near(conv(lunet.ones(1, 1, 2, 2)), 3)
        end)

        it("draws the default init range", function()
            for _, args in ipairs { { 16, 32, 3 }, { 8, 16, { 5, 3 }, { groups = 4 } } } do
                local conv = nn.Conv2d(table.unpack(args))
                local kernel = pair(args[3])
                local groups = args[4] and args[4].groups or 1
                local bound = 1 / math.sqrt(args[1] / groups * kernel[1] * kernel[2])
                for _, name in ipairs { "weight", "bias" } do
                    local largest = 0
                    for _, value in ipairs(conv[name]:flat()) do
                        largest = math.max(largest, math.abs(value))
                    end
                    assert.is_true(largest <= bound, name .. " exceeds the bound")
                    assert.is_true(largest > 0.5 * bound, name .. " is far inside the bound")
                end
            end
        end)
    end)

    describe("algorithms", function()
        -- The largest absolute value of a tensor, in double.
        local function largest(t)
            local m = 0
            for _, v in ipairs(t:flat()) do
                m = math.max(m, math.abs(v))
            end
            return m
        end

        -- Near within 1e-4 of the reference's largest value: Winograd's
        -- rounding error scales with the size of the products it sums.
        local function assert_close(actual, expected, what)
            local scale = math.max(largest(expected), 1e-3)
            assert.tensor_near(actual, expected, { atol = 1e-4 * scale, rtol = 1e-4 }, what)
        end

        -- The same layer built twice, forced to GEMM and to Winograd.
        local function twins(in_channels, out_channels, padding)
            local gemm = nn.Conv2d(in_channels, out_channels, 3, { padding = padding })
            local winograd = nn.Conv2d(in_channels, out_channels, 3, { padding = padding })
            gemm:set_algorithm("gemm")
            winograd:set_algorithm("winograd")
            winograd.weight:copy_(gemm.weight)
            winograd.bias:copy_(gemm.bias)
            return gemm, winograd
        end

        local cases = {
            { name = "padding 1", channels = { 16, 20 }, input = { 2, 16, 13, 11 }, padding = 1 },
            { name = "padding 0", channels = { 17, 18 }, input = { 3, 17, 9, 14 }, padding = 0 },
            { name = "padding 2", channels = { 20, 16 }, input = { 1, 20, 7, 10 }, padding = 2 },
            { name = "padding (0, 2)", channels = { 16, 16 }, input = { 2, 16, 6, 5 },
                padding = { 0, 2 } },
            { name = "a 3x3 image", channels = { 16, 17 }, input = { 2, 16, 3, 3 }, padding = 1 },
            { name = "a wide image", channels = { 16, 16 }, input = { 1, 16, 5, 70 },
                padding = 1 },
            { name = "many output channels", channels = { 18, 150 }, input = { 1, 18, 9, 8 },
                padding = 1 },
            { name = "one input channel", channels = { 1, 4 }, input = { 5, 1, 8, 8 },
                padding = 1 },
        }
        for _, case in ipairs(cases) do
            it("agree, " .. case.name, function()
                local gemm, winograd = twins(case.channels[1], case.channels[2], case.padding)
                local x = lunet.randn(case.input)
                local y = gemm(x)
                assert_close(winograd(x), y, "output")
                local v = lunet.randn(y:size())
                assert_close(winograd:backward(x, v), gemm:backward(x, v), "grad_input")
                assert_close(winograd.weight.grad, gemm.weight.grad, "grad_weight")
                assert_close(winograd.bias.grad, gemm.bias.grad, "grad_bias")
            end)
        end

        it("keep Winograd near a double reference", function()
            local conv = nn.Conv2d(16, 16, 3, { padding = 1 }):set_algorithm("winograd")
            local x = lunet.randn(1, 16, 9, 10)
            local expected, shape = reference_conv(x, conv.weight, conv.bias, { padding = 1 })
            local reference = tensor_of(expected, shape)
            local scale = largest(reference)
            assert.tensor_near(conv(x), reference, { atol = 2e-5 * scale, rtol = 0 })
        end)

        local gemm_cases = {
            { name = "rows of 32 outputs", args = { 3, 5, 3 }, input = { 1, 3, 34, 34 } },
            { name = "many patch rows", args = { 30, 4, 3, { padding = 1 } },
                input = { 1, 30, 6, 7 } },
            { name = "many output channels", args = { 4, 150, 3, { padding = 1 } },
                input = { 1, 4, 5, 5 } },
            { name = "a 5x5 kernel", args = { 3, 6, 5, { padding = 2 } }, input = { 2, 3, 9, 8 } },
            { name = "dilation 2", args = { 3, 4, 3, { padding = 2, dilation = 2 } },
                input = { 2, 3, 8, 9 } },
        }
        for _, case in ipairs(gemm_cases) do
            it("GEMM matches a reference, " .. case.name, function()
                local options = case.args[4] or {}
                local conv = nn.Conv2d(case.args[1], case.args[2], case.args[3], options)
                conv:set_algorithm("gemm")
                local x = lunet.randn(case.input)
                local expected, shape = reference_conv(x, conv.weight, conv.bias, options)
                assert.tensor_near(conv(x), tensor_of(expected, shape),
                    { atol = 1e-4, rtol = 1e-4 })
            end)
        end

        it("sum weight gradients over a batch", function()
            -- A batch of 6 sums per sample and thread; one sample at a time
            -- splits the sums by output channel.
            local conv = nn.Conv2d(5, 7, 3, { padding = 1, bias = false }):set_algorithm("gemm")
            local x, v = lunet.randn(6, 5, 7, 6), lunet.randn(6, 7, 7, 6)
            conv:backward(x, v)
            local whole = conv.weight.grad:clone()
            conv:zero_grad()
            for n = 1, 6 do
                conv:backward(x:narrow(1, n, 1), v:narrow(1, n, 1))
            end
            assert.tensor_near(whole, conv.weight.grad, { atol = 1e-4, rtol = 1e-4 })
        end)
    end)

    describe("tostring", function()
        local cases = {
            { { 3, 64, 3, { padding = 1 } }, "Conv2d(3, 64, kernel_size=3, padding=1)" },
            { { 3, 64, 3 }, "Conv2d(3, 64, kernel_size=3)" },
            { { 3, 8, { 3, 2 }, { stride = 2, padding = { 1, 0 } } },
                "Conv2d(3, 8, kernel_size=(3, 2), stride=2, padding=(1, 0))" },
            { { 4, 8, 3, { dilation = { 2, 1 }, groups = 2, bias = false } },
                "Conv2d(4, 8, kernel_size=3, dilation=(2, 1), groups=2, bias=false)" },
            { { 4, 8, { 1, 1 }, { stride = { 1, 1 }, padding = 0 } },
                "Conv2d(4, 8, kernel_size=1)" },

        }
        for _, case in ipairs(cases) do
            it("prints " .. case[2], function()
                assert.are.equal(case[2], tostring(nn.Conv2d(table.unpack(case[1]))))
            end)
        end
    end)

    describe("errors", function()
        it("names both shapes on a channel mismatch", function()
            local conv = nn.Conv2d(3, 16, 3)
            local err = error_of(conv, lunet.zeros(1, 4, 32, 32))
            assert.matches("Conv2d: input has 4 channels but weight expects 3 (input "
                .. "1x4x32x32, weight 16x3x3x3)", err, 1, true)
        end)

        it("rejects a 2-d input", function()
            local err = error_of(nn.Conv2d(3, 4, 1), lunet.zeros(2, 3))
            assert.matches("Conv2d: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got 2x3",
                err, 1, true)
        end)

        it("rejects an input smaller than the kernel", function()
            local err = error_of(nn.Conv2d(3, 4, 3), lunet.zeros(1, 3, 2, 2))
            assert.matches("Conv2d: input 1x3x2x2 with padding 0 is smaller than the dilated "
                .. "kernel 3x3", err, 1, true)
            err = error_of(nn.Conv2d(3, 4, 3, { dilation = 2, padding = { 1, 0 } }),
                lunet.zeros(3, 4, 4))
            assert.matches("Conv2d: input 3x4x4 with padding (1, 0) is smaller than the dilated "
                .. "kernel 5x5", err, 1, true)
        end)

        it("rejects groups that do not divide", function()
            local err = error_of(nn.Conv2d, 3, 4, 3, { groups = 2 })
            assert.matches("Conv2d: groups 2 must divide in_channels 3 and out_channels 4", err,
                1, true)
            err = error_of(nn.Conv2d, 4, 6, 3, { groups = 4 })
            assert.matches("Conv2d: groups 4 must divide in_channels 4 and out_channels 6", err,
                1, true)
            err = error_of(nn.Conv2d, 4, 4, 3, { groups = 0 })
            assert.matches("Conv2d: groups must be between 1 and 2147483647, got 0", err, 1, true)
            err = error_of(nn.Conv2d, 4, 4, 3, { groups = 1.5 })
            assert.matches("Conv2d: option 'groups' must be an integer between 1 and "
                .. "2147483647, got 1.5", err, 1, true)
        end)

        it("rejects bad channel counts", function()
            local err = error_of(nn.Conv2d, 0, 4, 3)
            assert.matches("Conv2d: in_channels and out_channels must be >= 1, got "
                .. "in_channels=0, out_channels=4", err, 1, true)
            err = error_of(nn.Conv2d, 3, -1, 3)
            assert.matches("out_channels=-1", err, 1, true)
            err = error_of(nn.Conv2d, 2.5, 4, 3)
            assert.matches("Conv2d: in_channels must be an integer, got 2.5", err, 1, true)
            err = error_of(nn.Conv2d, 3, nil, 3)
            assert.matches("Conv2d: out_channels must be an integer, got nil", err, 1, true)
        end)

        it("rejects a non-positive kernel", function()
            local err = error_of(nn.Conv2d, 3, 4, 0)
            assert.matches("Conv2d: kernel_size must be between 1 and 2147483647, got 0", err,
                1, true)
            err = error_of(nn.Conv2d, 3, 4, { 3, -1 })
            assert.matches("got (3, -1)", err, 1, true)
            err = error_of(nn.Conv2d, 3, 4)
            assert.matches("Conv2d: kernel_size must be an integer or a table {h, w}, got nil",
                err, 1, true)
            err = error_of(nn.Conv2d, 3, 4, { 3, 3, 3 })
            assert.matches("Conv2d: kernel_size must be a number or a table of 2 numbers, got "
                .. "a table of 3", err, 1, true)
        end)

        it("rejects bad stride, dilation and padding", function()
            local err = error_of(nn.Conv2d, 3, 4, 3, { stride = 0 })
            assert.matches("Conv2d: stride must be >= 1, got 0", err, 1, true)
            err = error_of(nn.Conv2d, 3, 4, 3, { stride = { 1, -2 } })
            assert.matches("Conv2d: stride must be >= 1, got (1, -2)", err, 1, true)
            err = error_of(nn.Conv2d, 3, 4, 3, { dilation = 0 })
            assert.matches("Conv2d: dilation must be >= 1, got 0", err, 1, true)
            err = error_of(nn.Conv2d, 3, 4, 3, { padding = -1 })
            assert.matches("Conv2d: padding must be >= 0, got -1", err, 1, true)
            err = error_of(nn.Conv2d, 3, 4, 3, { padding = 2 ^ 40 })
            assert.matches("Conv2d: padding must be at most 2147483647", err, 1, true)
        end)

        it("rejects bad option types", function()
            local err = error_of(nn.Conv2d, 3, 4, 3, "padding")
            assert.matches("Conv2d: bad argument #4 (options table expected, got string)", err,
                1, true)
            err = error_of(nn.Conv2d, 3, 4, 3, { bias = 1 })
            assert.matches("Conv2d: option 'bias' must be a boolean, got number", err, 1, true)
            err = error_of(nn.Conv2d, 3, 4, 3, { stride = "2" })
            assert.matches("Conv2d: stride must be an integer or a table {h, w}, got string",
                err, 1, true)
        end)

        it("rejects a Winograd that cannot apply", function()
            for _, args in ipairs {
                { 3, 4, 5 }, { 3, 4, 3, { stride = 2 } }, { 3, 4, 3, { dilation = 2 } },
                { 4, 4, 3, { groups = 2 } }, { 3, 4, { 3, 1 } },
            } do
                local conv = nn.Conv2d(table.unpack(args))
                local err = error_of(conv.set_algorithm, conv, "winograd")
                assert.matches("Conv2d.set_algorithm: 'winograd' needs a 3x3 kernel with stride 1, "
                    .. "dilation 1 and groups 1", err, 1, true)
            end
            local conv = nn.Conv2d(3, 4, 3):set_algorithm("winograd")
            conv.weight = lunet.zeros(4, 3, 5, 5)
            local err = error_of(conv, lunet.zeros(1, 3, 6, 6))
            assert.matches("Conv2d: algorithm 'winograd' needs a 3x3 kernel with stride 1, "
                .. "dilation 1 and groups 1 (weight 4x3x5x5, stride 1, dilation 1, groups 1)", err,
                1, true)
        end)

        it("rejects an unknown algorithm", function()
            local conv = nn.Conv2d(3, 4, 3)
            local err = error_of(conv.set_algorithm, conv, "fft")
            assert.matches("Conv2d.set_algorithm: algorithm must be 'auto', 'gemm' or 'winograd', "
                .. "got 'fft'", err, 1, true)
            err = error_of(conv.set_algorithm, conv, 2)
            assert.matches("Conv2d.set_algorithm: bad argument #2 ('auto', 'gemm' or 'winograd' "
                .. "expected, got number)", err, 1, true)
            err = error_of(conv.set_algorithm, lunet.zeros(2), "gemm")
            assert.matches("bad argument #1 (Conv2d expected", err, 1, true)
        end)

        it("rejects a non-tensor input", function()
            local conv = nn.Conv2d(3, 4, 3)
            local err = error_of(conv, nil)
            assert.matches("Conv2d: bad argument #2 (tensor expected, got nil)", err, 1, true)
            local x = lunet.zeros(1, 3, 4, 4)
            x:close()
            err = error_of(conv.forward, conv, x)
            assert.matches("Conv2d: bad argument #2 (the tensor was closed", err, 1, true)
        end)

        it("rejects a wrong grad_output", function()
            local conv = nn.Conv2d(3, 4, 3)
            local x = lunet.zeros(1, 3, 5, 5)
            local err = error_of(conv.backward, conv, x, lunet.zeros(1, 2, 3, 3))
            assert.matches("Conv2d.backward: grad_output has shape 1x2x3x3 but the output has "
                .. "shape 1x4x3x3", err, 1, true)
            err = error_of(conv.backward, conv, x, "grad")
            assert.matches("Conv2d.backward: bad argument #3 (tensor expected, got string)", err,
                1, true)
            err = error_of(conv.backward, conv, lunet.zeros(3, 5), lunet.zeros(1, 4, 3, 3))
            assert.matches("Conv2d.backward: expected a 3-d (C, H, W) or 4-d (N, C, H, W) "
                .. "input, got 3x5", err, 1, true)
        end)

        it("rejects replaced parameters of the wrong shape", function()
            local conv = nn.Conv2d(3, 4, 3)
            local x = lunet.zeros(1, 3, 5, 5)
            conv.bias = lunet.zeros(3)
            local err = error_of(conv, x)
            assert.matches("Conv2d: bias has shape 3 but weight 4x3x3x3 needs 4 values", err, 1,
                true)
            conv.bias = nil
            conv.weight = lunet.zeros(4, 27)
            err = error_of(conv, x)
            assert.matches("Conv2d: weight must be 4-d (out_channels, in_channels / groups, kH, "
                .. "kW), got 4x27", err, 1, true)
            err = error_of(function() conv.weight = 5 end)
            assert.matches("Conv2d: field 'weight' must be a tensor, got number", err, 1, true)
            conv.weight = nil
            err = error_of(conv, x)
            assert.matches("Conv2d: the layer has no weight", err, 1, true)
        end)
    end)

    describe("PyTorch fixtures", function()
        local tensors, metadata = lunet.load("spec/fixtures/conv2d.safetensors")
        local tolerance = { rtol = 1e-4, atol = 1e-5 }
        local names = {}
        for name in pairs(metadata) do
            names[#names + 1] = name
        end
        table.sort(names)

        -- Every case runs with the automatic choice, the GEMM path and,
        -- where it applies, Winograd.
        local function algorithms_for(config)
            local list = { "auto", "gemm" }
            local function one(v)
                return v == 1 or (type(v) == "table" and v[1] == 1 and v[2] == 1)
            end
            if config.kernel_size == 3 and one(config.stride) and one(config.dilation)
                and config.groups == 1 then
                list[#list + 1] = "winograd"
            end
            return list
        end

        for _, name in ipairs(names) do
            local config = json.decode(metadata[name])
            for _, algorithm in ipairs(algorithms_for(config)) do
                it("matches case " .. name .. ", " .. algorithm, function()
                    local conv = nn.Conv2d(config.in_channels, config.out_channels,
                        config.kernel_size, {
                            stride = config.stride, padding = config.padding,
                            dilation = config.dilation, groups = config.groups, bias = config.bias,
                        }):set_algorithm(algorithm)
                    conv.weight:copy_(tensors[name .. ".weight"])
                    if config.bias then
                        conv.bias:copy_(tensors[name .. ".bias"])
                    end
                    local x = tensors[name .. ".input"]
                    assert.tensor_near(conv(x), tensors[name .. ".output"], tolerance, "output")
                    local grad_input = conv:backward(x, tensors[name .. ".grad_output"])
                    assert.tensor_near(grad_input, tensors[name .. ".grad_input"], tolerance,
                        "grad_input")
                    assert.tensor_near(conv.weight.grad, tensors[name .. ".grad_weight"],
                        tolerance, "grad_weight")
                    if config.bias then
                        assert.tensor_near(conv.bias.grad, tensors[name .. ".grad_bias"],
                            tolerance, "grad_bias")
                    end
                end)
            end
        end
    end)
end)
