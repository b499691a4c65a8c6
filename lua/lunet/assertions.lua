--- luassert assertions for tensors, for busted specs of models.
--
-- `require "lunet.assertions"` registers these with luassert (the `assert`
-- of busted) and returns luassert's `assert`:
--
--     assert.is_distribution(probs, dim, tol, message)
--     assert.tensor_near(actual, expected, {rtol=, atol=, equal_nan=}, message)
--     assert.has_shape(t, {2, 10}, message)
--     assert.is_finite(t, message)
--
-- Each also works negated (`assert.is_not.distribution(...)`,
-- `assert.is_not_finite(...)`). The trailing `message` is optional and is
-- printed above the assertion's own message. A wrong argument fails the
-- assertion, negated or not, with a message that names the argument.
--
-- The checks read values through `flat()` and compute in double, so they do
-- not depend on lunet's own arithmetic.
local lunet = require "lunet"
local luassert = require "luassert"
local say = require "say"

local huge = math.huge

local DEFAULT_TOL = 1e-5
-- The defaults of PyTorch's allclose.
local DEFAULT_RTOL, DEFAULT_ATOL = 1e-5, 1e-8

-- A failing slice prints its first and last values when it is longer than
-- SHOWN_HEAD + SHOWN_TAIL.
local SHOWN_HEAD, SHOWN_TAIL = 6, 3

say:set("assertion.lunet.bad_argument", "%s: bad argument #%s (%s): %s")
say:set("assertion.distribution.positive",
    "Expected %s to be a probability distribution (non-negative, finite, "
        .. "summing to 1 within %s), but %s")
say:set("assertion.distribution.negative",
    "Expected the tensor of shape %s not to be a probability distribution along dim %s, "
        .. "but %s")
say:set("assertion.tensor_near.positive",
    "Expected the tensor to be near the expected values "
        .. "(|actual - expected| <= atol + rtol * |expected| with %s), but %s")
say:set("assertion.tensor_near.negative",
    "Expected the tensor not to be near the expected values "
        .. "(|actual - expected| <= atol + rtol * |expected| with %s), but %s")
say:set("assertion.shape.positive", "Expected a tensor of shape %s, but got shape %s")
say:set("assertion.shape.negative", "Expected a tensor whose shape is not %s, but got shape %s")
say:set("assertion.finite.positive", "Expected every element to be finite, but %s")
say:set("assertion.finite.negative",
    "Expected a tensor with a non-finite element (nan, inf or -inf), but %s")

-- Text ------------------------------------------------------------------------

local function is_finite_number(v)
    return v == v and v ~= huge and v ~= -huge
end

-- Formats a number, NaN as "nan" on every platform (C's printf may write
-- "-nan").
local function number_text(v, digits)
    if v ~= v then
        return "nan"
    elseif v == huge then
        return "inf"
    elseif v == -huge then
        return "-inf"
    end
    -- 7 significant digits are about the precision of float32.
    return string.format("%." .. (digits or 7) .. "g", v)
end

local function shape_text(shape)
    if #shape == 0 then
        return "{} (0-d)"
    end
    return table.concat(shape, "x")
end

local function index_text(index)
    return "[" .. table.concat(index, ", ") .. "]"
end

-- "the only element is", "all 3 elements are".
local function all_text(count, singular, plural)
    if count == 1 then
        return string.format("the only %s is", singular)
    end
    return string.format("all %d %s are", count, plural)
end

-- Errors print with 3 significant digits: enough to judge their size.
local function error_text(v)
    return number_text(v, 3)
end

