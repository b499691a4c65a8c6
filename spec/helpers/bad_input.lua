--- Table-driven bad-input checks.
--
-- A case describes one public function: the name its errors start with,
-- where it lives (`path`, such as "lunet.softmax" or "Tensor.add_"), how to
-- call it and one argument spec per argument:
--
--     local A = require "spec.helpers.bad_input"
--     local case = {
--         name = "softmax", path = "lunet.softmax", fn = lunet.softmax,
--         args = { A.tensor(2, 3), A.opt_dim(2) },
--         bad = { { "a 0-d input with dim 2", function() return lunet.tensor(1), 2 end,
--                   { "dim 2" } } },
--     }
--
-- An argument spec contains a generator of a valid value and the kind of the
-- argument. The kind decides the wrong values tried in its place: nil and
-- other types, non-integers, zero, negative and huge numbers, dims out of
-- range, a closed tensor. Every wrong value must raise an error that starts
-- with "name: " and names the value (one of the listed words). `bad` adds
-- whole argument lists that must fail, such as mismatched shapes.
--
-- A.check_views(case) then calls the function on non-contiguous copies of
-- its tensor arguments and expects the same result as on contiguous ones;
-- A.check_special(case) feeds zero-size and NaN/inf tensors and accepts a
-- result or an error from the function, but never a crash.
local lunet = require "lunet"
local errors = require "spec.helpers.errors"
local luassert = require "luassert"

-- Fails the running spec with message (a failure, not an error).
local function fail(message)
    luassert.is_true(false, message)
end

local A = {}

-- Wrong values -------------------------------------------------------------------

-- A value entry: a label, a maker (so that nil and fresh tensors work) and
-- the words of which the error must contain one.
local function value(label, make, names)
    return { label = label, make = make, names = names }
end

local function constant(x)
    return function()
        return x
    end
end

local function closed_tensor()
    local t = lunet.ones(2, 3)
    t:close()
    return t
end

A.closed_tensor = closed_tensor

A.NIL = value("nil", constant(nil), { "nil", "no value" })
A.STRING = value("a string", constant("text"), { "string", "text" })
A.BOOLEAN = value("a boolean", constant(true), { "boolean", "true" })
A.TABLE = value("a table", function() return {} end, { "table" })
A.FUNCTION = value("a function", constant(print), { "function" })
A.CLOSED = value("a closed tensor", closed_tensor, { "closed" })
A.NUMBER = value("a number", constant(2), { "number" })

local HUGE = 1 << 62
local HUGE_TEXT = "4611686018427387904"
local MIN_TEXT = tostring(math.mininteger)

local NON_INTEGERS = {
    value("1.5", constant(1.5), { "1.5" }),
    value("NaN", constant(0 / 0), { "nan" }),
    value("inf", constant(math.huge), { "inf" }),
    A.STRING,
    A.BOOLEAN,
    A.TABLE,
}

