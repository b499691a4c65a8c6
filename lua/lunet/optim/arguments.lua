--- Argument checks shared by the optimizers and learning-rate schedulers.
--
-- Errors start with the Lua-facing name ("SGD", "Adam.step") and name the
-- offending value. They are raised at the first stack level outside
-- lunet.optim, so the reported line is the caller's.
local core = require "lunet.core"

local M = {}

--- Raises message at the first caller outside the lunet.optim files.
function M.raise(message)
    -- debug.getinfo and error count levels alike: 1 is this function.
    local level = 2
    while true do
        local info = debug.getinfo(level, "S")
        if info == nil then
            error(message, 0)
        end
        if not info.source:find("lunet/optim/", 1, true) then
            error(message, level)
        end
        level = level + 1
    end
end

local function value_text(value)
    if value ~= value then
        return "nan"
    end
    if type(value) == "string" then
        return string.format("%q", value)
    end
    if type(value) == "table" then
        local items = {}
        for i, item in ipairs(value) do
            items[i] = tostring(item)
        end
        return "{" .. table.concat(items, ", ") .. "}"
    end
    return tostring(value)
end

local function type_text(value)
    if core.is_tensor(value) then
        return "a tensor"
    end
    return type(value)
end

-- Value checks: each raises "fname: option 'name' must be ..., got ...".

function M.number(fname, name, value)
    if type(value) ~= "number" then
        M.raise(string.format("%s: option '%s' must be a number, got %s", fname, name,
            type_text(value)))
    end
end

function M.non_negative(fname, name, value)
    M.number(fname, name, value)
    -- Written so that NaN fails too.
    if not (value >= 0) then
        M.raise(string.format("%s: option '%s' must be >= 0, got %s", fname, name,
            value_text(value)))
    end
end

function M.positive_integer(fname, name, value)
    M.number(fname, name, value)
    local integral = math.type(value) == "integer" or
        (value == math.floor(value) and math.abs(value) < 2 ^ 53)
    if not integral or value < 1 then
        M.raise(string.format("%s: option '%s' must be an integer >= 1, got %s", fname, name,
            value_text(value)))
    end
end

function M.boolean(fname, name, value)
    if type(value) ~= "boolean" then
        M.raise(string.format("%s: option '%s' must be a boolean, got %s", fname, name,
            type_text(value)))
    end
end

--- Checks Adam's betas: a list of two numbers, each in [0, 1).
function M.betas(fname, name, value)
    local valid = type(value) == "table" and #value == 2
    for i = 1, 2 do
        local beta = valid and value[i]
        valid = valid and type(beta) == "number" and beta >= 0 and beta < 1
    end
    if not valid then
        M.raise(string.format("%s: option '%s' must be {beta1, beta2} with each in [0, 1), got %s",
            fname, name, type(value) == "table" and value_text(value) or type_text(value)))
    end
end

--- Reads an options table against spec, a list of entries
-- `{name, default = v, required = hint, check = fn}`, where hint is the text
-- that explains a missing required option. Unknown keys raise, so
-- a misspelt option does not pass silently. Returns a new table of every
-- option's value, with defaults filled in. arg is the options' position in
-- the caller's argument list, for the message.
function M.read(fname, options, spec, arg)
    if options == nil then
        options = {}
    end
    if type(options) ~= "table" or core.is_tensor(options) then
        M.raise(string.format("%s: bad argument #%d (options table expected, got %s)", fname, arg,
            type_text(options)))
    end

    local known, names = {}, {}
    for i, entry in ipairs(spec) do
        known[entry[1]] = true
        names[i] = entry[1]
    end
    for key in pairs(options) do
        if not known[key] then
            M.raise(string.format("%s: unknown option '%s' (expected %s)", fname, tostring(key),
                table.concat(names, ", ")))
        end
    end

    local values = {}
    for _, entry in ipairs(spec) do
        local name, value = entry[1], options[entry[1]]
        if value == nil and entry.required then
            M.raise(string.format("%s: option '%s' is required (%s)", fname, name, entry.required))
        end
        if value == nil then
            value = entry.default
        else
            entry.check(fname, name, value)
        end
        values[name] = value
    end
    return values
end

--- Checks that params is a non-empty list of distinct tensors and returns a
-- copy of it.
function M.params(fname, params)
    if type(params) ~= "table" or core.is_tensor(params) then
        M.raise(string.format("%s: bad argument #1 (list of tensors expected, got %s; pass "
            .. "model:parameters())", fname, type_text(params)))
    end
    local count = #params
    for key in pairs(params) do
        if math.type(key) ~= "integer" or key < 1 or key > count then
            M.raise(string.format("%s: bad argument #1 (list of tensors expected, got a table "
                .. "with key %s; pass model:parameters())", fname, value_text(key)))
        end
    end
    if count == 0 then
        M.raise(string.format("%s: params is an empty list (expected the tensors to optimize, "
            .. "such as model:parameters())", fname))
    end

    local list, seen = {}, {}
    for i = 1, count do
        local param = params[i]
        if not core.is_tensor(param) then
            M.raise(string.format("%s: params[%d] must be a tensor, got %s", fname, i,
                type_text(param)))
        end
        if seen[param] then
            M.raise(string.format("%s: params[%d] is the same tensor as params[%d]", fname, i,
                seen[param]))
        end
        seen[param] = i
        list[i] = param
    end
    return list
end

--- Formats "name=value" for each option of spec in order, for tostring.
function M.describe(values, spec)
    local parts = {}
    for _, entry in ipairs(spec) do
        parts[#parts + 1] = entry[1] .. "=" .. value_text(values[entry[1]])
    end
    return table.concat(parts, ", ")
end

return M
