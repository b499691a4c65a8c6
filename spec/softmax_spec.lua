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

-- Calls fn(positions) for every slice along dim (1-based) of a row-major
-- tensor of the given shape; positions are the flat 1-based indices of the
-- slice's elements in order.
local function each_slice(shape, dim, fn)
    local stride = 1
    for d = dim + 1, #shape do
        stride = stride * shape[d]
    end
    local outer = 1
    for d = 1, dim - 1 do
        outer = outer * shape[d]
    end
    local n = shape[dim]
    for o = 0, outer - 1 do
        for inner = 0, stride - 1 do
            local positions = {}
            for k = 0, n - 1 do
                positions[k + 1] = o * n * stride + k * stride + inner + 1
            end
            fn(positions)
        end
    end
end

-- The max of a slice and the sum of exp(value - max) over it, in double.
local function max_and_exp_sum(values, positions)
    local max = -inf
    for _, p in ipairs(positions) do
        max = math.max(max, values[p])
    end
    local sum = 0
    for _, p in ipairs(positions) do
        sum = sum + math.exp(values[p] - max)
    end
    return max, sum
end

-- Softmax of flat values along dim, in double.
local function reference_softmax(values, shape, dim, log)
    local result = {}
    each_slice(shape, dim, function(positions)
        local max, sum = max_and_exp_sum(values, positions)
        for _, p in ipairs(positions) do
            result[p] = log and (values[p] - max - math.log(sum)) or math.exp(values[p] - max) / sum
        end
    end)
    return result
end

