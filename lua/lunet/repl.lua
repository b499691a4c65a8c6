--- Lua side of the lunet REPL: the globals it preloads, how results print
-- and what Tab completes. The read loop itself is lua/repl.c.
local repl = {}

-- A table result lists at most this many fields.
local MAX_FIELDS = 20

-- Strings inside a table print at most this many characters.
local MAX_STRING = 60

local KEYWORDS = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
    "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

local is_keyword = {}
for _, word in ipairs(KEYWORDS) do
    is_keyword[word] = true
end

local function is_identifier(s)
    return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil and not is_keyword[s]
end

-- Loaded lunet, or nil when `require "lunet"` has not run or failed.
local function loaded_lunet()
    return package.loaded.lunet
end

local function is_tensor(value)
    local mt = getmetatable(value)
    return type(value) == "userdata" and type(mt) == "table" and rawget(mt, "__name") == "lunet.Tensor"
end

-- lunet.nn, loaded on first use of the global `nn`, so the REPL starts
-- whether or not lunet has layers.
local function find_nn()
    local lunet = loaded_lunet() or require("lunet")
    local nn = lunet.nn
    if nn == nil and package.searchpath("lunet.nn", package.path) then
        nn = require("lunet.nn")
    end
    return nn
end

-- Makes `nn` a lazily resolved global, keeping any __index _G already has.
local function install_lazy_nn()
    local mt = getmetatable(_G)
    if mt == nil then
        mt = {}
        setmetatable(_G, mt)
    elseif type(mt) ~= "table" then
        return
    end
    local previous = mt.__index
    mt.__index = function(globals, key)
        if key == "nn" then
            local nn = find_nn()
            if nn ~= nil then
                rawset(globals, "nn", nn)
            end
            return nn
        end
        if type(previous) == "function" then
            return previous(globals, key)
        elseif previous ~= nil then
            return previous[key]
        end
        return nil
    end
end

--- Sets the globals `lunet`, `nn` (lazily) and `help`, and prints a
-- banner when the session is on a terminal.
function repl.setup(terminal)
    if rawget(_G, "help") == nil then
        rawset(_G, "help", function(...)
            return require("lunet.help").help(...)
        end)
    end
    install_lazy_nn()

    local ok, lunet = pcall(require, "lunet")
    if not ok then
        io.stderr:write("lunet: require \"lunet\" failed: ", tostring(lunet), "\n")
        return
    end
    if rawget(_G, "lunet") == nil then
        rawset(_G, "lunet", lunet)
    end
    if terminal then
        local config = lunet.config()
        io.stdout:write(string.format(
            "lunet %s on %s: help() for help, Tab completes, Ctrl-D exits\n",
            config.version, _VERSION))
    end
end

-- Printing results -------------------------------------------------------

