local lunet = require "lunet"
local nn = lunet.nn

local function error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok, "expected an error")
    return tostring(err)
end

describe("layer options", function()
    local cases = {
        { "Conv2d", function() return nn.Conv2d(3, 4, 3, { strid = 1 }) end,
            "Conv2d: unknown option 'strid' (expected stride, padding, dilation, groups or bias)" },
        { "Linear", function() return nn.Linear(3, 2, { bia = false }) end,
            "Linear: unknown option 'bia' (expected bias)" },
        { "MaxPool2d", function() return nn.MaxPool2d(2, { ceilmode = true }) end,
            "MaxPool2d: unknown option 'ceilmode' (expected stride, padding, dilation or ceil_mode)" },
        { "AvgPool2d", function() return nn.AvgPool2d(2, { dilation = 2 }) end,
            "AvgPool2d: unknown option 'dilation'" },
        { "BatchNorm2d", function() return nn.BatchNorm2d(3, { momentun = 0.1 }) end,
            "BatchNorm2d: unknown option 'momentun'" },
        { "BatchNorm1d", function() return nn.BatchNorm1d(3, { [1] = true }) end,
            "BatchNorm1d: option names must be strings, got number" },
        { "CrossEntropyLoss", function() return nn.CrossEntropyLoss({ smoothing = 0.1 }) end,
            "CrossEntropyLoss: unknown option 'smoothing'" },
    }
    for _, case in ipairs(cases) do
        it("rejects misspelt " .. case[1] .. " options", function()
            assert.matches(case[3], error_of(case[2]), 1, true)
        end)
    end

    it("accepts every documented option", function()
        assert.is_not_nil(nn.Conv2d(4, 4, 3, { stride = 1, padding = 1, dilation = 1, groups = 2,
            bias = false }))
        assert.is_not_nil(nn.MaxPool2d(2, { stride = 2, padding = 1, dilation = 1,
            ceil_mode = true }))
        assert.is_not_nil(nn.AvgPool2d(2, { stride = 2, padding = 1, ceil_mode = true,
            count_include_pad = false, divisor_override = 3 }))
        assert.is_not_nil(nn.BatchNorm2d(3, { eps = 1e-3, momentum = 0.2, affine = false,
            track_running_stats = true }))
        assert.is_not_nil(nn.Linear(3, 2, { bias = false }))
    end)
end)