local function values_text(values)
    local shown = {}
    local n = #values
    local summarise = n > SHOWN_HEAD + SHOWN_TAIL
    for i = 1, n do
        if not summarise or i <= SHOWN_HEAD or i > n - SHOWN_TAIL then
            shown[#shown + 1] = number_text(values[i], 5)
        elseif i == SHOWN_HEAD + 1 then
            shown[#shown + 1] = "..."
        end
    end
    local text = "[" .. table.concat(shown, ", ") .. "]"
    if summarise then
        text = text .. string.format(" (%d values)", n)
    end
    return text
end

-- Converts an integer-valued number to an integer; anything else, strings
-- included, to nil.
local function to_integer(value)
    return type(value) == "number" and math.tointeger(value) or nil
end

-- The 1-based index of the element at 1-based row-major `position`.
local function index_of(shape, position)
    local index, rest = {}, position - 1
    for d = #shape, 1, -1 do
        index[d] = rest % shape[d] + 1
        rest = rest // shape[d]
    end
    return index
end

-- Arguments -------------------------------------------------------------------

-- Marks an error raised by an argument check, so that the callback wrapper
-- can turn it into an assertion failure.
local ArgumentError = {}

local function value_text(value)
    if type(value) == "number" then
        return "number " .. number_text(value)
    elseif type(value) == "string" then
        return string.format("string %q", value)
    elseif lunet.is_tensor(value) then
        return "a tensor of shape " .. shape_text(value:size())
    end
    return type(value)
end

-- Raises the argument error "<fname>: bad argument #<position> (<name>):
-- expected <expected>, got <got>", or "...: <reason>" when `got` is nil.
local function fail_argument(fname, position, name, expected, got)
    local reason = got and string.format("expected %s, got %s", expected, got) or expected
    local message = say("assertion.lunet.bad_argument", { fname, position, name, reason })
    error(setmetatable({ message = message }, ArgumentError))
end

-- A closed tensor is still a lunet.Tensor userdata, but every method on it
-- raises.
local function is_open_tensor(value)
    return lunet.is_tensor(value) and (pcall(value.dim, value))
end

local function check_tensor(value, fname, position, name)
    if lunet.is_tensor(value) and not is_open_tensor(value) then
        fail_argument(fname, position, name, "an open tensor", "a closed tensor")
    elseif not lunet.is_tensor(value) then
        fail_argument(fname, position, name, "a tensor", value_text(value))
    end
    return value
end

local function check_dim(value, ndim, fname, position)
    local range = math.max(ndim, 1)
    if value == nil then
        return range
    end
    local dim = to_integer(value)
    if dim and dim >= 1 and dim <= range then
        return dim
    elseif dim and dim <= -1 and dim >= -range then
        return range + 1 + dim
    end
    local expected = string.format("an integer dim in -%d..%d, excluding 0, for a %d-d tensor",
        range, range, ndim)
    fail_argument(fname, position, "dim", expected, value_text(value))
end

local function check_tolerance(value, default, fname, position, name)
    if value == nil then
        return default
    elseif type(value) ~= "number" or not (value >= 0) then
        fail_argument(fname, position, name, "a number >= 0", value_text(value))
    end
    return value
end

local function set_failure_message(state, value, fname, position)
    if value == nil then
        return
    elseif type(value) ~= "string" then
        fail_argument(fname, position, "message", "a string or nil", value_text(value))
    end
    state.failure_message = value
end

-- Replaces the assertion's arguments with the strings its say template
-- formats; luassert formats arguments again unless `nofmt` lists them.
local function set_message_arguments(arguments, ...)
    for key in pairs(arguments) do
        arguments[key] = nil
    end
    arguments.n = select("#", ...)
    arguments.nofmt = {}
    for i = 1, arguments.n do
        arguments[i] = tostring((select(i, ...)))
        arguments.nofmt[i] = true
    end
end

-- Distributions ---------------------------------------------------------------

-- The slices along `dim` of a row-major `shape`. Slice (outer, inner), both
-- 0-based, contains the elements at the flat positions
-- outer * size * inner_count + k * inner_count + inner + 1 for k = 0..size-1.
local function slice_layout(shape, dim)
    local layout = { size = shape[dim], outer_count = 1, inner_count = 1 }
    for d = 1, dim - 1 do
        layout.outer_count = layout.outer_count * shape[d]
    end
    for d = dim + 1, #shape do
        layout.inner_count = layout.inner_count * shape[d]
    end
    return layout
end

local function slice_positions(layout, outer, inner)
    local positions = {}
    local first = outer * layout.size * layout.inner_count + inner + 1
    for k = 0, layout.size - 1 do
        positions[k + 1] = first + k * layout.inner_count
    end
    return positions
end

-- Returns nil for a probability distribution, otherwise what is wrong: the
-- first non-finite value, else the first negative value, else the sum.
local function slice_problem(values, positions, tol)
    local sum = 0.0
    local negative
    for _, position in ipairs(positions) do
        local v = values[position]
        if not is_finite_number(v) then
            return { kind = "non-finite", value = v, position = position }
        elseif v < 0 and not negative then
            negative = { kind = "negative", value = v, position = position }
        end
        sum = sum + v
    end
    if negative then
        negative.sum = sum
        return negative
    elseif math.abs(sum - 1) > tol then
        return { kind = "sum", sum = sum }
    end
    return nil
end

-- What a slice along `dim` is called: a row or column of a 2-d tensor,
-- otherwise a slice.
local function slice_kind(ndim, dim)
    if ndim == 2 then
        return dim == 2 and "row" or "column"
    end
    return "slice"
end

-- The 1-based index of slice (outer, inner), with 1 at `dim`.
local function slice_index(shape, dim, outer, inner)
    local index = {}
    for d = #shape, 1, -1 do
        if d > dim then
            index[d] = inner % shape[d] + 1
            inner = inner // shape[d]
        elseif d < dim then
            index[d] = outer % shape[d] + 1
            outer = outer // shape[d]
        else
            index[d] = 1
        end
    end
    return index
end

-- "row 3" for a 2-d tensor, "slice [2, :, 4]" from 3-d on. `index` is the
-- index of any element of the slice.
local function slice_name(ndim, dim, index)
    if ndim <= 1 then
        return "the tensor"
    elseif ndim == 2 then
        return slice_kind(ndim, dim) .. " " .. (dim == 2 and index[1] or index[2])
    end
    local parts = {}
    for d = 1, ndim do
        parts[d] = d == dim and ":" or tostring(index[d])
    end
    return "slice [" .. table.concat(parts, ", ") .. "]"
end

local function problem_text(problem, name, shape)
    if problem.kind == "non-finite" then
        return string.format("%s contains %s at %s", name, number_text(problem.value),
            index_text(index_of(shape, problem.position)))
    elseif problem.kind == "negative" then
        return string.format("%s contains the negative value %s at %s (and sums to %s)", name,
            number_text(problem.value), index_text(index_of(shape, problem.position)),
            number_text(problem.sum))
    end
    return string.format("%s sums to %s (off by %s)", name, number_text(problem.sum),
        error_text(math.abs(problem.sum - 1)))
end

local function distribution_failure(values, shape, dim, layout, first, bad_count)
    local ndim = #shape
    local name = slice_name(ndim, dim, slice_index(shape, dim, first.outer, first.inner))
    local slice_values = {}
    for i, position in ipairs(first.positions) do
        slice_values[i] = values[position]
    end
    local text = problem_text(first.problem, name, shape) .. ": " .. values_text(slice_values)
    if ndim >= 2 then
        local total = layout.outer_count * layout.inner_count
        local kind = slice_kind(ndim, dim)
        local verb = bad_count == 1 and "is not a probability distribution"
            or "are not probability distributions"
        text = text .. string.format("\n%d of %d %ss %s.", bad_count, total, kind, verb)
    end
    return text
end

-- Returns the first slice that is not a probability distribution (nil if
-- there is none) and the number of such slices.
local function find_bad_slices(values, layout, tol)
    local first, bad_count = nil, 0
    for outer = 0, layout.outer_count - 1 do
        for inner = 0, layout.inner_count - 1 do
            local positions = slice_positions(layout, outer, inner)
            local problem = slice_problem(values, positions, tol)
            if problem then
                bad_count = bad_count + 1
                first = first
                    or { problem = problem, positions = positions, outer = outer, inner = inner }
            end
        end
    end
    return first, bad_count
end

local function distribution_success(shape, dim, layout, tol)
    local ndim = #shape
    local tol_text = number_text(tol)
    if ndim <= 1 then
        return "it is non-negative, finite and sums to 1 within " .. tol_text
    end
    local kind = slice_kind(ndim, dim)
    local total = layout.outer_count * layout.inner_count
    if total == 0 then
        return string.format("it has no %ss, so none of them fails", kind)
    end
    local verb = total == 1 and "sums" or "sum"
    return string.format("%s non-negative, finite and %s to 1 within %s",
        all_text(total, kind, kind .. "s"), verb, tol_text)
end

local function check_distribution(state, arguments)
    local fname = "is_distribution"
    local probs = check_tensor(arguments[1], fname, 1, "probs")
    local shape = probs:size()
    local dim = check_dim(arguments[2], #shape, fname, 2)
    local tol = check_tolerance(arguments[3], DEFAULT_TOL, fname, 3, "tol")
    set_failure_message(state, arguments[4], fname, 4)

    -- A 0-d tensor is one slice of one element.
    local slice_shape = #shape == 0 and { 1 } or shape
    local layout = slice_layout(slice_shape, dim)
    local values = probs:flat()
    local first, bad_count = find_bad_slices(values, layout, tol)

    if state.mod then
        local subject = #shape <= 1 and "the tensor"
            or string.format("every %s along dim %d", slice_kind(#shape, dim), dim)
        local reason = first and distribution_failure(values, slice_shape, dim, layout, first,
            bad_count) or ""
        set_message_arguments(arguments, subject, number_text(tol), reason)
    else
        set_message_arguments(arguments, shape_text(shape), dim,
            distribution_success(shape, dim, layout, tol))
    end
    return first == nil
end

-- Closeness -------------------------------------------------------------------

local NEAR_OPTIONS = { rtol = "number", atol = "number", equal_nan = "boolean" }

local function check_near_options(value, fname, position)
    local options = { rtol = DEFAULT_RTOL, atol = DEFAULT_ATOL, equal_nan = false }
    if value == nil then
        return options
    elseif type(value) ~= "table" then
        fail_argument(fname, position, "options",
            "a table such as {rtol=1e-5, atol=1e-8, equal_nan=false} or nil", value_text(value))
    end
    for key, option in pairs(value) do
        if not NEAR_OPTIONS[key] then
            fail_argument(fname, position, "options", "only the keys rtol, atol and equal_nan",
                "the key " .. tostring(key))
        end
        if NEAR_OPTIONS[key] == "boolean" and type(option) ~= "boolean" then
            fail_argument(fname, position, "options", "equal_nan to be a boolean",
                value_text(option))
        end
        if NEAR_OPTIONS[key] == "number" then
            check_tolerance(option, nil, fname, position, "options." .. key)
        end
        options[key] = option
    end
    return options
end

-- Returns the expected values in row-major order and their shape, or nil for
-- the shape of a number, which is compared with every element. Tables and
-- numbers are rounded to float32, as lunet.tensor stores them.
local function expected_values(value, actual_numel, fname, position)
    if lunet.is_tensor(value) then
        check_tensor(value, fname, position, "expected")
        return value:flat(), value:size()
    elseif type(value) == "number" then
        local rounded = lunet.tensor(value):item()
        local values = {}
        for i = 1, actual_numel do
            values[i] = rounded
        end
        return values, nil
    elseif type(value) == "table" then
        local ok, result = pcall(lunet.tensor, value)
        if not ok then
            -- lunet.tensor's message, such as "tensor: the nested table is
            -- not rectangular: ...", without its function name.
            local reason = tostring(result):gsub("^.-tensor: ", "")
            fail_argument(fname, position, "expected", reason)
        end
        return result:flat(), result:size()
    end
    fail_argument(fname, position, "expected", "a tensor, a nested table of numbers or a number",
        value_text(value))
end

local function same_shape(a, b)
    if #a ~= #b then
        return false
    end
    for d = 1, #a do
        if a[d] ~= b[d] then
            return false
        end
    end
    return true
end

-- Returns whether `a` is near `e` and the absolute error. Equal infinities
-- are near, other infinities are not, whatever the tolerance; NaN is near
-- NaN only with equal_nan.
local function compare(a, e, options)
    if a ~= a or e ~= e then
        if a ~= a and e ~= e and options.equal_nan then
            return true, 0
        end
        return false, 0 / 0
    elseif a == e then
        return true, 0
    elseif not is_finite_number(a) or not is_finite_number(e) then
        return false, huge
    end
    local abs_error = math.abs(a - e)
    return abs_error <= options.atol + options.rtol * math.abs(e), abs_error
end

local function near_failure(worst, actual_values, expected, shape, off_count)
    local a, e = actual_values[worst.position], expected[worst.position]
    local relative = worst.error / math.abs(e)
    return string.format("%d of %d elements %s off. The worst is at %s: actual %s, "
        .. "expected %s, absolute error %s, relative error %s.",
        off_count, #actual_values, off_count == 1 and "is" or "are", index_text(index_of(shape, worst.position)),
        number_text(a), number_text(e), error_text(worst.error), error_text(relative))
end

local function check_near(state, arguments)
    local fname = "tensor_near"
    local actual = check_tensor(arguments[1], fname, 1, "actual")
    local shape = actual:size()
    local expected, expected_shape = expected_values(arguments[2], actual:numel(), fname, 2)
    local options = check_near_options(arguments[3], fname, 3)
    set_failure_message(state, arguments[4], fname, 4)

    local tolerance_text = string.format("rtol=%s, atol=%s%s", number_text(options.rtol),
        number_text(options.atol), options.equal_nan and ", equal_nan=true" or "")
    if expected_shape and not same_shape(shape, expected_shape) then
        set_message_arguments(arguments, tolerance_text, string.format(
            "its shape is %s and the expected shape is %s", shape_text(shape),
            shape_text(expected_shape)))
        return false
    end

    local values = actual:flat()
    local off_count, worst, largest = 0, nil, nil
    for position, a in ipairs(values) do
        local near, abs_error = compare(a, expected[position], options)
        if not near then
            off_count = off_count + 1
            -- Rank by how far the error exceeds the allowed error; a NaN or
            -- infinite error ranks above every finite one.
            local allowed = options.atol + options.rtol * math.abs(expected[position])
            local excess = is_finite_number(abs_error) and abs_error - allowed or huge
            if not worst or excess > worst.excess then
                worst = { position = position, error = abs_error, excess = excess }
            end
        elseif not largest or abs_error > largest.error then
            largest = { position = position, error = abs_error }
        end
    end

    if state.mod then
        local reason = worst and near_failure(worst, values, expected, shape, off_count) or ""
        set_message_arguments(arguments, tolerance_text, reason)
    else
        local reason = "the tensor has no elements"
        if largest then
            reason = string.format("%s within tolerance (max absolute error %s at %s)",
                all_text(#values, "element", "elements"), error_text(largest.error),
                index_text(index_of(shape, largest.position)))
        end
        set_message_arguments(arguments, tolerance_text, reason)
    end
    return off_count == 0
end

-- Shape and finiteness --------------------------------------------------------

local function check_shape_argument(value, fname, position)
    local expected = "a table of sizes such as {2, 10}"
    if type(value) ~= "table" or lunet.is_tensor(value) then
        fail_argument(fname, position, "shape", expected, value_text(value))
    end
    local shape = {}
    for d = 1, #value do
        local size = to_integer(value[d])
        if not size or size < 0 then
            fail_argument(fname, position, "shape", "sizes that are integers >= 0",
                value_text(value[d]) .. " at position " .. d)
        end
        shape[d] = size
    end
    return shape
end

local function check_has_shape(state, arguments)
    local fname = "has_shape"
    local t = check_tensor(arguments[1], fname, 1, "tensor")
    local expected = check_shape_argument(arguments[2], fname, 2)
    set_failure_message(state, arguments[3], fname, 3)

    local shape = t:size()
    set_message_arguments(arguments, shape_text(expected), shape_text(shape))
    return same_shape(shape, expected)
end

local function check_finite(state, arguments)
    local fname = "is_finite"
    local t = check_tensor(arguments[1], fname, 1, "tensor")
    set_failure_message(state, arguments[2], fname, 2)

    local values = t:flat()
    local first, bad_count = nil, 0
    for position, v in ipairs(values) do
        if not is_finite_number(v) then
            bad_count = bad_count + 1
            first = first or position
        end
    end

    local reason
    if first then
        reason = string.format("%d of %d elements %s not. The first is %s at %s.", bad_count,
            #values, bad_count == 1 and "is" or "are", number_text(values[first]), index_text(index_of(t:size(), first)))
    else
        reason = #values == 0 and "the tensor has no elements"
            or all_text(#values, "element", "elements") .. " finite"
    end
    set_message_arguments(arguments, reason)
    return first == nil
end

-- Registration ----------------------------------------------------------------

-- Wraps a check so that a wrong argument fails the assertion in both the
-- plain and the negated form. The failure goes through luassert's own path,
-- so busted reports it as a failure at the spec's line.
local function register(name, check)
    local function callback(state, arguments, level)
        local ok, result = pcall(check, state, arguments)
        if ok then
            return result
        elseif getmetatable(result) == ArgumentError then
            luassert(false, result.message, luassert:level(level + 1))
        end
        error(result, 0)
    end
    luassert:register("assertion", name, callback, "assertion." .. name .. ".positive",
        "assertion." .. name .. ".negative")
end

register("distribution", check_distribution)
register("tensor_near", check_near)
register("shape", check_has_shape)
register("finite", check_finite)

return luassert
