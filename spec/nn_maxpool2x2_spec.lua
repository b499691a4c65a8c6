-- VGG's MaxPool2d(2) takes a fast path; it must agree with PyTorch's rules
-- (first of equal maxima, NaN wins) on odd sizes and ceil_mode edges.
local lunet = require "lunet"
local assert = require "lunet.assertions"
local nn = lunet.nn

-- Reference in plain Lua: output values and, for grad_output g, the input
-- gradient, picking per window the first max in row-major order or the
-- last NaN.
local function reference(x, ceil_mode, g)
    local n, c, h, w = table.unpack(x:size())
    local function out_size(size)
        if ceil_mode then
            local o = math.ceil((size - 2) / 2) + 1
            if (o - 1) * 2 >= size then
                o = o - 1
            end
            return o
        end
        return (size - 2) // 2 + 1
    end
    local oh, ow = out_size(h), out_size(w)
    local input = x:totable()
    local out, grad = {}, lunet.zeros(n, c, h, w):totable()
    for a = 1, n do
        out[a] = {}
        for b = 1, c do
            out[a][b] = {}
            for i = 1, oh do
                out[a][b][i] = {}
                for j = 1, ow do
                    local best, bi, bj = -math.huge, 2 * i - 1, 2 * j - 1
                    for di = 0, 1 do
                        for dj = 0, 1 do
                            local r, s = 2 * i - 1 + di, 2 * j - 1 + dj
                            if r <= h and s <= w then
                                local v = input[a][b][r][s]
                                if v > best or v ~= v then
                                    best, bi, bj = v, r, s
                                end
                            end
                        end
                    end
                    out[a][b][i][j] = best
                    if g then
                        grad[a][b][bi][bj] = grad[a][b][bi][bj] + g[a][b][i][j]
                    end
                end
            end
        end
    end
    return out, grad
end

describe("MaxPool2d(2)", function()
    -- Widths 38 and 67 give rows of 19 and 33 windows: whole and partial
    -- blocks of 16 in the vector loops.
    local cases = { { 8, 8, false }, { 7, 9, false }, { 7, 9, true }, { 5, 2, true },
        { 4, 38, false }, { 3, 67, true } }
    for _, case in ipairs(cases) do
        local h, w, ceil_mode = case[1], case[2], case[3]
        it(string.format("matches the reference at %dx%d, ceil_mode %s", h, w,
            tostring(ceil_mode)), function()
            lunet.manual_seed(h * 10 + w)
            -- Rounded values make ties; a few NaNs test propagation.
            local x = (lunet.randn(2, 3, h, w) * 2):clamp(-2, 2)
            x = lunet.tensor((function()
                local values = x:flat()
                for k = 1, #values do
                    values[k] = math.floor(values[k] + 0.5)
                end
                values[5] = 0 / 0
                values[#values - 3] = 0 / 0
                return values
            end)()):view(2, 3, h, w)

            local pool = nn.MaxPool2d(2, { ceil_mode = ceil_mode })
            local y = pool(x)
            local g = lunet.randn(y:size())
            local expected_y, expected_grad = reference(x, ceil_mode, g:totable())
            assert.tensor_near(y, expected_y, { equal_nan = true })
            assert.tensor_near(pool:backward(x, g), expected_grad, { rtol = 1e-6, atol = 1e-6 })
        end)
    end
end)
