local lunet = require "lunet"

local nan = 0 / 0
local inf = math.huge

-- Raises unless fn(...) fails with a message containing `expected`.
local function assert_error(expected, fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    assert.matches(expected, tostring(err), 1, true)
end

local function is_nan(v)
    return v ~= v
end

-- Sum of a list in double with Neumaier's compensation: exact enough to
-- judge a float32 sum of a million values.
local function exact_sum(values)
    local sum, compensation = 0.0, 0.0
    for _, v in ipairs(values) do
        local t = sum + v
        if math.abs(sum) >= math.abs(v) then
            compensation = compensation + ((sum - t) + v)
        else
            compensation = compensation + ((v - t) + sum)
        end
        sum = t
    end
    return sum + compensation
end

-- Element (i, j, k) of a 3-d table, 1-based.
local function at3(t, index)
    return t[index[1]][index[2]][index[3]]
end

-- Reduces a nested 3-d table over dim (1..3) in double with fn(list),
-- returning the result nested like the input with that dim removed.
local function reference3(t, shape, dim, fn)
    local sizes = {}
    for d = 1, 3 do
        if d ~= dim then
            sizes[#sizes + 1] = shape[d]
        end
    end
    local result = {}
    for a = 1, sizes[1] do
        result[a] = {}
        for b = 1, sizes[2] do
            local list = {}
            for r = 1, shape[dim] do
                local index = { a, b }
                table.insert(index, dim, r)
                list[r] = at3(t, index)
            end
            result[a][b] = fn(list)
        end
    end
    return result
end

local function list_sum(list)
    return exact_sum(list)
end

local function list_max(list)
    local best, at = list[1], 1
    for i = 2, #list do
        if list[i] > best then
            best, at = list[i], i
        end
    end
    return { best, at }
end

local function assert_near_nested(expected, actual, tol)
    for a = 1, #expected do
        for b = 1, #expected[a] do
            local e, v = expected[a][b], actual[a][b]
            assert.is_true(math.abs(e - v) <= tol * math.max(1, math.abs(e)),
                string.format("at [%d][%d]: expected %.9g, got %.9g", a, b, e, v))
        end
    end
end

local SHAPE3 = { 3, 4, 5 }

local function random3()
    lunet.manual_seed(7)
    return lunet.randn(SHAPE3[1], SHAPE3[2], SHAPE3[3])
end

describe("sum", function()
    it("returns a number without a dim", function()
        local x = lunet.tensor{ { 1, 2, 3 }, { 4, 5, 6 } }
        assert.are.equal(21, x:sum())
        assert.are.equal(21, lunet.sum(x))
        assert.are.equal("number", type(x:sum()))
    end)

    it("sums 1e6 values within 1e-6", function()
        lunet.manual_seed(1)
        local x = lunet.rand(1000000)
        local exact = exact_sum(x:flat())
        assert.is_true(math.abs(x:sum() - exact) <= 1e-6 * math.abs(exact))
        local mixed = lunet.randn(1000000)
        local exact_mixed = exact_sum(mixed:flat())
        local absolute = 0
        for _, v in ipairs(mixed:flat()) do
            absolute = absolute + math.abs(v)
        end
        -- Cancelling signs: the error is judged against the sum of |x|.
        assert.is_true(math.abs(mixed:sum() - exact_mixed) <= 1e-6 * absolute)
    end)

    it("sums long rows within 1e-6", function()
        lunet.manual_seed(2)
        local x = lunet.rand(2, 600000)
        local rows = x:sum(2):totable()
        for r = 1, 2 do
            local exact = exact_sum(x[r]:flat())
            assert.is_true(math.abs(rows[r] - exact) <= 1e-6 * exact)
        end
    end)

    it("sums along every dim of a 3-d tensor", function()
        local x = random3()
        local t = x:totable()
        for dim = 1, 3 do
            local expected = reference3(t, SHAPE3, dim, list_sum)
            assert_near_nested(expected, x:sum(dim):totable(), 1e-6)
            assert_near_nested(expected, x:sum(dim - 4):totable(), 1e-6)
        end
    end)

    it("sums wide columns", function()
        lunet.manual_seed(3)
        local x = lunet.randn(300, 200)
        local t = x:totable()
        local sums = x:sum(1):totable()
        for j = 1, 200 do
            local list = {}
            for i = 1, 300 do
                list[i] = t[i][j]
            end
            assert.is_true(math.abs(sums[j] - exact_sum(list)) <= 1e-5)
        end
    end)

    it("keeps the dim when asked", function()
        local x = random3()
        assert.are.same({ 1, 4, 5 }, x:sum(1, true):size())
        assert.are.same({ 3, 1, 5 }, x:sum(2, true):size())
        assert.are.same({ 3, 4, 1 }, x:sum(-1, true):size())
        assert.are.same({ 4, 5 }, x:sum(1, false):size())
        assert.are.same({ 3, 5 }, x:sum(2):size())
    end)

    it("sums transposed and narrowed inputs", function()
        local x = lunet.tensor{ { 1, 2, 3 }, { 4, 5, 6 } }
        assert.are.same({ 6, 15 }, x:t():sum(1):totable())
        assert.are.same({ 5, 7, 9 }, x:t():sum(2):totable())
        assert.are.equal(21, x:t():sum())
        local narrowed = x:narrow(2, 2, 2)
        assert.are.same({ 5, 11 }, narrowed:sum(2):totable())
        assert.are.same({ 7, 9 }, narrowed:sum(1):totable())
        assert.are.equal(16, narrowed:sum())
    end)

    it("sums an expanded view", function()
        local x = lunet.tensor{ 1, 2, 3 }:view(1, 3):expand(4, 3)
        assert.are.equal(24, x:sum())
        assert.are.same({ 4, 8, 12 }, x:sum(1):totable())
        assert.are.same({ 6, 6, 6, 6 }, x:sum(2):totable())
    end)

    it("sums a 0-d tensor", function()
        local x = lunet.tensor(2.5)
        assert.are.equal(2.5, x:sum())
        assert.are.equal(0, x:sum(1):dim())
        assert.are.equal(2.5, x:sum(1):item())
    end)

    it("gives 0 over an empty dim", function()
        local x = lunet.zeros(3, 0)
        assert.are.same({ 0, 0, 0 }, x:sum(2):totable())
        assert.are.same({ 0 }, x:sum(1):size())
        assert.are.equal(0, x:sum())
    end)

    it("does not depend on the thread count", function()
        lunet.manual_seed(4)
        local x = lunet.randn(1 << 20)
        local columns = lunet.randn(3000, 3)
        local threads = lunet.get_num_threads()
        lunet.set_num_threads(1)
        local one = { x:sum(), columns:sum(1):totable() }
        lunet.set_num_threads(3)
        local three = { x:sum(), columns:sum(1):totable() }
        lunet.set_num_threads(threads)
        assert.are.same(one, three)
    end)
end)

describe("mean", function()
    it("returns a number without a dim", function()
        assert.are.equal(3.5, lunet.tensor{ { 1, 2, 3 }, { 4, 5, 6 } }:mean())
    end)

    it("averages along every dim", function()
        local x = random3()
        local t = x:totable()
        for dim = 1, 3 do
            local expected = reference3(t, SHAPE3, dim, function(list)
                return exact_sum(list) / #list
            end)
            assert_near_nested(expected, x:mean(dim):totable(), 1e-6)
        end
    end)

    it("gives NaN over an empty dim", function()
        local means = lunet.zeros(2, 0):mean(2):totable()
        assert.is_true(is_nan(means[1]) and is_nan(means[2]))
        assert.is_true(is_nan(lunet.zeros(0):mean()))
    end)
end)

describe("max", function()
    it("returns a number without a dim", function()
        local x = lunet.tensor{ { 1, 9, 3 }, { -4, 5, 6 } }
        assert.are.equal(9, x:max())
        assert.are.equal(-4, x:min())
        assert.are.equal(9, lunet.max(x))
    end)

    it("returns values and indices along a dim", function()
        local x = lunet.tensor{ { 1, 9, 3 }, { -4, 5, 6 } }
        local values, indices = x:max(2)
        assert.are.same({ 9, 6 }, values:totable())
        assert.are.same({ 2, 3 }, indices:totable())
        values, indices = x:min(1)
        assert.are.same({ -4, 5, 3 }, values:totable())
        assert.are.same({ 2, 2, 1 }, indices:totable())
    end)

    it("reduces every dim of a 3-d tensor", function()
        local x = random3()
        local t = x:totable()
        for dim = 1, 3 do
            local expected = reference3(t, SHAPE3, dim, list_max)
            for _, d in ipairs{ dim, dim - 4 } do
                local values, indices = x:max(d)
                values, indices = values:totable(), indices:totable()
                for a = 1, #expected do
                    for b = 1, #expected[a] do
                        assert.are.equal(expected[a][b][1], values[a][b])
                        assert.are.equal(expected[a][b][2], indices[a][b])
                    end
                end
            end
        end
    end)

    it("keeps the dim when asked", function()
        local values, indices = random3():max(2, true)
        assert.are.same({ 3, 1, 5 }, values:size())
        assert.are.same({ 3, 1, 5 }, indices:size())
    end)

    it("gives the first index of ties", function()
        local x = lunet.tensor{ { 2, 7, 7, 1, 7 }, { 3, 3, 3, 3, 3 } }
        local _, indices = x:max(2)
        assert.are.same({ 2, 1 }, indices:totable())
        _, indices = x:min(2)
        assert.are.same({ 4, 1 }, indices:totable())
        _, indices = x:t():max(1)
        assert.are.same({ 2, 1 }, indices:totable())
    end)

    it("propagates NaN with its first index", function()
        local x = lunet.tensor{ { 1, nan, 5, nan }, { inf, 2, 3, 4 }, { -inf, -inf, -inf, -inf } }
        local values, indices = x:max(2)
        values, indices = values:totable(), indices:totable()
        assert.is_true(is_nan(values[1]))
        assert.are.same({ 2, 1, 1 }, indices)
        assert.are.equal(inf, values[2])
        assert.are.equal(-inf, values[3])
        local mins, min_indices = x:min(2)
        assert.is_true(is_nan(mins:totable()[1]))
        assert.are.same({ 2, 2, 1 }, min_indices:totable())
        assert.is_true(is_nan(x:max()))
        assert.is_true(is_nan(x:min()))
    end)

    it("propagates NaN down columns", function()
        local x = lunet.zeros(5, 20)
        x[3][7] = nan
        x[4][7] = 10
        x[2][9] = nan
        x[5][9] = nan
        local values, indices = x:max(1)
        values, indices = values:totable(), indices:totable()
        assert.is_true(is_nan(values[7]) and is_nan(values[9]))
        assert.are.equal(3, indices[7])
        assert.are.equal(2, indices[9])
        assert.are.equal(1, indices[1])
    end)

    it("finds a late NaN in a long row", function()
        local x = lunet.zeros(300000)
        x[250001] = nan
        x[290000] = nan
        x[100] = 5
        assert.is_true(is_nan(x:max()))
        assert.are.equal(250001, x:argmax())
        assert.are.equal(250001, x:argmin())
        local _, index = x:view(1, 300000):max(2)
        assert.are.equal(250001, index:totable()[1])
    end)

    it("finds the first maximum of a long row", function()
        local x = lunet.zeros(3, 400000)
        x[2][123457] = 3
        x[2][300000] = 3
        x[3][399999] = -1
        local values, indices = x:max(2)
        assert.are.same({ 0, 3, 0 }, values:totable())
        assert.are.same({ 1, 123457, 1 }, indices:totable())
        local _, min_indices = x:min(2)
        assert.are.same({ 1, 1, 399999 }, min_indices:totable())
    end)

    it("reduces narrowed and transposed inputs", function()
        local x = lunet.tensor{ { 1, 9, 3 }, { -4, 5, 6 } }
        local values, indices = x:narrow(2, 2, 2):max(1)
        assert.are.same({ 9, 6 }, values:totable())
        assert.are.same({ 1, 2 }, indices:totable())
        values, indices = x:t():max(2)
        assert.are.same({ 1, 9, 6 }, values:totable())
        assert.are.same({ 1, 1, 2 }, indices:totable())
    end)

    it("reduces a 0-d tensor", function()
        local values, indices = lunet.tensor(4):max(1)
        assert.are.equal(4, values:item())
        assert.are.equal(1, indices:item())
    end)

    it("raises over an empty dim", function()
        local x = lunet.zeros(3, 0)
        assert_error("max: cannot reduce over dim 2 of size 0 (shape 3x0)", x.max, x, 2)
        assert_error("min: cannot reduce over dim 2 of size 0", x.min, x, -1)
        assert_error("argmax: cannot reduce over dim 2 of size 0 (shape 3x0)", x.argmax, x, 2)
        assert_error("max: cannot reduce a tensor with no elements (shape 3x0)", x.max, x)
        assert_error("argmin: cannot reduce a tensor with no elements", x.argmin, x)
    end)

    it("rejects dims past exact float indices", function()
        local x = lunet.zeros(1):expand(16777217)
        assert_error("max: dim 1 has 16777217 elements, but index tensors hold floats that "
            .. "are exact only up to 16777216", x.max, x, 1)
        assert_error("argmin: dim 1 has 16777217 elements", x.argmin, x, 1)
        assert.are.equal(0, x:max())
        assert.are.equal(1, x:argmax())
    end)

    it("reduces a non-empty dim of an empty tensor", function()
        local values, indices = lunet.zeros(0, 3):max(2)
        assert.are.same({ 0 }, values:size())
        assert.are.same({ 0 }, indices:size())
    end)
end)

describe("argmax", function()
    it("returns a flat 1-based integer", function()
        local x = lunet.tensor{ { 1, 9, 3 }, { -4, 5, 9 } }
        assert.are.equal(2, x:argmax())
        assert.are.equal(4, x:argmin())
        assert.is_true(math.type(x:argmax()) == "integer")
        assert.are.equal(3, x:t():argmax())
    end)

    it("returns indices along a dim", function()
        local x = lunet.tensor{ { 1, 9, 3 }, { -4, 5, 9 } }
        assert.are.same({ 2, 3 }, x:argmax(2):totable())
        assert.are.same({ 1, 1, 2 }, x:argmax(1):totable())
        assert.are.same({ 2, 2, 1 }, x:argmin(1):totable())
        assert.are.same({ 2, 1 }, x:argmax(-1, true):size())
        assert.are.same({ 2, 3 }, lunet.argmax(x, 2):totable())
    end)

    it("gives the first index of ties", function()
        assert.are.equal(2, lunet.tensor{ 0, 4, 4, 4 }:argmax())
        assert.are.equal(1, lunet.tensor{ 0, 4, 0, 4 }:argmin())
    end)
end)

describe("reductions", function()
    local functions = { "sum", "mean", "max", "min", "argmax", "argmin" }

    it("reject a wrong input", function()
        for _, name in ipairs(functions) do
            assert_error(name .. ": bad argument #1 (tensor expected, got number)", lunet[name], 3)
            assert_error(name .. ": bad argument #1 (tensor expected, got nil)", lunet[name], nil)
        end
    end)

    it("reject a closed tensor", function()
        for _, name in ipairs(functions) do
            local x = lunet.ones(2, 2)
            x:close()
            assert_error(name .. ": bad argument #1 (the tensor was closed", lunet[name], x)
        end
    end)

    it("reject a bad dim", function()
        local x = lunet.ones(2, 3)
        for _, name in ipairs(functions) do
            assert_error(name .. ": dim 3 is out of range for a 2-d tensor (expected -2..2, "
                .. "excluding 0)", x[name], x, 3)
            assert_error(name .. ": dim 0 is out of range", x[name], x, 0)
            assert_error(name .. ": dim must be an integer, got 1.5", x[name], x, 1.5)
            assert_error(name .. ": dim must be an integer, got string", x[name], x, "one")
        end
    end)

    it("reject a keepdim that is not a boolean", function()
        local x = lunet.ones(2, 3)
        for _, name in ipairs(functions) do
            assert_error(name .. ": keepdim must be a boolean, got number", x[name], x, 1, 1)
            assert_error(name .. ": keepdim needs a dim (got no dim)", x[name], x, nil, true)
        end
    end)
end)