local function list(...)
    local result = {}
    for _, part in ipairs({ ... }) do
        for _, entry in ipairs(part) do
            result[#result + 1] = entry
        end
    end
    return result
end

local function dim_values(rank, extra)
    local range = rank + (extra or 0)
    return list({
        value("dim 0", constant(0), { "0" }),
        value("dim " .. (range + 1), constant(range + 1), { tostring(range + 1) }),
        value("dim " .. -(range + 1), constant(-(range + 1)), { tostring(-(range + 1)) }),
        value("a huge dim", constant(HUGE), { HUGE_TEXT }),
        value("the smallest integer", constant(math.mininteger), { MIN_TEXT }),
    }, NON_INTEGERS)
end

-- Argument specs -------------------------------------------------------------------

local function spec(kind, valid, wrong, optional)
    local wrong_values = {}
    for _, entry in ipairs(wrong) do
        if not (optional and entry == A.NIL) then
            wrong_values[#wrong_values + 1] = entry
        end
    end
    return { kind = kind, valid = valid, wrong = wrong_values }
end

--- A tensor of the given shape (random values); only a tensor is valid.
function A.tensor(...)
    local shape = { ... }
    return spec("tensor", function() return lunet.rand(table.unpack(shape)) end,
        { A.NIL, A.STRING, A.BOOLEAN, A.TABLE, A.FUNCTION, A.CLOSED, A.NUMBER })
end

--- A tensor or a number (elementwise operands).
function A.operand(...)
    local entry = A.tensor(...)
    entry.kind = "operand"
    entry.wrong = { A.NIL, A.STRING, A.BOOLEAN, A.TABLE, A.FUNCTION, A.CLOSED }
    return entry
end

--- A dim of a tensor of rank `rank`; `extra` widens the range (unsqueeze).
function A.dim(rank, valid, extra)
    return spec("dim", constant(valid or 1), list({ A.NIL }, dim_values(rank, extra)))
end

--- An optional dim: nil is valid.
function A.opt_dim(rank, extra)
    return spec("dim", constant(nil), dim_values(rank, extra), true)
end

-- Value entries for a list of {number, names}; names default to the
-- number's text.
local function numbers(wrong)
    local entries = {}
    for i, entry in ipairs(wrong or {}) do
        entries[i] = value(tostring(entry[1]), constant(entry[1]), entry[2] or
            { tostring(entry[1]) })
    end
    return entries
end

--- An integer; `wrong` lists further rejected integers as {value, names}.
function A.integer(valid, wrong, optional)
    return spec("integer", constant(valid), list({ A.NIL }, NON_INTEGERS, numbers(wrong)),
        optional)
end

--- A number; `wrong` lists further rejected numbers as {value, names}.
function A.number(valid, wrong, optional)
    return spec("number", constant(valid),
        list({ A.NIL, A.STRING, A.BOOLEAN, A.TABLE }, numbers(wrong)), optional)
end

--- An optional boolean.
function A.opt_boolean()
    return spec("boolean", constant(nil),
        { A.STRING, value("a number", constant(1), { "number" }), A.TABLE }, true)
end

--- An optional options table; `wrong` lists rejected tables as
-- {label, table, names}.
function A.options(wrong)
    local entries = { A.STRING, value("a number", constant(5), { "number" }), A.BOOLEAN }
    for _, entry in ipairs(wrong or {}) do
        local options = entry[2]
        entries[#entries + 1] = value(entry[1], constant(options), entry[3])
    end
    return spec("options", constant(nil), entries, true)
end

--- The argument spec arg where a table is another form of the arguments
-- (permute({2, 1})): an empty table must raise an error naming one of names.
function A.table_form(arg, names)
    local copy = { kind = arg.kind, valid = arg.valid, wrong = {} }
    for i, entry in ipairs(arg.wrong) do
        copy.wrong[i] = entry == A.TABLE and value("an empty table", entry.make, names) or entry
    end
    return copy
end

--- Any value: nothing is wrong (is_tensor, Identity).
function A.any(valid)
    return spec("any", constant(valid), {})
end

--- A fixed valid value with explicit wrong entries {label, value, names}.
function A.custom(valid, wrong)
    local entries = {}
    for i, entry in ipairs(wrong) do
        local x = entry[2]
        entries[i] = value(entry[1], type(x) == "function" and x or constant(x), entry[3])
    end
    return spec("custom", type(valid) == "function" and valid or constant(valid), entries)
end

-- Running ------------------------------------------------------------------------

local function valid_arguments(case)
    local args = {}
    for i, arg in ipairs(case.args) do
        args[i] = arg.valid()
    end
    return args
end

-- Returns nil when message starts with "name: " and contains one of names,
-- otherwise a description of what is wrong.
local function problem(case, message, names)
    message = errors.message(message)
    local prefix = case.name .. ": "
    if message:sub(1, #prefix) ~= prefix then
        return string.format("the error does not start with %q: %q", prefix, message)
    end
    if not names or #names == 0 then
        return nil
    end
    for _, name in ipairs(names) do
        if message:find(name, 1, true) then
            return nil
        end
    end
    return string.format("the error names none of %s: %q", table.concat(names, ", "), message)
end

--- Checks that the interpreter still works: a small computation gives the
-- right result.
function A.sanity()
    local t = lunet.ones(2, 3)
    luassert.are.equal(6, t:sum())
    luassert.are.equal(3, lunet.matmul(t, lunet.ones(3)):totable()[1])
end

-- Calls case.fn with the n values of args and appends to problems what is
-- wrong with the outcome: no error when one was expected (names given), or an
-- error without the case's prefix or without one of names.
local function record(problems, case, label, args, n, names)
    local ok, err = pcall(case.fn, table.unpack(args, 1, n))
    local p
    if ok then
        p = names and "no error" or nil
    else
        p = problem(case, err, names)
    end
    if p then
        problems[#problems + 1] = label .. ": " .. p
    end
end

-- Fails the spec listing problems, after checking the interpreter still
-- works.
local function report(case, problems)
    A.sanity()
    if #problems > 0 then
        fail(case.path .. ":\n  " .. table.concat(problems, "\n  "))
    end
end

--- Checks every wrong value of every argument, then the case's `bad`
-- argument lists; fails once, listing every problem found.
function A.check_case(case)
    local problems = {}
    local n = #case.args
    for i, arg in ipairs(case.args) do
        for _, wrong in ipairs(arg.wrong) do
            local args = valid_arguments(case)
            args[i] = wrong.make()
            record(problems, case, string.format("argument %d = %s", i, wrong.label), args,
                math.max(n, i), wrong.names)
        end
    end
    for _, entry in ipairs(case.bad or {}) do
        local args = table.pack(entry[2]())
        record(problems, case, entry[1], args, args.n, entry[3] or {})
    end
    report(case, problems)
end

-- Views and special values --------------------------------------------------------

-- A non-contiguous tensor equal to t: t copied into a strided view (every
-- other element of the last dim of a twice-as-wide tensor).
function A.strided_copy(t)
    if t:dim() == 0 or t:numel() == 0 then
        return t:clone()
    end
    local shape = t:size()
    shape[#shape] = 2 * shape[#shape]
    local pairs_shape = t:size()
    pairs_shape[#pairs_shape + 1] = 2
    local view = lunet.full(shape, -7):view(pairs_shape):select(-1, 1)
    view:copy_(t)
    return view
end

-- A copy of value for comparison, with every tensor (also inside tables,
-- such as an optimizer's parameters) replaced by {shape, values}.
local function snapshot(value, seen)
    if lunet.is_tensor(value) then
        return { value:size(), value:flat() }
    end
    if type(value) ~= "table" then
        return value
    end
    seen = seen or {}
    if seen[value] then
        return "(cycle)"
    end
    seen[value] = true
    local copy = {}
    for key, item in pairs(value) do
        copy[key] = snapshot(item, seen)
    end
    seen[value] = nil
    return copy
end

--- Calls case.fn on the valid arguments and on non-contiguous copies of
-- every tensor argument, expecting the same results. Methods that write
-- into an argument (case.inplace) compare that argument afterwards too.
function A.check_views(case)
    local args = valid_arguments(case)
    local n = #case.args
    local contiguous, strided = {}, {}
    local has_tensor = false
    for i = 1, n do
        local x = args[i]
        if lunet.is_tensor(x) and x:dim() > 0 and x:numel() > 0 then
            contiguous[i] = x:clone()
            strided[i] = A.strided_copy(x)
            has_tensor = true
        else
            contiguous[i], strided[i] = x, x
        end
    end
    if not has_tensor then
        return
    end
    local seed = 1234
    lunet.manual_seed(seed)
    local expected = table.pack(pcall(case.fn, table.unpack(contiguous, 1, n)))
    lunet.manual_seed(seed)
    local actual = table.pack(pcall(case.fn, table.unpack(strided, 1, n)))
    luassert.is_true(expected[1], case.path .. " failed on valid arguments: "
        .. tostring(expected[2]))
    luassert.is_true(actual[1], case.path .. " failed on non-contiguous arguments: "
        .. tostring(actual[2]))
    luassert.are.same(snapshot(expected), snapshot(actual), case.path
        .. " differs on non-contiguous arguments")
    for i = 1, n do
        if lunet.is_tensor(contiguous[i]) and contiguous[i]:dim() > 0 then
            luassert.are.same(contiguous[i]:flat(), strided[i]:flat(), case.path
                .. " left argument " .. i .. " different on non-contiguous arguments")
        end
    end
end

-- The tensor arguments replaced by make(x) for each tensor x.
local function with_tensors(case, make)
    local args = valid_arguments(case)
    for i = 1, #case.args do
        if lunet.is_tensor(args[i]) then
            args[i] = make(args[i])
        end
    end
    return args
end

-- Zero-size: the first dim of every tensor argument (of rank >= 1) set to 0.
local function zero_size(x)
    if x:dim() == 0 then
        return x
    end
    local shape = x:size()
    shape[1] = 0
    return lunet.zeros(shape)
end

-- NaN, inf and -inf in the first elements of a copy.
local function non_finite(x)
    local y = x:clone()
    local flat = y:view(-1)
    local specials = { 0 / 0, math.huge, -math.huge }
    for i = 1, math.min(#specials, flat:numel()) do
        flat[i] = specials[i]
    end
    return y
end

--- Feeds zero-size and NaN/inf tensors: each call must return or raise an
-- error starting with the case's name; the interpreter keeps working.
function A.check_special(case)
    local problems = {}
    for label, make in pairs({ ["zero-size"] = zero_size, ["NaN and inf"] = non_finite }) do
        record(problems, case, label, with_tensors(case, make), #case.args, nil)
    end
    report(case, problems)
end

--- Registers the three checks of every case as busted tests; `it` is the
-- spec file's own (busted gives each file its environment).
function A.describe_cases(cases, it)
    for _, case in ipairs(cases) do
        it(case.path .. " rejects bad arguments", function()
            A.check_case(case)
        end)
        if case.views ~= false then
            it(case.path .. " treats views like copies", function()
                A.check_views(case)
            end)
        end
        if case.special ~= false then
            it(case.path .. " survives empty and NaN inputs", function()
                A.check_special(case)
            end)
        end
    end
end

return A
