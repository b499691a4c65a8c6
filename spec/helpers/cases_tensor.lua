--- Bad-input cases of the tensor functions: `lunet.<name>` and the tensor
-- methods (`lunet.Tensor.<name>`). See spec/helpers/bad_input.lua for the
-- case format; spec/bad_input_tensor_spec.lua runs them.
local lunet = require "lunet"
local A = require "spec.helpers.bad_input"

local HUGE = 1 << 62
local HUGE_TEXT = "4611686018427387904"

local x23 = A.tensor(2, 3)

local function t23()
    return lunet.rand(2, 3)
end

-- A size of a shape; `infer` admits -1.
local function size(valid, infer)
    local wrong = {
        { "size -2", -2, { "-2" } },
        { "size 1.5", 1.5, { "1.5" } },
        { "a NaN size", 0 / 0, { "nan" } },
        { "an infinite size", math.huge, { "inf" } },
        { "a huge size", HUGE, { HUGE_TEXT } },
        { "a string size", "text", { "string" } },
        { "a boolean size", true, { "boolean" } },
        { "a nil size", nil, { "nil" } },
    }
    if not infer then
        wrong[#wrong + 1] = { "size -1", -1, { "-1" } }
    end
    return A.custom(valid, wrong)
end

local function nine_sizes()
    return 1, 1, 1, 1, 1, 1, 1, 1, 1
end

-- Cases of a function of a shape: f(2, 3, ...) and f({2, 3}, ...).
local function shape_case(name, fn, after)
    local args = { size(2), size(3) }
    for _, arg in ipairs(after or {}) do
        args[#args + 1] = arg
    end
    local tail = {}
    for i, arg in ipairs(after or {}) do
        tail[i] = arg.valid()
    end
    return {
        name = name, path = "lunet." .. name, fn = fn, args = args,
        bad = {
            { "nine sizes", function() return 1, 1, 1, 1, 1, 1, 1, 1, 1, table.unpack(tail) end,
                { "8" } },
            { "nine sizes in a table", function() return { nine_sizes() }, table.unpack(tail) end,
                { "8" } },
            { "a negative size in a table", function() return { 2, -1 }, table.unpack(tail) end,
                { "-1" } },
            { "a string in a table", function() return { 2, "x" }, table.unpack(tail) end,
                { "string" } },
            { "sizes overflowing 64 bits", function()
                return 1 << 40, 1 << 40, table.unpack(tail)
            end, { "overflows" } },
            { "a table then sizes", function() return { 2 }, 3, table.unpack(tail) end,
                { "table" } },
        },
    }
end

local function binary_case(name)
    return {
        name = name, path = "lunet." .. name, fn = lunet[name],
        args = { A.operand(2, 3), A.operand(2, 3) },
        bad = {
            { "non-broadcastable shapes", function() return t23(), lunet.rand(4) end,
                { "2x3", "4" } },
        },
    }
end

local function scaled_case(name, path, fn)
    return {
        name = name, path = path, fn = fn,
        args = { path:find("Tensor") and x23 or A.operand(2, 3), A.operand(2, 3),
            A.number(2, nil, true) },
        bad = {
            { "non-broadcastable shapes", function() return t23(), lunet.rand(4) end,
                { "2x3", "4" } },
        },
    }
end

local function inplace_case(name)
    return {
        name = name, path = "Tensor." .. name, fn = lunet.Tensor[name], inplace = true,
        args = { x23, A.operand(2, 3) },
        bad = {
            { "a result that grows self", function() return lunet.rand(1, 3), t23() end,
                { "1x3", "2x3" } },
            { "non-broadcastable shapes", function() return t23(), lunet.rand(4) end,
                { "2x3", "4" } },
        },
    }
end

local function unary_case(name, path)
    return { name = name, path = path, fn = path:find("Tensor") and lunet.Tensor[name]
        or lunet[name], args = { x23 } }
end

-- logsumexp reduces the last dim when none is given; the others reduce
-- everything and then reject keepdim.
local function reduce_case(name)
    local case = {
        name = name, path = "lunet." .. name, fn = lunet[name],
        args = { x23, A.opt_dim(2), A.opt_boolean() },
        bad = {
            { "keepdim without a dim", function() return t23(), nil, true end, { "keepdim" } },
        },
    }
    if name == "logsumexp" then
        case.bad = nil
    end
    return case
end

local function softmax_backward_case(name)
    return {
        name = name, path = "lunet." .. name, fn = lunet[name],
        args = { x23, x23, A.opt_dim(2) },
        bad = {
            { "mismatched shapes", function() return lunet.rand(3, 2), t23() end,
                { "3x2", "2x3" } },
        },
    }
end

local function clamp_case(name, path)
    local bound = function(valid)
        return A.custom(valid, {
            { "a string bound", "text", { "string" } },
            { "a boolean bound", true, { "boolean" } },
            { "a table bound", {}, { "table" } },
            { "a NaN bound", 0 / 0, { "NaN" } },
        })
    end
    return {
        name = name, path = path, fn = path:find("Tensor") and lunet.Tensor[name]
            or lunet[name],
        args = { x23, bound(0.2), bound(0.8) },
        bad = { { "no bound", function() return t23() end, { "nil" } } },
    }
end

local function view_case(name)
    return {
        name = name, path = "lunet." .. name, fn = lunet[name],
        views = name == "reshape",
        args = { x23, size(3, true), size(2, true) },
        bad = {
            { "a shape of another element count", function() return t23(), 4, 2 end,
                { "8", "6" } },
            { "two inferred sizes", function() return t23(), -1, -1 end, { "-1" } },
            { "an inferred size that does not divide", function() return t23(), -1, 4 end,
                { "4" } },
            { "sizes overflowing 64 bits", function() return t23(), 1 << 40, 1 << 40 end,
                { "overflow" } },
        },
    }
end

local cases = {
    {
        name = "tensor", path = "lunet.tensor", fn = lunet.tensor,
        args = { A.custom(function() return { { 1, 2 }, { 3, 4 } } end, {
            { "nil", nil, { "nil", "no value" } },
            { "a string", "text", { "string" } },
            { "a boolean", true, { "boolean" } },
            { "a closed tensor", A.closed_tensor, { "closed" } },
            { "a ragged table", { { 1, 2 }, { 3 } }, { "[2]", "length 1" } },
            { "a string element", { 1, "a" }, { "[2]" } },
            { "a table where a number belongs", { { 1, 2 }, { 3, { 4 } } }, { "[2][2]" } },
            { "nine levels of nesting", { { { { { { { { { 1 } } } } } } } } }, { "8" } },
        }) },
    },
    shape_case("zeros", lunet.zeros),
    shape_case("ones", lunet.ones),
    shape_case("empty", lunet.empty),
    shape_case("rand", lunet.rand),
    shape_case("randn", lunet.randn),
    shape_case("full", lunet.full, { A.number(1.5) }),
    {
        name = "arange", path = "lunet.arange", fn = lunet.arange,
        args = {
            A.number(0, { { 0 / 0, { "nan" } }, { math.huge, { "inf" } } }),
            A.number(5, { { 0 / 0, { "nan" } }, { -math.huge, { "inf" } } }, true),
            A.number(1, { { 0, { "step" } }, { -1, { "-1" } }, { 0 / 0, { "nan" } } }, true),
        },
        bad = {
            { "too many elements", function() return 0, 1e300, 1e-300 end, { "too many" } },
            { "a step away from the end", function() return 5, 0 end, { "step" } },
        },
    },
    {
        name = "manual_seed", path = "lunet.manual_seed", fn = lunet.manual_seed,
        args = { A.integer(7) },
    },
    {
        name = "set_num_threads", path = "lunet.set_num_threads", fn = lunet.set_num_threads,
        args = { A.integer(lunet.get_num_threads(), { { 0 }, { -1 }, { 100000 } }) },
    },
    { name = "get_num_threads", path = "lunet.get_num_threads", fn = lunet.get_num_threads,
        args = {} },
    { name = "empty_cache", path = "lunet.empty_cache", fn = lunet.empty_cache, args = {} },
    { name = "config", path = "lunet.config", fn = lunet.config, args = {} },
    { name = "time", path = "lunet.time", fn = lunet.time, args = {} },
    { name = "is_tensor", path = "lunet.is_tensor", fn = lunet.is_tensor, args = { A.any(1) } },

    -- Inspection.
    { name = "size", path = "lunet.size", fn = lunet.size, args = { x23, A.opt_dim(2) } },
    { name = "stride", path = "lunet.stride", fn = lunet.stride, views = false,
        args = { x23, A.opt_dim(2) } },
    { name = "dim", path = "lunet.dim", fn = lunet.dim, args = { x23 } },
    { name = "numel", path = "lunet.numel", fn = lunet.numel, args = { x23 } },
    { name = "is_contiguous", path = "lunet.is_contiguous", fn = lunet.is_contiguous,
        views = false, args = { x23 } },
    {
        name = "item", path = "lunet.item", fn = lunet.item, args = { A.tensor(1) },
        bad = { { "six elements", function() return t23() end, { "6 elements" } } },
    },
    { name = "totable", path = "lunet.totable", fn = lunet.totable, args = { x23 } },
    { name = "flat", path = "lunet.flat", fn = lunet.flat, args = { x23 } },

    -- Views, copies and fills.
    view_case("view"),
    view_case("reshape"),
    {
        name = "transpose", path = "lunet.transpose", fn = lunet.transpose,
        args = { x23, A.dim(2, 1), A.dim(2, 2) },
        bad = { { "a 3-d tensor without dims", function() return lunet.rand(2, 2, 2) end,
            { "3-d" } } },
    },
    {
        name = "transpose", path = "Tensor.t", fn = lunet.Tensor.t, args = { x23 },
        bad = { { "a 3-d tensor", function() return lunet.rand(2, 2, 2) end, { "3-d" } } },
    },
    {
        name = "permute", path = "lunet.permute", fn = lunet.permute,
        args = { x23, A.table_form(A.dim(2, 2), { "0 dims given" }), A.dim(2, 1) },
        bad = {
            { "a repeated dim", function() return t23(), 2, 2 end, { "twice" } },
            { "too few dims", function() return t23(), 1 end, { "1 dims given", "2-d" } },
            { "too many dims in a table", function() return t23(), { 1, 2, 3 } end,
                { "3 dims given" } },
        },
    },
    {
        name = "narrow", path = "lunet.narrow", fn = lunet.narrow,
        args = { x23, A.dim(2, 2), A.integer(1, { { 0 }, { 5 }, { HUGE, { HUGE_TEXT } },
            { math.mininteger } }), A.integer(2, { { -1 }, { 4 }, { HUGE, { HUGE_TEXT } } }) },
        bad = {
            { "a 0-d tensor", function() return lunet.tensor(1), 1, 1, 1 end, { "0-d" } },
            { "a length whose end overflows", function()
                return t23(), 1, 2, math.maxinteger
            end, { tostring(math.maxinteger) } },
            { "a negative start with a huge length", function()
                return t23(), 1, -1, math.maxinteger
            end, { tostring(math.maxinteger) } },
        },
    },
    {
        name = "select", path = "lunet.select", fn = lunet.select,
        args = { x23, A.dim(2), A.integer(1, { { 0 }, { 3 }, { -3 }, { HUGE, { HUGE_TEXT } },
            { math.mininteger } }) },
        bad = { { "a 0-d tensor", function() return lunet.tensor(1), 1, 1 end, { "0-d" } } },
    },
    { name = "squeeze", path = "lunet.squeeze", fn = lunet.squeeze,
        args = { A.tensor(2, 1, 3), A.opt_dim(3) } },
    { name = "unsqueeze", path = "lunet.unsqueeze", fn = lunet.unsqueeze,
        args = { x23, A.dim(2, 1, 1) } },
    {
        name = "expand", path = "lunet.expand", fn = lunet.expand,
        args = { A.tensor(1, 3), size(2, true), size(3, true) },
        bad = {
            { "a size that does not broadcast", function() return t23(), 4, 3 end,
                { "2x3", "4x3" } },
            { "fewer dims", function() return t23(), 3 end, { "2-d" } },
            { "sizes overflowing 64 bits", function()
                return lunet.rand(1, 1), 1 << 40, 1 << 40
            end, { "overflow" } },
        },
    },
    {
        name = "expand_as", path = "Tensor.expand_as", fn = lunet.Tensor.expand_as,
        args = { A.tensor(1, 3), x23 },
        bad = { { "a shape that does not broadcast", function() return t23(), lunet.rand(4, 3) end,
            { "2x3", "4x3" } } },
    },
    { name = "contiguous", path = "lunet.contiguous", fn = lunet.contiguous, args = { x23 } },
    { name = "clone", path = "lunet.clone", fn = lunet.clone, args = { x23 } },
    {
        name = "copy_", path = "Tensor.copy_", fn = lunet.Tensor.copy_, inplace = true,
        args = { x23, x23 },
        bad = {
            { "a source of another shape", function() return t23(), lunet.rand(3, 2) end,
                { "3x2", "2x3" } },
        },
    },
    { name = "fill_", path = "Tensor.fill_", fn = lunet.Tensor.fill_, inplace = true,
        args = { x23, A.number(0.5) } },
    { name = "zero_", path = "Tensor.zero_", fn = lunet.Tensor.zero_, inplace = true,
        args = { x23 } },
    {
        name = "close", path = "Tensor.close", fn = lunet.Tensor.close, views = false,
        special = false,
        args = { A.custom(t23, {
            { "nil", nil, { "nil", "no value" } },
            { "a string", "text", { "string" } },
            { "a table", {}, { "table" } },
        }) },
    },
    {
        name = "uniform_", path = "Tensor.uniform_", fn = lunet.Tensor.uniform_, inplace = true,
        args = { x23, A.number(0, { { 0 / 0, { "nan" } } }, true),
            A.number(1, { { -1, { "-1" } }, { 0 / 0, { "nan" } } }, true) },
    },
    {
        name = "normal_", path = "Tensor.normal_", fn = lunet.Tensor.normal_, inplace = true,
        args = { x23, A.number(0, nil, true),
            A.number(1, { { -1, { "-1" } }, { 0 / 0, { "nan" } } }, true) },
    },

    -- Elementwise.
    scaled_case("add", "lunet.add", lunet.add),
    scaled_case("sub", "lunet.sub", lunet.sub),
    scaled_case("add_", "Tensor.add_", lunet.Tensor.add_),
    scaled_case("sub_", "Tensor.sub_", lunet.Tensor.sub_),
    binary_case("mul"),
    binary_case("div"),
    binary_case("pow"),
    binary_case("eq"),
    binary_case("ne"),
    binary_case("lt"),
    binary_case("le"),
    binary_case("gt"),
    binary_case("ge"),
    binary_case("maximum"),
    binary_case("minimum"),
    inplace_case("mul_"),
    inplace_case("div_"),
    inplace_case("pow_"),
    clamp_case("clamp", "lunet.clamp"),
    clamp_case("clamp_", "Tensor.clamp_"),

    -- Reductions, softmax, products, selection.
    reduce_case("sum"),
    reduce_case("mean"),
    reduce_case("max"),
    reduce_case("min"),
    reduce_case("argmax"),
    reduce_case("argmin"),
    reduce_case("logsumexp"),
    { name = "softmax", path = "lunet.softmax", fn = lunet.softmax, args = { x23, A.opt_dim(2) } },
    { name = "log_softmax", path = "lunet.log_softmax", fn = lunet.log_softmax,
        args = { x23, A.opt_dim(2) } },
    softmax_backward_case("softmax_backward"),
    softmax_backward_case("log_softmax_backward"),
    {
        name = "matmul", path = "lunet.matmul", fn = lunet.matmul,
        args = { x23, A.tensor(3, 4) },
        bad = {
            { "mismatched inner sizes", function() return t23(), lunet.rand(4, 5) end,
                { "2x3", "4x5" } },
            { "a 0-d operand", function() return lunet.tensor(1), lunet.rand(3) end,
                { "0-d", "scalar" } },
            { "batches that do not broadcast", function()
                return lunet.rand(2, 2, 3), lunet.rand(3, 3, 4)
            end, { "2x2x3", "3x3x4" } },
        },
    },
    {
        name = "mm", path = "lunet.mm", fn = lunet.mm,
        args = { x23, A.tensor(3, 4) },
        bad = {
            { "mismatched inner sizes", function() return t23(), lunet.rand(4, 5) end,
                { "2x3", "4x5" } },
            { "a 3-d operand", function() return lunet.rand(1, 2, 3), lunet.rand(3, 4) end,
                { "1x2x3" } },
        },
    },
    {
        name = "topk", path = "lunet.topk", fn = lunet.topk,
        args = { x23, A.integer(2, { { -1 }, { 4 }, { HUGE, { HUGE_TEXT } } }), A.opt_dim(2),
            A.opt_boolean() },
        bad = { { "a 0-d tensor", function() return lunet.tensor(1), 1 end, { "0-d" } } },
    },
    {
        name = "sort", path = "lunet.sort", fn = lunet.sort,
        args = { x23, A.opt_dim(2), A.opt_boolean() },
        bad = { { "a 0-d tensor", function() return lunet.tensor(1) end, { "0-d" } } },
    },
    {
        name = "index_select", path = "lunet.index_select", fn = lunet.index_select,
        args = { x23, A.dim(2), A.custom(function() return { 2, 1 } end, {
            { "nil", nil, { "nil" } },
            { "a string", "text", { "string" } },
            { "index 0", { 0 }, { "index 0" } },
            { "index 3", { 3 }, { "index 3" } },
            { "index 1.5", { 1.5 }, { "1.5" } },
            { "a NaN index", { 0 / 0 }, { "nan" } },
            { "a huge index", { 2 ^ 70 }, { "indices[1]" } },
            { "a string index", { "a" }, { "string" } },
            { "a 2-d index tensor", function() return lunet.ones(1, 1) end, { "2-d" } },
            { "a closed index tensor", A.closed_tensor, { "closed" } },
        }) },
        bad = { { "a 0-d tensor", function() return lunet.tensor(1), 1, { 1 } end, { "0-d" } } },
    },
}

local unary = { "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu" }
for _, name in ipairs(unary) do
    cases[#cases + 1] = unary_case(name, "lunet." .. name)
    cases[#cases + 1] = unary_case(name .. "_", "Tensor." .. name .. "_")
end
for _, case in ipairs(cases) do
    if case.path:sub(1, 7) == "Tensor." and case.path:sub(-1) == "_" then
        case.inplace = true
    end
end

return {
    cases = cases,
    -- Functions that spec/bad_input_spec.lua checks by hand.
    by_hand = {},
}
