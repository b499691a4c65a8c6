local lunet = require "lunet"

local NAN = 0 / 0
local INF = math.huge

-- Returns the error message of a call that must fail.
local function error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    return tostring(err)
end

local function assert_error(expected, fn, ...)
    assert.matches(expected, error_of(fn, ...), 1, true)
end

local function same_list(expected, actual)
    assert.are.equal(#expected, #actual)
    for i = 1, #expected do
        assert.are.equal(expected[i], actual[i])
    end
end

-- Compares numbers with a float32 relative tolerance; NaN matches NaN and an
-- infinity only the same infinity.
local function near_value(expected, actual, where)
    local ok
    if expected ~= expected then
        ok = actual ~= actual
    elseif expected == INF or expected == -INF then
        ok = actual == expected
    else
        ok = math.abs(actual - expected) <= 1e-6 * (1 + math.abs(expected))
    end
    if not ok then
        error(string.format("%s: expected %.9g, got %.9g", where or "value", expected, actual), 2)
    end
end

local function near_list(expected, actual)
    assert.are.equal(#expected, #actual)
    for i = 1, #expected do
        near_value(expected[i], actual[i], "element " .. i)
    end
end

-- Applies fn to every element of a flat list.
local function map(list, fn)
    local out = {}
    for i, v in ipairs(list) do
        out[i] = fn(v)
    end
    return out
end

-- Flat values of x op y for two equal-length lists.
local function zip(xs, ys, fn)
    local out = {}
    for i = 1, #xs do
        out[i] = fn(xs[i], ys[i])
    end
    return out
end

local function closed_tensor()
    local t = lunet.ones(2)
    t:close()
    return t
end

local ARITHMETIC = {
    add = function(x, y) return x + y end,
    sub = function(x, y) return x - y end,
    mul = function(x, y) return x * y end,
    div = function(x, y) return x / y end,
    pow = function(x, y) return x ^ y end,
}

local COMPARISONS = {
    eq = function(x, y) return x == y end,
    ne = function(x, y) return x ~= y end,
    lt = function(x, y) return x < y end,
    le = function(x, y) return x <= y end,
    gt = function(x, y) return x > y end,
    ge = function(x, y) return x >= y end,
}

local BINARY_NAMES = {
    "add", "sub", "mul", "div", "pow", "eq", "ne", "lt", "le", "gt", "ge", "maximum", "minimum",
}

local function tanh(x)
    if x > 20 then return 1 end
    if x < -20 then return -1 end
    local e = math.exp(2 * x)
    return (e - 1) / (e + 1)
end

local UNARY = {
    neg = function(x) return -x end,
    exp = math.exp,
    log = math.log,
    sqrt = math.sqrt,
    abs = math.abs,
    tanh = tanh,
    sigmoid = function(x) return 1 / (1 + math.exp(-x)) end,
    relu = function(x) return x < 0 and 0 or x end,
}

-- Positive values, so log and sqrt are defined too.
local POSITIVE = { 0.125, 0.5, 1, 2.5, 7 }
local MIXED = { -3, -0.75, 0, 0.25, 1.5, 4 }

describe("add", function()
    it("adds tensors of one shape", function()
        local a = lunet.tensor({ { 1, 2 }, { 3, 4 } })
        local b = lunet.tensor({ { 10, 20 }, { 30, 40 } })
        local c = lunet.add(a, b)
        same_list({ 2, 2 }, c:size())
        same_list({ 11, 22, 33, 44 }, c:flat())
    end)

    it("is also a method", function()
        local a = lunet.tensor({ 1, 2 })
        same_list({ 4, 6 }, a:add(lunet.tensor({ 3, 4 })):flat())
    end)

    it("broadcasts a row over a matrix", function()
        local a = lunet.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
        local c = lunet.add(a, lunet.tensor({ 10, 20, 30 }))
        same_list({ 2, 3 }, c:size())
        same_list({ 11, 22, 33, 14, 25, 36 }, c:flat())
    end)

    it("broadcasts a column against a row", function()
        local column = lunet.tensor({ { 1 }, { 2 } })
        local row = lunet.tensor({ { 10, 20, 30 } })
        local c = lunet.add(column, row)
        same_list({ 2, 3 }, c:size())
        same_list({ 11, 21, 31, 12, 22, 32 }, c:flat())
    end)

    it("broadcasts 0-d tensors", function()
        local t = lunet.tensor({ 1, 2, 3 })
        same_list({ 6, 7, 8 }, lunet.add(t, lunet.tensor(5)):flat())
        same_list({ 6, 7, 8 }, lunet.add(lunet.tensor(5), t):flat())
        local scalar = lunet.add(lunet.tensor(2), lunet.tensor(3))
        assert.are.equal(0, scalar:dim())
        assert.are.equal(5, scalar:item())
    end)

    it("keeps zero-size dims", function()
        same_list({ 0, 3 }, lunet.add(lunet.zeros(0, 3), lunet.ones(3)):size())
        same_list({ 2, 0 }, lunet.add(lunet.zeros(2, 0), lunet.zeros(2, 1)):size())
        same_list({ 0 }, lunet.add(lunet.zeros(0), lunet.tensor(1)):size())
        same_list({ 0 }, lunet.add(lunet.zeros(0), 1):size())
    end)

    it("accepts a number on either side", function()
        local t = lunet.tensor({ 1, 2 })
        same_list({ 3, 4 }, lunet.add(t, 2):flat())
        same_list({ 3, 4 }, lunet.add(2, t):flat())
        same_list({ 3, 4 }, t:add(2):flat())
    end)

    it("returns 0-d for two numbers", function()
        local c = lunet.add(2, 3)
        assert.are.equal(0, c:dim())
        assert.are.equal(5, c:item())
    end)

    it("scales by alpha", function()
        local a = lunet.tensor({ 1, 2 })
        local b = lunet.tensor({ 10, 20 })
        same_list({ 21, 42 }, a:add(b, 2):flat())
        same_list({ 7, 8 }, lunet.add(a, 3, 2):flat())
        same_list({ 32, 62 }, lunet.add(2, b, 3):flat())
        same_list({ 1, 2 }, lunet.add(a, lunet.tensor({ { 1 } }), 1):size())
    end)

    it("reads non-contiguous inputs", function()
        local a = lunet.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
        local b = lunet.tensor({ { 10, 20 }, { 30, 40 }, { 50, 60 } })
        same_list({ 11, 32, 53, 24, 45, 66 }, lunet.add(a, b:t()):flat())
        same_list({ 2, 8, 4, 10 }, lunet.add(a:t():narrow(1, 1, 2), a:t():narrow(1, 1, 2)):flat())
        same_list({ 1, 5, 4, 8 }, lunet.add(a:narrow(2, 1, 2), lunet.tensor({ 0, 3 })):flat())
        local expanded = lunet.tensor({ { 100 }, { 200 } }):expand(2, 3)
        same_list({ 101, 102, 103, 204, 205, 206 }, lunet.add(a, expanded):flat())
    end)

    it("splits large tensors across threads", function()
        local n = 3 * 32768 + 7
        local a = lunet.arange(n)
        local c = lunet.add(a, a)
        local values = c:flat()
        assert.are.equal(n, #values)
        for i = 1, n, 997 do
            assert.are.equal(2 * (i - 1), values[i])
        end
        assert.are.equal(2 * (n - 1), values[n])
    end)

    it("splits large strided inputs across threads", function()
        local rows, cols = 300, 400
        local m = lunet.arange(rows * cols):view(rows, cols)
        local c = lunet.add(m:t(), lunet.ones(cols, rows))
        local values = c:flat()
        for _, j in ipairs({ 1, 2, 17, cols }) do
            for _, i in ipairs({ 1, 5, rows }) do
                assert.are.equal((i - 1) * cols + (j - 1) + 1, values[(j - 1) * rows + i])
            end
        end
    end)

    it("rejects shapes that do not broadcast", function()
        assert_error("add: shapes 2x3 and 4 do not broadcast (size 3 vs 4 at dim 1 from the end)",
            lunet.add, lunet.zeros(2, 3), lunet.zeros(4))
    end)

    it("rejects a non-number alpha", function()
        assert_error("add: alpha must be a number, got string",
            lunet.add, lunet.zeros(2), lunet.zeros(2), "2")
        assert_error("sub: alpha must be a number, got table",
            lunet.sub, lunet.zeros(2), lunet.zeros(2), {})
    end)
end)

describe("arithmetic functions", function()
    local a_values = { -2, -0.5, 1, 3 }
    local b_values = { 4, 2, -0.25, 0.5 }

    for name, reference in pairs(ARITHMETIC) do
        it(name .. " matches Lua arithmetic", function()
            local a, b = lunet.tensor(a_values), lunet.tensor(b_values)
            near_list(zip(a_values, b_values, reference), lunet[name](a, b):flat())
            near_list(zip(a_values, b_values, reference), a[name](a, b):flat())
            near_list(map(a_values, function(x) return reference(x, 3) end),
                lunet[name](a, 3):flat())
            near_list(map(b_values, function(y) return reference(3, y) end),
                lunet[name](3, b):flat())
        end)
    end

    it("sub scales by alpha", function()
        local a, b = lunet.tensor({ 10, 20 }), lunet.tensor({ 1, 2 })
        same_list({ 7, 14 }, a:sub(b, 3):flat())
        same_list({ 4, 14 }, lunet.sub(a, 2, 3):flat())
    end)

    it("div follows IEEE for zero", function()
        local c = lunet.div(lunet.tensor({ 1, -1, 0 }), 0):flat()
        assert.are.equal(INF, c[1])
        assert.are.equal(-INF, c[2])
        assert.is_true(c[3] ~= c[3])
    end)

    it("pow squares negative bases", function()
        same_list({ 9, 0.25, 0, 4 }, lunet.pow(lunet.tensor({ -3, 0.5, 0, 2 }), 2):flat())
    end)

    it("pow handles special exponents", function()
        local t = lunet.tensor({ 4, 0.25, -8 })
        near_list({ 2, 0.5, NAN }, lunet.pow(t, 0.5):flat())
        same_list({ 1, 1, 1 }, lunet.pow(t, 0):flat())
        same_list({ 1 }, lunet.pow(lunet.tensor({ NAN }), 0):flat())
        near_list({ 16, 1.1892071, 1 / 256 }, lunet.pow(2, t):flat())
        near_list({ 2, 0.5, NAN }, lunet.pow(t, lunet.tensor({ 0.5, 0.5, 1 / 3 })):flat())
    end)
end)

describe("binary functions", function()
    for _, name in ipairs(BINARY_NAMES) do
        it(name .. " rejects bad arguments", function()
            local t = lunet.zeros(2, 3)
            assert_error(name .. ": bad argument #1 (tensor or number expected, got nil)",
                lunet[name], nil, t)
            assert_error(name .. ": bad argument #2 (tensor or number expected, got nil)",
                lunet[name], t, nil)
            assert_error(name .. ": bad argument #2 (tensor or number expected, got no value)",
                lunet[name], t)
            assert_error(name .. ": bad argument #2 (tensor or number expected, got string)",
                lunet[name], t, "1")
            assert_error(name .. ": bad argument #1 (tensor or number expected, got table)",
                lunet[name], { 1 }, t)
            assert_error(name .. ": bad argument #1 (tensor or number expected, got boolean)",
                lunet[name], true, 1)
        end)

        it(name .. " rejects closed tensors", function()
            local message = "the tensor was closed and cannot be used"
            assert_error(name .. ": bad argument #1 (" .. message, lunet[name], closed_tensor(), 1)
            assert_error(name .. ": bad argument #2 (" .. message, lunet[name], 1, closed_tensor())
        end)

        it(name .. " rejects unbroadcastable shapes", function()
            assert_error(name .. ": shapes 2x3 and 2 do not broadcast (size 3 vs 2 at dim 1 "
                .. "from the end)", lunet[name], lunet.zeros(2, 3), lunet.zeros(2))
            assert_error(name .. ": shapes 2x3 and 4x3x1 do not broadcast (size 2 vs 3 at dim 2 "
                .. "from the end)", lunet[name], lunet.zeros(2, 3), lunet.zeros(4, 3, 1))
        end)
    end
end)

describe("operators", function()
    it("apply with numbers on both sides", function()
        local t = lunet.tensor({ 1, 2, 4 })
        same_list({ 3, 4, 6 }, (t + 2):flat())
        same_list({ 3, 4, 6 }, (2 + t):flat())
        same_list({ -1, 0, 2 }, (t - 2):flat())
        same_list({ 1, 0, -2 }, (2 - t):flat())
        same_list({ 3, 6, 12 }, (t * 3):flat())
        same_list({ 3, 6, 12 }, (3 * t):flat())
        same_list({ 0.5, 1, 2 }, (t / 2):flat())
        same_list({ 2, 1, 0.5 }, (2 / t):flat())
        same_list({ 1, 4, 16 }, (t ^ 2):flat())
        same_list({ 2, 4, 16 }, (2 ^ t):flat())
        same_list({ -1, -2, -4 }, (-t):flat())
    end)

    it("combine tensors elementwise", function()
        local a = lunet.tensor({ { 1, 2 }, { 3, 4 } })
        local b = lunet.tensor({ 10, 100 })
        same_list({ 11, 102, 13, 104 }, (a + b):flat())
        same_list({ 9, 98, 7, 96 }, (b - a):flat())
        same_list({ 10, 200, 30, 400 }, (a * b):flat())
        same_list({ 1, 4, 9, 16 }, (a * a):flat())
        near_list({ 10, 50, 10 / 3, 25 }, (b / a):flat())
    end)

    it("leave == as identity", function()
        local t = lunet.tensor({ 1, 2 })
        local copy = t:clone()
        assert.is_true(t == t)
        assert.is_false(t == copy)
        same_list({ 1, 1 }, t:eq(copy):flat())
    end)

    it("name the function in errors", function()
        local t = lunet.zeros(2, 3)
        assert_error("add: bad argument #2 (tensor or number expected, got string)",
            function() return t + "x" end)
        assert_error("mul: bad argument #1 (tensor or number expected, got table)",
            function() return {} * t end)
        assert_error("sub: shapes 2x3 and 2 do not broadcast", function() return t - lunet.zeros(2) end)
        assert_error("pow: bad argument #2 (tensor or number expected, got boolean)",
            function() return t ^ true end)
        assert_error("div: bad argument #1 (the tensor was closed and cannot be used)",
            function() return closed_tensor() / 2 end)
        assert_error("neg: bad argument #1 (the tensor was closed and cannot be used)",
            function() return -closed_tensor() end)
    end)
end)

describe("in-place arithmetic", function()
    it("returns self", function()
        local t = lunet.tensor({ 1, 2 })
        assert.are.equal(t, t:add_(1))
        same_list({ 2, 3 }, t:flat())
    end)

    for name, reference in pairs(ARITHMETIC) do
        it(name .. "_ updates self", function()
            local values, others = { 1, 2, 4 }, { 2, 0.5, 3 }
            local t = lunet.tensor(values)
            t[name .. "_"](t, lunet.tensor(others))
            near_list(zip(values, others, reference), t:flat())
            t = lunet.tensor(values)
            t[name .. "_"](t, 2)
            near_list(map(values, function(x) return reference(x, 2) end), t:flat())
        end)
    end

    it("add_ and sub_ scale by alpha", function()
        local t = lunet.tensor({ 1, 2 })
        t:add_(lunet.tensor({ 1, 1 }), 10)
        same_list({ 11, 12 }, t:flat())
        t:sub_(lunet.tensor({ 1, 2 }), 5)
        same_list({ 6, 2 }, t:flat())
        t:add_(1, 3)
        same_list({ 9, 5 }, t:flat())
    end)

    it("broadcasts other into self", function()
        local t = lunet.zeros(2, 3)
        t:add_(lunet.tensor({ 1, 2, 3 }))
        t:mul_(lunet.tensor({ { 1 }, { 10 } }))
        same_list({ 1, 2, 3, 10, 20, 30 }, t:flat())
    end)

    it("updates the base of a view", function()
        local base = lunet.zeros(3, 4)
        base:narrow(2, 2, 2):add_(1)
        base:select(1, 3):sub_(lunet.tensor({ 1, 2, 3, 4 }))
        base:t():narrow(1, 4, 1):mul_(10)
        same_list({ 0, 1, 1, 0, 0, 1, 1, 0, -1, -1, -2, -40 }, base:flat())
    end)

    it("reads an overlapping other first", function()
        local x = lunet.tensor({ { 1, 2 }, { 3, 4 } })
        x:add_(x:select(1, 1))
        same_list({ 2, 4, 4, 6 }, x:flat())
        local y = lunet.tensor({ { 1, 2 }, { 3, 4 } })
        y:add_(y:t())
        same_list({ 2, 5, 5, 8 }, y:flat())
        local z = lunet.tensor({ 1, 2, 3 })
        z:mul_(z)
        same_list({ 1, 4, 9 }, z:flat())
    end)

    it("are methods only", function()
        for _, name in ipairs({ "add_", "sub_", "mul_", "div_", "pow_" }) do
            assert.is_nil(lunet[name])
            assert.is_function(lunet.Tensor[name])
        end
    end)

    it("reject a changed shape", function()
        local t = lunet.zeros(3)
        assert_error("add_: shapes 3 and 2x3 broadcast to 2x3, but an in-place result must "
            .. "keep the shape of self (3)", t.add_, t, lunet.zeros(2, 3))
        assert_error("mul_: shapes 3 and 2x1 broadcast to 2x3", t.mul_, t, lunet.zeros(2, 1))
        assert_error("sub_: shapes 3 and 2x3 broadcast to 2x3", t.sub_, t, lunet.zeros(2, 3), 2)
        assert_error("add_: shapes scalar and 2 broadcast to 2", t.add_, lunet.tensor(1),
            lunet.zeros(2))
    end)

    it("reject an expanded self", function()
        local t = lunet.zeros(1, 3):expand(2, 3)
        assert_error("add_: cannot write into an expanded tensor of shape 2x3", t.add_, t, 1)
        assert_error("div_: cannot write into an expanded tensor of shape 2x3", t.div_, t,
            lunet.ones(3))
    end)

    it("reject bad arguments", function()
        local t = lunet.zeros(2)
        assert_error("add_: bad argument #1 (tensor expected, got number)", t.add_, 1, t)
        assert_error("pow_: bad argument #1 (tensor expected, got nil)", t.pow_, nil, 2)
        assert_error("sub_: bad argument #2 (tensor or number expected, got nil)", t.sub_, t, nil)
        assert_error("mul_: bad argument #2 (tensor or number expected, got string)", t.mul_, t, "2")
        assert_error("div_: bad argument #1 (the tensor was closed", t.div_, closed_tensor(), 2)
        assert_error("add_: bad argument #2 (the tensor was closed", t.add_, t, closed_tensor())
        assert_error("add_: alpha must be a number, got string", t.add_, t, t, "x")
        assert_error("mul_: shapes 2 and 3 do not broadcast", t.mul_, t, lunet.zeros(3))
    end)
end)

describe("unary functions", function()
    for name, reference in pairs(UNARY) do
        local values = (name == "log" or name == "sqrt") and POSITIVE or MIXED

        it(name .. " matches the math library", function()
            local t = lunet.tensor(values)
            near_list(map(values, reference), lunet[name](t):flat())
            near_list(map(values, reference), t[name](t):flat())
        end)

        it(name .. "_ updates self", function()
            local t = lunet.tensor(values)
            assert.are.equal(t, t[name .. "_"](t))
            near_list(map(values, reference), t:flat())
            assert.is_nil(lunet[name .. "_"])
        end)

        it(name .. " reads a transposed input", function()
            local m = lunet.tensor({ { values[1], values[2] }, { values[3], values[4] } })
            near_list(map({ values[1], values[3], values[2], values[4] }, reference),
                lunet[name](m:t()):flat())
        end)

        it(name .. "_ updates the base of a view", function()
            local base = lunet.tensor({ { values[1], values[2] }, { values[3], values[4] } })
            base:t():select(1, 2)[name .. "_"](base:t():select(1, 2))
            near_list({ values[1], reference(values[2]), values[3], reference(values[4]) },
                base:flat())
        end)

        it(name .. " keeps 0-d and empty shapes", function()
            local scalar = lunet[name](lunet.tensor(values[2]))
            assert.are.equal(0, scalar:dim())
            near_value(reference(values[2]), scalar:item())
            same_list({ 2, 0 }, lunet[name](lunet.zeros(2, 0)):size())
        end)

        it(name .. " rejects bad arguments", function()
            assert_error(name .. ": bad argument #1 (tensor expected, got nil)", lunet[name], nil)
            assert_error(name .. ": bad argument #1 (tensor expected, got number)", lunet[name], 2)
            assert_error(name .. ": bad argument #1 (the tensor was closed", lunet[name],
                closed_tensor())
            local t = lunet.zeros(2)
            assert_error(name .. "_: bad argument #1 (tensor expected, got string)",
                t[name .. "_"], "x")
            local expanded = lunet.zeros(1):expand(3)
            assert_error(name .. "_: cannot write into an expanded tensor of shape 3",
                expanded[name .. "_"], expanded)
        end)
    end

    it("log of zero is -inf", function()
        same_list({ -INF }, lunet.log(lunet.tensor({ 0 })):flat())
        assert.is_true(lunet.log(lunet.tensor(-1)):item() ~= lunet.log(lunet.tensor(-1)):item())
    end)

    it("sqrt of negatives is NaN", function()
        local value = lunet.sqrt(lunet.tensor({ -1 })):flat()[1]
        assert.is_true(value ~= value)
        same_list({ INF }, lunet.sqrt(lunet.tensor({ INF })):flat())
    end)

    it("exp overflows to inf", function()
        same_list({ INF, 0, 0 }, lunet.exp(lunet.tensor({ 100, -200, -INF })):flat())
    end)

    it("sigmoid saturates without overflow", function()
        same_list({ 0, 1, 0.5, 0, 1 }, lunet.sigmoid(lunet.tensor({ -1000, 1000, 0, -INF, INF })):flat())
    end)

    it("sigmoid is precise for negatives", function()
        local value = lunet.sigmoid(lunet.tensor({ -30 })):flat()[1]
        local expected = math.exp(-30) / (1 + math.exp(-30))
        assert.is_true(math.abs(value - expected) <= 1e-6 * expected)
    end)

    it("tanh saturates", function()
        same_list({ -1, 1 }, lunet.tanh(lunet.tensor({ -1000, 1000 })):flat())
    end)

    it("propagates NaN", function()
        for name in pairs(UNARY) do
            local value = lunet[name](lunet.tensor({ NAN })):flat()[1]
            assert.is_true(value ~= value, name .. " of NaN should be NaN")
        end
    end)

    it("relu and abs keep infinities", function()
        same_list({ 0, INF }, lunet.relu(lunet.tensor({ -INF, INF })):flat())
        same_list({ INF, INF }, lunet.abs(lunet.tensor({ -INF, INF })):flat())
    end)

    it("splits large tensors across threads", function()
        local n = 2 * 32768 + 3
        local t = lunet.arange(n):sub_(n / 2)
        local values = lunet.relu(t):flat()
        for i = 1, n, 541 do
            assert.are.equal(math.max(0, i - 1 - n / 2), values[i])
        end
    end)
end)

describe("clamp", function()
    local t = lunet.tensor({ -2, -0.5, 0.5, 2 })

    it("limits both sides", function()
        same_list({ -1, -0.5, 0.5, 1 }, lunet.clamp(t, -1, 1):flat())
        same_list({ -1, -0.5, 0.5, 1 }, t:clamp(-1, 1):flat())
    end)

    it("accepts a nil bound", function()
        same_list({ -2, -0.5, 0.5, 1 }, lunet.clamp(t, nil, 1):flat())
        same_list({ 0, 0, 0.5, 2 }, lunet.clamp(t, 0):flat())
        same_list({ 0, 0, 0.5, 2 }, lunet.clamp(t, 0, nil):flat())
    end)

    it("accepts infinite bounds", function()
        same_list({ -2, -0.5, 0.5, 2 }, lunet.clamp(t, -INF, INF):flat())
        same_list({ -2, -0.5, 0, 0 }, lunet.clamp(t, -INF, 0):flat())
        same_list({ 0, 0, 0.5, 2 }, lunet.clamp(t, 0, INF):flat())
    end)

    it("keeps NaN elements", function()
        local values = lunet.clamp(lunet.tensor({ NAN, 5 }), -1, 1):flat()
        assert.is_true(values[1] ~= values[1])
        assert.are.equal(1, values[2])
    end)

    it("gives max when min exceeds max", function()
        same_list({ 0, 0, 0, 0 }, lunet.clamp(t, 1, 0):flat())
    end)

    it("reads a transposed input", function()
        local m = lunet.tensor({ { -5, 5 }, { 0.5, -0.5 } })
        same_list({ -1, 0.5, 1, -0.5 }, lunet.clamp(m:t(), -1, 1):flat())
    end)

    it("clamp_ updates self and its base", function()
        local base = lunet.tensor({ { -5, 5 }, { 0.5, -0.5 } })
        local column = base:select(2, 1)
        assert.are.equal(column, column:clamp_(0, 1))
        same_list({ 0, 5, 0.5, -0.5 }, base:flat())
        assert.is_nil(lunet.clamp_)
    end)

    it("rejects missing bounds", function()
        assert_error("clamp: min and max are both nil (expected at least one bound)",
            lunet.clamp, t)
        assert_error("clamp_: min and max are both nil", t.clamp_, t, nil, nil)
    end)

    it("rejects bad bounds", function()
        assert_error("clamp: min must be a number or nil, got string", lunet.clamp, t, "0", 1)
        assert_error("clamp: max must be a number or nil, got table", lunet.clamp, t, 0, {})
        assert_error("clamp: min is NaN (expected a number or nil)", lunet.clamp, t, NAN)
        assert_error("clamp_: max is NaN (expected a number or nil)", t.clamp_, t, 0, NAN)
    end)

    it("rejects bad tensors", function()
        assert_error("clamp: bad argument #1 (tensor expected, got nil)", lunet.clamp, nil, 0, 1)
        assert_error("clamp: bad argument #1 (tensor expected, got number)", lunet.clamp, 3, 0, 1)
        assert_error("clamp: bad argument #1 (the tensor was closed", lunet.clamp, closed_tensor(), 0)
        local expanded = lunet.zeros(1):expand(2)
        assert_error("clamp_: cannot write into an expanded tensor of shape 2", expanded.clamp_,
            expanded, 0, 1)
    end)
end)

describe("comparisons", function()
    local a_values = { 1, 2, 3, NAN }
    local b_values = { 3, 2, 1, NAN }

    for name, relation in pairs(COMPARISONS) do
        local function expected(x, y)
            return relation(x, y) and 1 or 0
        end

        it(name .. " compares two tensors", function()
            local a, b = lunet.tensor(a_values), lunet.tensor(b_values)
            same_list(zip(a_values, b_values, expected), lunet[name](a, b):flat())
            same_list(zip(a_values, b_values, expected), a[name](a, b):flat())
        end)

        it(name .. " compares with a number", function()
            local a = lunet.tensor(a_values)
            same_list(map(a_values, function(x) return expected(x, 2) end), lunet[name](a, 2):flat())
            same_list(map(a_values, function(y) return expected(2, y) end), lunet[name](2, a):flat())
        end)

        it(name .. " broadcasts", function()
            local column = lunet.tensor({ { 1 }, { 2 } })
            local row = lunet.tensor({ 1, 2, 3 })
            local result = lunet[name](column, row)
            same_list({ 2, 3 }, result:size())
            same_list({ expected(1, 1), expected(1, 2), expected(1, 3), expected(2, 1),
                expected(2, 2), expected(2, 3) }, result:flat())
        end)
    end
end)

describe("maximum and minimum", function()
    it("take elementwise extremes", function()
        local a = lunet.tensor({ 1, 5, -2 })
        local b = lunet.tensor({ 3, 4, -2 })
        same_list({ 3, 5, -2 }, lunet.maximum(a, b):flat())
        same_list({ 1, 4, -2 }, lunet.minimum(a, b):flat())
        same_list({ 3, 5, -2 }, a:maximum(b):flat())
    end)

    it("broadcast and accept numbers", function()
        local a = lunet.tensor({ { 1, 5 }, { -2, 0 } })
        same_list({ 1, 5, 0, 0 }, lunet.maximum(a, 0):flat())
        same_list({ 0, 0, -2, 0 }, lunet.minimum(0, a):flat())
        same_list({ 2, 5, 2, 3 }, lunet.maximum(a, lunet.tensor({ 2, 3 })):flat())
    end)

    it("propagate NaN from either side", function()
        local a = lunet.tensor({ NAN, 1, NAN })
        local b = lunet.tensor({ 1, NAN, NAN })
        for _, fn in ipairs({ lunet.maximum, lunet.minimum }) do
            for _, value in ipairs(fn(a, b):flat()) do
                assert.is_true(value ~= value)
            end
        end
    end)

    it("handle infinities", function()
        local a = lunet.tensor({ -INF, INF })
        same_list({ 0, INF }, lunet.maximum(a, 0):flat())
        same_list({ -INF, 0 }, lunet.minimum(a, 0):flat())
    end)
end)