local function quote(s)
    if #s > MAX_STRING then
        s = s:sub(1, MAX_STRING) .. "..."
    end
    local escaped = s:gsub("[%c\"\\]", function(c)
        local names = { ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r", ['"'] = '\\"', ["\\"] = "\\\\" }
        return names[c] or string.format("\\%03d", c:byte())
    end)
    return '"' .. escaped .. '"'
end

local function tensor_summary(t)
    local ok, size = pcall(function()
        return table.concat(t:size(), "x")
    end)
    if not ok then
        return "<closed tensor>"
    end
    return "<tensor " .. (size == "" and "scalar" or size) .. ">"
end

-- tostring, or a short note when __tostring raises.
local function safe_tostring(value)
    local ok, text = pcall(tostring, value)
    if ok and type(text) == "string" then
        return text
    end
    local mt = getmetatable(value)
    local name = type(mt) == "table" and rawget(mt, "__name") or type(value)
    return string.format("<%s: tostring failed: %s>", tostring(name), tostring(text))
end

-- One value inside a table: one line, no expansion.
local function short(value)
    if type(value) == "string" then
        return quote(value)
    elseif is_tensor(value) then
        return tensor_summary(value)
    end
    local text = safe_tostring(value)
    local first = text:match("^[^\n]*")
    if #first < #text then
        return first .. " ..."
    end
    return text
end

local function key_text(key)
    if is_identifier(key) then
        return key
    end
    return "[" .. short(key) .. "]"
end

local TYPE_ORDER = { number = 1, string = 2, boolean = 3 }

local function key_less(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then
        return (TYPE_ORDER[ta] or 4) < (TYPE_ORDER[tb] or 4)
    elseif ta == "number" or ta == "string" then
        return a < b
    end
    return tostring(a) < tostring(b)
end

-- Inserts key into the sorted list smallest, which keeps at most limit keys.
local function keep_smallest(smallest, key, limit)
    local n = #smallest
    if n == limit and not key_less(key, smallest[n]) then
        return
    end
    local position = n + 1
    while position > 1 and key_less(key, smallest[position - 1]) do
        position = position - 1
    end
    table.insert(smallest, position, key)
    if #smallest > limit then
        smallest[#smallest] = nil
    end
end

-- Fields of a table one level deep: the sequence 1..n first, then the other
-- keys sorted, then a count of what did not fit.
local function expand(t)
    local parts = {}
    local length = 0
    while rawget(t, length + 1) ~= nil do
        length = length + 1
        if length <= MAX_FIELDS then
            parts[#parts + 1] = short(rawget(t, length))
        end
    end

    local others, smallest = 0, {}
    local room = math.max(MAX_FIELDS - length, 0)
    for key in next, t do
        if not (math.type(key) == "integer" and key >= 1 and key <= length) then
            others = others + 1
            if room > 0 then
                keep_smallest(smallest, key, room)
            end
        end
    end
    for _, key in ipairs(smallest) do
        parts[#parts + 1] = key_text(key) .. " = " .. short(rawget(t, key))
    end

    local hidden = length + others - #parts
    if hidden > 0 then
        parts[#parts + 1] = string.format("... (%d more)", hidden)
    end
    return "{" .. table.concat(parts, ", ") .. "}"
end

--- Formats one result: strings as they are, tensors and objects through
-- tostring, and plain tables as their fields.
function repl.format(value)
    if type(value) == "string" then
        return value
    end
    local mt = getmetatable(value)
    local has_tostring = type(mt) == "table" and rawget(mt, "__tostring") ~= nil
    if type(value) == "table" and not has_tostring then
        return expand(value)
    end
    return safe_tostring(value)
end

--- Prints the values of an expression: tab-separated on one line, or one
-- per line when any of them spans several lines.
function repl.show(...)
    local parts = {}
    local multiline = false
    for i = 1, select("#", ...) do
        parts[i] = repl.format((select(i, ...)))
        multiline = multiline or parts[i]:find("\n", 1, true) ~= nil
    end
    io.stdout:write(table.concat(parts, multiline and "\n" or "\t"), "\n")
end

-- Completion --------------------------------------------------------------

-- value[key] without raising; raw first so plain tables run no metamethod.
local function field(value, key)
    if type(value) == "table" then
        local raw = rawget(value, key)
        if raw ~= nil then
            return raw
        end
    end
    local ok, result = pcall(function()
        return value[key]
    end)
    return ok and result or nil
end

local function add_keys(names, t)
    for key in next, t do
        if type(key) == "string" then
            names[key] = true
        end
    end
end

-- Adds what value.name can reach: its own keys, the __index tables of its
-- metatables, the method table of tensors, and for userdata whose __index
-- is a function, the metatable's __methods and the user value's fields.
local function collect_names(names, value, depth)
    if depth > 8 then
        return
    end
    if type(value) == "table" then
        add_keys(names, value)
    end
    local mt = getmetatable(value)
    if type(mt) ~= "table" then
        return
    end
    local index = rawget(mt, "__index")
    if type(index) == "table" and index ~= value then
        collect_names(names, index, depth + 1)
    elseif type(index) == "function" and type(value) == "table" then
        -- Classes such as nn.Module's resolve methods in a function, but
        -- the metatable is the class and its own metatable leads to the
        -- base classes.
        collect_names(names, mt, depth + 1)
    end
    local methods = rawget(mt, "__methods")
    if type(methods) == "table" then
        add_keys(names, methods)
    end
    if is_tensor(value) then
        local lunet = loaded_lunet()
        if lunet and type(lunet.Tensor) == "table" then
            add_keys(names, lunet.Tensor)
        end
    elseif type(value) == "userdata" and type(index) == "function" then
        local fields = debug.getuservalue(value, 1)
        if type(fields) == "table" then
            add_keys(names, fields)
        end
        local name = rawget(mt, "__name")
        local core = package.loaded["lunet.core"]
        local shared = type(core) == "table" and type(core.nn) == "table" and core.nn._layer_methods
        if type(name) == "string" and name:find("^lunet%.nn%.") and type(shared) == "table" then
            add_keys(names, shared)
        end
    end
end

local function is_callable(value)
    if type(value) == "function" then
        return true
    end
    local mt = getmetatable(value)
    return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

-- Resolves a dotted path of names ("lunet.nn") from the globals.
local function resolve(path)
    local value = _G
    for name in path:gmatch("[^.]+") do
        value = field(value, name)
        if value == nil then
            return nil
        end
    end
    return value
end

local function sorted_matches(names, prefix, partial)
    local hide_private = partial:sub(1, 1) ~= "_"
    local matches = {}
    for name in pairs(names) do
        if name:sub(1, #partial) == partial and is_identifier(name)
            and not (hide_private and name:sub(1, 1) == "_") then
            matches[#matches + 1] = prefix .. name
        end
    end
    table.sort(matches)
    return matches
end

--- Returns the completions of text: a global name or keyword, or a field or
-- method reached by a path such as `lunet.so`, `t:so` or `x.si`.
function repl.complete(text)
    local head, separator, partial = text:match("^(.-)([.:])([%w_]*)$")
    if not head then
        if not text:match("^[%a_]?[%w_]*$") then
            return {}
        end
        local names = {}
        add_keys(names, _G)
        for _, word in ipairs(KEYWORDS) do
            names[word] = true
        end
        if field(_G, "nn") ~= nil then
            names.nn = true
        end
        local matches = sorted_matches(names, "", text)
        -- Keywords are not identifiers, so add them back.
        for _, word in ipairs(KEYWORDS) do
            if word:sub(1, #text) == text then
                matches[#matches + 1] = word
            end
        end
        table.sort(matches)
        return matches
    end

    if not head:match("^[%a_][%w_]*$") and not head:match("^[%a_][%w_.]*[%w_]$") then
        return {}
    end
    local value = resolve(head)
    if value == nil then
        return {}
    end
    local names = {}
    collect_names(names, value, 0)
    if separator == ":" then
        for name in pairs(names) do
            if not is_callable(field(value, name)) then
                names[name] = nil
            end
        end
    end
    return sorted_matches(names, head .. separator, partial)
end

return repl