local function assert_close(expected, actual, tol, what)
    assert.are.equal(#expected, #actual)
    for i = 1, #expected do
        local e, v = expected[i], actual[i]
        -- The message is formatted only for a failing element: long rows
        -- have 150000 of them.
        if not (math.abs(e - v) <= tol * math.max(1, math.abs(e))) then
            assert.fail(string.format("%s at %d: expected %.9g, got %.9g", what or "value", i,
                e, v))
        end
    end
end

-- Sums of each row of a 2-d tensor, in double from its flat values.
local function row_sums(t)
    local rows, cols = t:size(1), t:size(2)
    local flat = t:flat()
    local sums = {}
    for r = 1, rows do
        local sum = 0
        for c = 1, cols do
            sum = sum + flat[(r - 1) * cols + c]
        end
        sums[r] = sum
    end
    return sums
end

local function random3(a, b, c, seed)
    lunet.manual_seed(seed or 11)
    return lunet.randn(a, b, c)
end

describe("softmax", function()
    it("turns a batch of logits into distributions", function()
        lunet.manual_seed(5)
        local x = lunet.randn(4, 10)
        local by_dim, by_default = lunet.softmax(x, 2), lunet.softmax(x)
        assert.are.same(by_dim:flat(), by_default:flat())
        assert.are.same({ 4, 10 }, by_default:size())
        for _, s in ipairs(row_sums(by_default)) do
            assert.are.equal("1.000000", string.format("%.6f", s))
        end
        assert.are.same(by_default:flat(), x:softmax():flat())
    end)

    it("matches a double reference", function()
        local x = random3(3, 5, 7)
        local values = x:flat()
        assert_close(reference_softmax(values, { 3, 5, 7 }, 3), x:softmax():flat(), 1e-6)
    end)

    it("works along every dim", function()
        local x = random3(3, 5, 70)
        local values = x:flat()
        for dim = 1, 3 do
            local expected = reference_softmax(values, { 3, 5, 70 }, dim)
            assert_close(expected, lunet.softmax(x, dim):flat(), 1e-6, "dim " .. dim)
            assert_close(expected, lunet.softmax(x, dim - 4):flat(), 1e-6, "dim " .. dim - 4)
        end
    end)

    it("sums rows of 2^20 to 1", function()
        lunet.manual_seed(6)
        local x = lunet.randn(2, 1 << 20)
        for _, s in ipairs(row_sums(lunet.softmax(x))) do
            assert.is_true(math.abs(s - 1) <= 1e-6, string.format("row sums to %.9g", s))
        end
    end)

    it("sums long columns to 1", function()
        lunet.manual_seed(7)
        local x = lunet.randn(1 << 18, 3)
        local p = lunet.softmax(x, 1):t():contiguous()
        for _, s in ipairs(row_sums(p)) do
            assert.is_true(math.abs(s - 1) <= 1e-6, string.format("column sums to %.9g", s))
        end
    end)

    it("handles logits near 1e4", function()
        local logits = { { 1e4, -1e4, 1e4 - 1, 1e4 - 2 }, { -1e4, -1e4 + 3, -1e4 + 1, -1e4 } }
        local x = lunet.tensor(logits)
        local expected = reference_softmax(x:flat(), { 2, 4 }, 2)
        local p = lunet.softmax(x)
        assert_close(expected, p:flat(), 1e-6)
        assert_close(expected, lunet.softmax(x:t(), 1):t():contiguous():flat(), 1e-6)
    end)

    it("handles logits near 1e36", function()
        local x = lunet.tensor{ { 1e36, -1e36, 1e36 }, { -1e36, -1e36, -1e36 }, { 3e38, -3e38, 0 } }
        local p = lunet.softmax(x):totable()
        assert.are.same({ 0.5, 0, 0.5 }, p[1])
        assert_close({ 1 / 3, 1 / 3, 1 / 3 }, p[2], 1e-7)
        assert.are.same({ 1, 0, 0 }, p[3])
        assert.are.same(p, lunet.softmax(x:t(), 1):t():totable())
    end)

    it("gives -inf entries exactly 0", function()
        local x = lunet.tensor{ { -inf, 1, 2, -inf }, { 0, -inf, 0, 0 } }
        local p = lunet.softmax(x):totable()
        assert.are.equal(0, p[1][1])
        assert.are.equal(0, p[1][4])
        assert.are.equal(0, p[2][2])
        assert_close({ 0, 1 / (1 + math.exp(1)), math.exp(1) / (1 + math.exp(1)), 0 }, p[1], 1e-6)
        assert_close({ 1 / 3, 0, 1 / 3, 1 / 3 }, p[2], 1e-6)
    end)

    it("gives NaN for an all -inf row", function()
        local x = lunet.tensor{ { -inf, -inf, -inf }, { 1, 2, 3 } }
        local p = lunet.softmax(x):totable()
        for _, v in ipairs(p[1]) do
            assert.is_true(is_nan(v))
        end
        assert.is_false(is_nan(p[2][1]))
        local column = lunet.softmax(x:t(), 1):totable()
        assert.is_true(is_nan(column[1][1]))
    end)

    it("gives NaN for NaN or +inf entries", function()
        local x = lunet.tensor{ { 1, nan, 3 }, { inf, 2, 3 }, { inf, inf, 0 }, { 1, 1, 1 } }
        local p = lunet.softmax(x):totable()
        for r = 1, 3 do
            for c = 1, 3 do
                assert.is_true(is_nan(p[r][c]), string.format("row %d column %d", r, c))
            end
        end
        assert_close({ 1 / 3, 1 / 3, 1 / 3 }, p[4], 1e-7)
    end)

    it("handles transposed and narrowed inputs", function()
        local x = random3(4, 6, 1):view(4, 6)
        local values = x:t():contiguous():flat()
        assert_close(reference_softmax(values, { 6, 4 }, 2), lunet.softmax(x:t()):flat(), 1e-6)
        local narrowed = x:narrow(2, 2, 3)
        local expected = reference_softmax(narrowed:contiguous():flat(), { 4, 3 }, 2)
        assert_close(expected, narrowed:softmax():flat(), 1e-6)
    end)

    it("handles many short rows", function()
        lunet.manual_seed(8)
        local x = lunet.randn(700, 5)
        assert_close(reference_softmax(x:flat(), { 700, 5 }, 2), x:softmax():flat(), 1e-6)
        local single = lunet.randn(300, 1):softmax():flat()
        for _, v in ipairs(single) do
            assert.are.equal(1, v)
        end
    end)

    it("gives 1 for a 0-d tensor", function()
        assert.are.equal(1, lunet.softmax(lunet.tensor(3.5)):item())
        assert.are.equal(0, lunet.softmax(lunet.tensor(3.5)):dim())
    end)

    it("keeps an empty tensor empty", function()
        assert.are.same({ 2, 0 }, lunet.softmax(lunet.zeros(2, 0)):size())
        assert.are.same({ 0, 3 }, lunet.softmax(lunet.zeros(0, 3), 1):size())
    end)

    it("does not depend on the thread count", function()
        lunet.manual_seed(9)
        local long = lunet.randn(1, 200000)
        local wide = lunet.randn(40, 30, 50)
        local threads = lunet.get_num_threads()
        lunet.set_num_threads(1)
        local one = { long:softmax():flat(), wide:softmax(2):flat(), long:logsumexp():item() }
        lunet.set_num_threads(3)
        local three = { long:softmax():flat(), wide:softmax(2):flat(), long:logsumexp():item() }
        lunet.set_num_threads(threads)
        assert.are.same(one, three)
    end)
end)

-- Rows longer than one chunk are reduced chunk by chunk, each with its own
-- running max, so special values must survive in any chunk.
describe("softmax over long rows", function()
    local N = 150000

    -- A 1xN row of randn values plus a ramp, so the max keeps growing.
    local function ramp_row()
        lunet.manual_seed(12)
        return lunet.randn(1, N) + lunet.arange(N):view(1, N) * 0.002
    end

    local function assert_all_nan(t, name)
        for i, v in ipairs(t:flat()) do
            if not is_nan(v) then
                assert.fail(string.format("%s at %d is %.9g", name, i, v))
            end
        end
    end

    it("matches a double reference when the max grows", function()
        local x = ramp_row()
        local values = x:flat()
        assert_close(reference_softmax(values, { 1, N }, 2), x:softmax():flat(), 1e-6, "softmax")
        assert_close(reference_softmax(values, { 1, N }, 2, true), x:log_softmax():flat(), 1e-5,
            "log_softmax")
        local positions = {}
        for i = 1, N do
            positions[i] = i
        end
        local max, sum = max_and_exp_sum(values, positions)
        assert_close({ max + math.log(sum) }, { x:logsumexp():item() }, 1e-6, "logsumexp")
    end)

    it("ignores -inf chunks before the max", function()
        local x = ramp_row()
        x:narrow(2, 1, N // 2):fill_(-inf)
        local p = x:softmax()
        local flat = p:flat()
        assert.are.equal(0, flat[1])
        assert.are.equal(0, flat[N // 2])
        assert.is_true(math.abs(p:sum() - 1) <= 1e-6)
        local expected = reference_softmax(x:flat(), { 1, N }, 2)
        assert_close(expected, flat, 1e-6)

        -- exp(0 - max) overflows for a max of -1e30.
        x:narrow(2, N // 2 + 1, N // 2):fill_(-1e30)
        local uniform = x:softmax():flat()
        assert.are.equal(0, uniform[1])
        assert.is_true(math.abs(uniform[N] - 2 / N) <= 1e-6 * 2 / N)
        -- log(N / 2) is far below the spacing of float32 values near 1e30.
        assert.are.equal(x[1][N], x:logsumexp():item())
    end)

    it("gives NaN for a NaN among -inf", function()
        local x = ramp_row()
        x:narrow(2, 1, N // 2):fill_(-inf)
        x[1][100] = nan
        assert_all_nan(x:softmax(), "softmax")
        assert_all_nan(x:log_softmax(), "log_softmax")
        assert.is_true(is_nan(x:logsumexp():item()))
    end)

    it("gives NaN for a +inf in a late chunk", function()
        local x = ramp_row()
        x[1][N - 5] = inf
        assert_all_nan(x:softmax(), "softmax")
        assert_all_nan(x:log_softmax(), "log_softmax")
        assert.are.equal(inf, x:logsumexp():item())
    end)

    it("gives NaN for an all -inf row", function()
        local x = lunet.full({ 1, N }, -inf)
        assert_all_nan(x:softmax(), "softmax")
        assert.are.equal(-inf, x:logsumexp():item())
    end)

    it("streams large outputs with the same bits", function()
        -- Two rows of 2^21 + 3 reach the streaming size, and the second row
        -- starts 12 bytes past a cache line.
        lunet.manual_seed(13)
        local n = (1 << 21) + 3
        local x = lunet.randn(2, n) * 4
        local p = x:softmax()
        for r = 1, 2 do
            local row = x:narrow(1, r, 1)
            assert.are.equal(0, (p:narrow(1, r, 1) - row:softmax()):abs():max())
            assert.is_true(math.abs(p:narrow(1, r, 1):sum() - 1) <= 1e-6)
        end
    end)
end)

describe("log_softmax", function()
    it("matches a double reference along every dim", function()
        local x = random3(3, 5, 70)
        local values = x:flat()
        for dim = 1, 3 do
            local expected = reference_softmax(values, { 3, 5, 70 }, dim, true)
            assert_close(expected, lunet.log_softmax(x, dim):flat(), 1e-6, "dim " .. dim)
            assert_close(expected, x:log_softmax(dim - 4):flat(), 1e-6, "dim " .. dim - 4)
        end
    end)

    it("defaults to the last dim", function()
        local x = random3(2, 3, 4)
        assert.are.same(x:log_softmax(3):flat(), x:log_softmax():flat())
    end)

    it("handles logits near 1e4 and 1e36", function()
        local x = lunet.tensor{ { 1e4, -1e4, 1e4 - 1 }, { 1e36, -1e36, 1e36 } }
        local expected = reference_softmax(x:flat(), { 2, 3 }, 2, true)
        local actual = x:log_softmax():flat()
        assert_close(expected, actual, 1e-6)
        assert.is_true(math.abs(actual[4] + math.log(2)) < 1e-6)
        assert_close(actual, lunet.log_softmax(x:t(), 1):t():contiguous():flat(), 1e-6)
    end)

    it("gives -inf for -inf entries", function()
        local p = lunet.tensor{ { -inf, 0, 0 } }:log_softmax():totable()[1]
        assert.are.equal(-inf, p[1])
        assert.is_true(math.abs(p[2] + math.log(2)) < 1e-6)
    end)

    it("gives NaN for bad rows", function()
        local p = lunet.tensor{ { -inf, -inf }, { nan, 1 }, { inf, 1 } }:log_softmax():flat()
        for _, v in ipairs(p) do
            assert.is_true(is_nan(v))
        end
    end)

    it("gives 0 for a 0-d tensor", function()
        assert.are.equal(0, lunet.log_softmax(lunet.tensor(-2)):item())
    end)
end)

describe("logsumexp", function()
    -- logsumexp of flat values along dim, in double.
    local function reference(values, shape, dim)
        local result = {}
        each_slice(shape, dim, function(positions)
            local max, sum = max_and_exp_sum(values, positions)
            result[#result + 1] = { first = positions[1], value = max + math.log(sum) }
        end)
        table.sort(result, function(a, b)
            return a.first < b.first
        end)
        local list = {}
        for i, r in ipairs(result) do
            list[i] = r.value
        end
        return list
    end

    it("matches a double reference along every dim", function()
        local x = random3(3, 5, 70)
        local values = x:flat()
        for dim = 1, 3 do
            local expected = reference(values, { 3, 5, 70 }, dim)
            assert_close(expected, lunet.logsumexp(x, dim):flat(), 1e-6, "dim " .. dim)
            assert_close(expected, x:logsumexp(dim - 4):flat(), 1e-6, "dim " .. dim - 4)
        end
    end)

    it("defaults to the last dim", function()
        local x = random3(2, 3, 4)
        assert.are.same({ 2, 3 }, x:logsumexp():size())
        assert.are.same(x:logsumexp(3):flat(), x:logsumexp():flat())
    end)

    it("keeps the dim when asked", function()
        local x = random3(2, 3, 4)
        assert.are.same({ 2, 1, 4 }, x:logsumexp(2, true):size())
        assert.are.same({ 2, 3, 1 }, x:logsumexp(nil, true):size())
        assert.are.same({ 2, 4 }, x:logsumexp(2, false):size())
    end)

    it("handles large logits", function()
        local x = lunet.tensor{ { 1e36, -1e36 }, { 1e4, 1e4 } }
        local lse = x:logsumexp():totable()
        assert.are.equal(x:flat()[1], lse[1])
        assert.is_true(math.abs(lse[2] - (1e4 + math.log(2))) < 1e-3)
    end)

    it("handles infinite and NaN entries", function()
        local x = lunet.tensor{ { -inf, -inf }, { inf, 1 }, { nan, 1 }, { -inf, 0 } }
        local lse = x:logsumexp():totable()
        assert.are.equal(-inf, lse[1])
        assert.are.equal(inf, lse[2])
        assert.is_true(is_nan(lse[3]))
        assert.are.equal(0, lse[4])
        local columns = x:t():contiguous():logsumexp(1):totable()
        assert.are.equal(-inf, columns[1])
        assert.are.equal(inf, columns[2])
        assert.is_true(is_nan(columns[3]))
    end)

    it("gives the value of a 0-d tensor", function()
        assert.are.equal(2.5, lunet.logsumexp(lunet.tensor(2.5)):item())
    end)

    it("gives -inf over an empty dim", function()
        assert.are.same({ -inf, -inf }, lunet.zeros(2, 0):logsumexp():totable())
    end)
end)

-- Central differences of loss(x) = sum(grad_output * f(x)) in double, with
-- f a softmax or log-softmax along dim computed in Lua.
local function numeric_gradient(values, shape, dim, grad_output, log)
    local function loss(v)
        local y = reference_softmax(v, shape, dim, log)
        local total = 0
        for i = 1, #y do
            total = total + grad_output[i] * y[i]
        end
        return total
    end
    local step = 1e-5
    local gradient = {}
    for i = 1, #values do
        local saved = values[i]
        values[i] = saved + step
        local up = loss(values)
        values[i] = saved - step
        local down = loss(values)
        values[i] = saved
        gradient[i] = (up - down) / (2 * step)
    end
    return gradient
end

describe("softmax_backward", function()
    it("matches finite differences along every dim", function()
        local shape = { 2, 3, 4 }
        local x = random3(2, 3, 4, 21)
        lunet.manual_seed(22)
        local grad_output = lunet.randn(2, 3, 4)
        for dim = 1, 3 do
            local y = lunet.softmax(x, dim)
            local expected = numeric_gradient(x:flat(), shape, dim, grad_output:flat(), false)
            local actual = lunet.softmax_backward(grad_output, y, dim):flat()
            assert_close(expected, actual, 1e-4, "dim " .. dim)
        end
    end)

    it("defaults to the last dim", function()
        local x = random3(3, 4, 1):view(3, 4)
        local grad_output = random3(3, 4, 1, 23):view(3, 4)
        local y = x:softmax()
        assert.are.same(lunet.softmax_backward(grad_output, y, 2):flat(),
            lunet.softmax_backward(grad_output, y):flat())
    end)

    it("accepts non-contiguous operands", function()
        local x = random3(4, 3, 1):view(4, 3)
        local grad_output = random3(3, 4, 1, 24):view(3, 4)
        local y = lunet.softmax(x:t())
        local expected = lunet.softmax_backward(grad_output, y:contiguous()):flat()
        assert_close(expected, lunet.softmax_backward(grad_output, y):flat(), 1e-7)
    end)
end)

describe("log_softmax_backward", function()
    it("matches finite differences along every dim", function()
        local shape = { 2, 3, 4 }
        local x = random3(2, 3, 4, 31)
        lunet.manual_seed(32)
        local grad_output = lunet.randn(2, 3, 4)
        for dim = 1, 3 do
            local y = lunet.log_softmax(x, dim)
            local expected = numeric_gradient(x:flat(), shape, dim, grad_output:flat(), true)
            local actual = lunet.log_softmax_backward(grad_output, y, dim - 4):flat()
            assert_close(expected, actual, 1e-4, "dim " .. dim)
        end
    end)
end)

describe("softmax functions", function()
    local forward = { "softmax", "log_softmax", "logsumexp" }
    local backward = { "softmax_backward", "log_softmax_backward" }

    it("reject a dim out of range", function()
        local x = lunet.ones(2, 3)
        for _, name in ipairs(forward) do
            assert_error(name .. ": dim 3 is out of range for a 2-d tensor (expected -2..2, "
                .. "excluding 0)", lunet[name], x, 3)
            assert_error(name .. ": dim -3 is out of range", x[name], x, -3)
            assert_error(name .. ": dim 0 is out of range", x[name], x, 0)
        end
        for _, name in ipairs(backward) do
            assert_error(name .. ": dim 3 is out of range for a 2-d tensor", lunet[name], x, x, 3)
        end
    end)

    it("reject a non-integer dim", function()
        local x = lunet.ones(2, 3)
        for _, name in ipairs(forward) do
            assert_error(name .. ": dim must be an integer, got 1.5", lunet[name], x, 1.5)
            assert_error(name .. ": dim must be an integer, got table", lunet[name], x, {})
        end
        for _, name in ipairs(backward) do
            assert_error(name .. ": dim must be an integer, got 1.5", lunet[name], x, x, 1.5)
        end
    end)

    it("reject a wrong input", function()
        for _, name in ipairs(forward) do
            assert_error(name .. ": bad argument #1 (tensor expected, got table)", lunet[name],
                { 1, 2 })
            assert_error(name .. ": bad argument #1 (tensor expected, got no value)", lunet[name])
        end
        local x = lunet.ones(2, 3)
        for _, name in ipairs(backward) do
            assert_error(name .. ": bad argument #1 (tensor expected, got number)", lunet[name],
                1, x)
            assert_error(name .. ": bad argument #2 (tensor expected, got nil)", lunet[name],
                x, nil)
        end
    end)

    it("reject a closed tensor", function()
        for _, name in ipairs(forward) do
            local x = lunet.ones(2, 3)
            x:close()
            assert_error(name .. ": bad argument #1 (the tensor was closed", lunet[name], x)
        end
        for _, name in ipairs(backward) do
            local y = lunet.ones(2, 3)
            y:close()
            assert_error(name .. ": bad argument #2 (the tensor was closed", lunet[name],
                lunet.ones(2, 3), y)
        end
    end)

    it("reject mismatched gradient shapes", function()
        for _, name in ipairs(backward) do
            assert_error(name .. ": grad_output has shape 2x3 but output has shape 3x2",
                lunet[name], lunet.ones(2, 3), lunet.ones(3, 2))
        end
    end)

    it("reject a keepdim that is not a boolean", function()
        assert_error("logsumexp: keepdim must be a boolean, got string",
            lunet.logsumexp, lunet.ones(2, 3), 1, "yes")
    end)
end)
