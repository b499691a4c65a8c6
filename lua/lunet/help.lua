--- help(x): the reference text of a lunet function, tensor method, layer,
-- model or module, with its signature.
--
-- The text comes from lunet/doc/*.lua, files that contain only LDoc
-- comments. `make docs` renders the same files to the HTML reference, so
-- help() and the HTML show one text. help() finds them on package.path (in
-- a checkout and in an installation alike) and parses them on first use.
--
-- Every entry has several names: its signature's name ("lunet.softmax",
-- "x:size", "nn.Linear", "module:forward"), its LDoc name ("Module:forward",
-- "lunet.image.load") and, unless an earlier doc file took it, its short
-- name ("softmax", "size", "forward"). A function, class or module value is
-- mapped to a name through a reverse map of lunet's tables, and a tensor,
-- layer or model through its metatable.
local help = {}

local WIDTH = 78

-- The doc files lunet/doc/NAME.lua. Their order decides which entry a short
-- name means when two share it: "load" is lunet.load, not image.load.
help.DOC_FILES = { "lunet", "tensor", "nn", "optim", "data", "image", "models", "plot",
    "assertions" }

-- LDoc's shorthands for @tparam TYPE.
local TYPE_TAGS = { int = "int", string = "string", number = "number", bool = "bool",
    tab = "table", func = "function" }

-- Parsing ---------------------------------------------------------------------

-- Splits a doc file into comment blocks. A block starts at a line that
-- begins with "---" and runs over the "--" lines after it. Each line loses
-- its comment marker and one space.
local function comment_blocks(text)
    local blocks, current = {}, nil
    local line_number = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        line_number = line_number + 1
        if line:find("^%-%-%-") then
            current = { line = line_number, lines = { (line:gsub("^%-%-%- ?", "")) } }
            blocks[#blocks + 1] = current
        elseif current and line:find("^%-%-") then
            current.lines[#current.lines + 1] = (line:gsub("^%-%- ?", ""))
        else
            current = nil
        end
    end
    return blocks
end

local function trim(text)
    return (text:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- Reads "[opt]", "[opt=-1]" or "[2]" into a table.
local function parse_modifiers(text)
    local modifiers = {}
    for item in text:sub(2, -2):gmatch("[^,]+") do
        item = trim(item)
        local key, value = item:match("^(%w+)=(.*)$")
        if key then
            modifiers[key] = value
        elseif tonumber(item) then
            modifiers.group = tonumber(item)
        else
            modifiers[item] = true
        end
    end
    return modifiers
end

-- Splits a block into its preamble (the text before the first tag) and a
-- list of tags {name, modifiers, value}. A tag's value runs on over the
-- following lines up to the next tag.
local function split_tags(lines)
    local preamble, tags = {}, {}
    for _, line in ipairs(lines) do
        local name, rest = line:match("^@(%w+)(.*)$")
        if name then
            local modifiers = {}
            local bracket = rest:match("^%b[]")
            if bracket then
                modifiers = parse_modifiers(bracket)
                rest = rest:sub(#bracket + 1)
            end
            tags[#tags + 1] = { name = name, modifiers = modifiers, value = trim(rest) }
        elseif #tags > 0 then
            local tag = tags[#tags]
            tag.value = tag.value .. "\n" .. line
        else
            preamble[#preamble + 1] = line
        end
    end
    return trim(table.concat(preamble, "\n")), tags
end

-- Splits the preamble as LDoc does: the summary is the text up to the first
-- "." or "?" that whitespace follows.
local function split_summary(preamble)
    local summary, description = preamble:match("^(.-[%.?])(%s.+)$")
    if not summary then
        summary, description = preamble:match("^(.-\n\n)(.+)$")
    end
    return trim(summary or preamble), trim(description or "")
end

-- One line of @param or @tparam: "[TYPE] NAME text".
local function parse_param(tag)
    local kind = TYPE_TAGS[tag.name]
    local value = tag.value
    if tag.name == "tparam" then
        kind, value = value:match("^(%S+)%s+(.*)$")
    end
    local name, text = value:match("^(%S+)%s*(.*)$")
    return {
        name = name,
        type = kind,
        optional = tag.modifiers.opt ~= nil,
        default = type(tag.modifiers.opt) == "string" and tag.modifiers.opt or nil,
        text = trim(text or ""),
    }
end

local function parse_return(tag)
    local kind, text = nil, tag.value
    if tag.name == "treturn" then
        kind, text = tag.value:match("^(%S+)%s*(.*)$")
    end
    return { type = kind, text = trim(text or ""), group = tag.modifiers.group or 1 }
end

-- Reads one comment block into a table: its kind ("module", "classmod",
-- "section", "type", "function" or "table"), name, summary, description
-- and tags.
local function parse_block(block)
    local preamble, tags = split_tags(block.lines)
    local item = { line = block.line, params = {}, returns = {}, fields = {}, usage = {} }
    item.text = preamble
    item.summary, item.description = split_summary(preamble)
    for _, tag in ipairs(tags) do
        local name = tag.name
        if name == "module" or name == "classmod" or name == "section" or name == "type"
            or name == "function" or name == "table" then
            item.kind, item.name = name, trim(tag.value)
        elseif name == "param" or name == "tparam" or TYPE_TAGS[name] then
            item.params[#item.params + 1] = parse_param(tag)
        elseif name == "return" or name == "treturn" then
            item.returns[#item.returns + 1] = parse_return(tag)
        elseif name == "field" then
            local field, text = tag.value:match("^(%S+)%s*(.*)$")
            item.fields[#item.fields + 1] = { name = field, text = text }
        elseif name == "raise" then
            item.raise = tag.value
        elseif name == "usage" then
            item.usage[#item.usage + 1] = tag.value
        elseif name == "prefix" then
            item.prefix = tag.value
        elseif name == "see" then
            item.see = tag.value
        end
    end
    return item
end

-- The argument list of a signature: optional parameters in brackets, as
-- "x [, dim [, keepdim]]".
local function argument_list(params)
    local parts, open = {}, 0
    for i, param in ipairs(params) do
        if param.optional then
            parts[#parts + 1] = (i > 1 and " [, " or "[") .. param.name
            open = open + 1
        else
            parts[#parts + 1] = (i > 1 and ", " or "") .. param.name
        end
    end
    return table.concat(parts) .. string.rep("]", open)
end

--- Parses the text of one doc file. Returns its module (name, summary,
-- description, usage) with the list `entries` of its functions and tables
-- and the list `sections`, each entry carrying its `signature`, `section`
-- and `names` (the names that help() accepts for it, most specific first).
function help.parse(text, source)
    local module = { entries = {}, sections = {}, source = source }
    local section
    for _, block in ipairs(comment_blocks(text)) do
        local item = parse_block(block)
        item.source = source
        if item.kind == "module" or item.kind == "classmod" then
            for key, value in pairs(item) do
                module[key] = value
            end
        elseif item.kind == "section" or item.kind == "type" then
            section = item
            section.title = item.summary:gsub("%.$", "")
            section.entries = {}
            module.sections[#module.sections + 1] = section
        elseif item.kind == "function" or item.kind == "table" then
            item.module = module
            item.section = section
            module.entries[#module.entries + 1] = item
            if section then
                section.entries[#section.entries + 1] = item
            end
        end
    end
    if not module.name then
        error("help: " .. tostring(source) .. " has no @module or @classmod block", 2)
    end

    for _, entry in ipairs(module.entries) do
        local type_name = entry.section and entry.section.kind == "type" and entry.section.name
        local prefix = entry.prefix or (type_name and entry.section.prefix) or module.prefix or ""
        -- "Module:forward" in a type section is shown as "module:forward".
        local short = type_name and entry.name:match("^" .. type_name .. ":(.+)$") or entry.name
        entry.display = prefix .. short
        entry.signature = entry.display
        if entry.kind == "function" then
            entry.signature = entry.display .. "(" .. argument_list(entry.params) .. ")"
        end
        local qualified = module.name .. (module.kind == "classmod" and ":" or ".") .. entry.name
        entry.names = { entry.display, qualified, entry.name, entry.name:match("[%w_]+$") }
        if module.kind == "classmod" then
            table.insert(entry.names, 3, module.name:match("[%w_]+$") .. ":" .. entry.name)
        end
    end
    return module
end

-- Loading ---------------------------------------------------------------------

local reference

local function read_doc_file(name)
    local module_name = "lunet.doc." .. name
    local path = package.searchpath(module_name, package.path)
    if not path then
        return nil, module_name .. " is not on package.path"
    end
    local file, message = io.open(path, "r")
    if not file then
        return nil, message
    end
    local text = file:read("a")
    file:close()
    return text, path
end

-- Adds key -> value unless key is taken, so that earlier files win.
local function add_key(keys, key, value)
    if key and keys[key] == nil then
        keys[key] = value
    end
end

--- Returns the parsed reference: `modules` (one per doc file, in
-- DOC_FILES order), `entries` (every function and table) and `keys`
-- (name -> entry or module). Raises when a doc file cannot be read.
function help.reference()
    if reference then
        return reference
    end
    local loaded = { modules = {}, entries = {}, keys = {} }
    for _, name in ipairs(help.DOC_FILES) do
        local text, path = read_doc_file(name)
        if not text then
            error("help: cannot read the reference text (" .. path .. "); "
                .. "install lunet with make install or luarocks", 2)
        end
        loaded.modules[#loaded.modules + 1] = help.parse(text, path)
    end

    -- The specific names of every entry come first, then the short ones,
    -- so that no short name hides a specific one.
    for _, module in ipairs(loaded.modules) do
        module.signature = module.name
        add_key(loaded.keys, module.name, module)
        for _, entry in ipairs(module.entries) do
            loaded.entries[#loaded.entries + 1] = entry
            for i = 1, #entry.names - 1 do
                add_key(loaded.keys, entry.names[i], entry)
            end
        end
    end
    for _, module in ipairs(loaded.modules) do
        if module.name ~= "lunet" then
            add_key(loaded.keys, module.name:match("[%w_]+$"), module)
        end
        for _, entry in ipairs(module.entries) do
            add_key(loaded.keys, entry.names[#entry.names], entry)
        end
    end
    reference = loaded
    return reference
end

--- Returns the entry (or module) that name means, or nil. Besides the
-- names of an entry, a name with an unknown qualifier ("Tensor:sum")
-- falls back to its last part ("sum").
function help.entry(name)
    if type(name) ~= "string" then
        return nil
    end
    local keys = help.reference().keys
    local entry = keys[name]
    if entry == nil then
        local short = name:match("[%w_]+$")
        entry = short and keys[short]
    end
    return entry
end

-- Output ------------------------------------------------------------------------

-- Wraps text at WIDTH columns. The first line starts with first_indent and
-- the others with indent.
local function wrap(text, indent, first_indent)
    local lines, line = {}, first_indent or indent
    local start = #line
    -- A short code span such as `argmax(logits, 2)` stays on one line: its
    -- spaces become \1 while the words are placed.
    text = text:gsub("`[^`\n]*`", function(span)
        if #span <= 32 then
            return (span:gsub(" ", "\1"))
        end
    end)
    for word in text:gmatch("%S+") do
        word = word:gsub("\1", " ")
        if #line > start and #line + 1 + #word > WIDTH then
            lines[#lines + 1] = line
            line = indent .. word
            start = #indent
        elseif #line > start then
            line = line .. " " .. word
        else
            line = line .. word
        end
    end
    lines[#lines + 1] = line
    return table.concat(lines, "\n")
end

-- Wraps a Markdown text paragraph by paragraph: list items keep their
-- bullets and code indented by four spaces keeps its lines.
local function wrap_markdown(text, indent)
    local out = {}
    for paragraph in (text .. "\n\n"):gmatch("(.-)\n%s*\n") do
        if paragraph:find("%S") then
            if paragraph:find("^    ") then
                out[#out + 1] = indent .. paragraph:gsub("\n", "\n" .. indent)
            elseif paragraph:find("^%- ") then
                local items = {}
                for line in paragraph:gmatch("[^\n]+") do
                    if line:find("^%- ") then
                        items[#items + 1] = line:sub(3)
                    else
                        items[#items] = items[#items] .. " " .. line
                    end
                end
                for i, item in ipairs(items) do
                    items[i] = wrap(item, indent .. "  ", indent .. "- ")
                end
                out[#out + 1] = table.concat(items, "\n")
            else
                out[#out + 1] = wrap(paragraph, indent)
            end
        end
    end
    return table.concat(out, "\n\n")
end

local function parameter_lines(params)
    local lines = {}
    local width = 0
    for _, param in ipairs(params) do
        width = math.max(width, #param.name)
    end
    width = math.min(width, 14)
    for _, param in ipairs(params) do
        local notes = {}
        if param.type then
            notes[#notes + 1] = param.type
        end
        if param.default then
            notes[#notes + 1] = "default " .. param.default
        elseif param.optional then
            notes[#notes + 1] = "optional"
        end
        local head = string.format("      %-" .. width .. "s  ", param.name)
        local text = (#notes > 0 and "(" .. table.concat(notes, ", ") .. ") " or "") .. param.text
        lines[#lines + 1] = wrap(text, string.rep(" ", 8 + width), head)
    end
    return lines
end

local function return_lines(returns)
    local lines = {}
    local group = returns[1] and returns[1].group
    for _, result in ipairs(returns) do
        -- A second group of results is an alternative, as in LDoc's "Or".
        local head = "      "
        if result.group ~= group then
            head = "      or "
        elseif result.group > 1 then
            head = "         "
        end
        group = result.group
        local text = (result.type and result.type .. ": " or "") .. result.text
        lines[#lines + 1] = wrap(text, string.rep(" ", 8), head)
    end
    return lines
end

-- The text that help() prints for an entry or a module.
local function entry_text(entry)
    local parts = { entry.signature, wrap_markdown(entry.text, "    ") }

    local details = {}
    if entry.params and #entry.params > 0 then
        details[#details + 1] = "    Parameters:"
        table.move(parameter_lines(entry.params), 1, #entry.params, #details + 1, details)
    end
    if entry.fields and #entry.fields > 0 then
        details[#details + 1] = "    Fields:"
        for _, field in ipairs(entry.fields) do
            details[#details + 1] = wrap(field.text, string.rep(" ", 8), "      " .. field.name .. "  ")
        end
    end
    if entry.returns and #entry.returns > 0 then
        details[#details + 1] = "    Returns:"
        local lines = return_lines(entry.returns)
        table.move(lines, 1, #lines, #details + 1, details)
    end
    if entry.raise then
        details[#details + 1] = "    Raises:"
        details[#details + 1] = wrap(entry.raise, "      ")
    end
    if entry.usage and #entry.usage > 0 then
        details[#details + 1] = "    Example:"
        for _, usage in ipairs(entry.usage) do
            details[#details + 1] = "      " .. trim(usage):gsub("\n%s*", "\n      ")
        end
    end
    if #details > 0 then
        parts[#parts + 1] = ""
        parts[#parts + 1] = table.concat(details, "\n")
    end
    return table.concat(parts, "\n")
end

--- Returns the help text for name, or nil when there is none. An in-place
-- method without its own entry (`add_`) falls back to its function (`add`).
function help.text(name)
    local entry = help.entry(name)
    if entry then
        return entry_text(entry)
    end
    if type(name) == "string" and name:sub(-1) == "_" then
        entry = help.entry(name:sub(1, -2))
        if entry then
            return entry_text(entry) .. "\n    x:" .. name:match("[%w_]+$")
                .. "(...) is the in-place form, which writes into x and returns it."
        end
    end
    return nil
end

-- The shortest name that help() accepts for entry.
local function listed_name(entry)
    local keys = help.reference().keys
    local short = entry.names[#entry.names]
    if keys[short] == entry then
        return short
    end
    return entry.display
end

local function overview()
    local lines = {
        "lunet: float32 tensors and neural networks for Lua 5.4.",
        "help(x) describes a function, method, layer or model; help(\"name\") works too.",
        "Type a name and press Tab to complete it; x: and Tab lists a tensor's methods.",
        "The same reference is in HTML: make docs writes docs/api/index.html.",
    }
    -- Sections of one title (lunet's and lunet.Tensor's "Inspecting
    -- tensors") share a list; the others name their module.
    local modules, titles, names_by_title = {}, {}, {}
    for _, module in ipairs(help.reference().modules) do
        modules[#modules + 1] = module.name
        for _, section in ipairs(module.sections) do
            local title = section.title
            if module.name ~= "lunet" and module.name ~= "lunet.Tensor" then
                title = title .. " (" .. module.name .. ")"
            end
            if not names_by_title[title] then
                titles[#titles + 1] = title
                names_by_title[title] = {}
            end
            for _, entry in ipairs(section.entries) do
                table.insert(names_by_title[title], listed_name(entry))
            end
        end
    end
    for _, title in ipairs(titles) do
        local names = names_by_title[title]
        if #names > 0 then
            lines[#lines + 1] = ""
            lines[#lines + 1] = title .. ":"
            lines[#lines + 1] = wrap(table.concat(names, " "), "    ")
        end
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Modules (help(\"nn\") describes lunet.nn):"
    lines[#lines + 1] = wrap(table.concat(modules, " "), "    ")
    return table.concat(lines, "\n")
end

-- Reverse map ---------------------------------------------------------------

local names_by_value

-- Maps each function or table in t to prefix .. its key, or to its bare key
-- when help() has no entry under the prefixed name.
local function add_names(map, t, prefix)
    if type(t) ~= "table" then
        return
    end
    for key, value in next, t do
        if type(key) == "string" and (type(value) == "function" or type(value) == "table")
            and map[value] == nil then
            local name = prefix .. key
            map[value] = help.entry(name) and name or key
        end
    end
end

-- The table in which the instances of a class made by a constructor table
-- (an optimizer or scheduler class) find their methods.
local function method_table(class)
    local mt = getmetatable(class)
    return type(mt) == "table" and type(rawget(mt, "__index")) == "table" and mt.__index or nil
end

-- Maps the values of lunet, its tensor methods, lunet.nn, the module
-- methods, lunet.optim and the other submodules to their names.
local function build_names()
    local map = {}
    local ok, lunet = pcall(require, "lunet")
    if not ok then
        return map
    end
    local nn = lunet.nn
    map[lunet] = "lunet"
    for _, name in ipairs({ "nn", "optim", "data", "image", "Tensor" }) do
        if lunet[name] ~= nil then
            map[lunet[name]] = "lunet." .. name
        end
    end
    add_names(map, lunet, "lunet.")
    add_names(map, lunet.Tensor, "x:")
    add_names(map, nn, "nn.")
    add_names(map, lunet.optim, "optim.")
    add_names(map, lunet.data, "data.")
    add_names(map, lunet.image, "image.")

    local core = package.loaded["lunet.core"]
    if type(core) == "table" and type(core.nn) == "table" then
        add_names(map, core.nn._layer_methods, "module:")
    end
    for _, module_name in ipairs({ "lunet.nn.module", "lunet.nn.base" }) do
        local loaded, methods = pcall(require, module_name)
        if loaded then
            add_names(map, methods, "module:")
        end
    end
    if type(nn) == "table" and type(nn.Sequential) == "table" then
        add_names(map, { add = rawget(nn.Sequential, "add") }, "seq:")
    end
    if type(lunet.optim) == "table" then
        add_names(map, method_table(lunet.optim.SGD), "opt:")
        add_names(map, method_table(lunet.optim.StepLR), "scheduler:")
    end
    local models_ok, models = pcall(require, "lunet.models")
    if models_ok then
        -- pairs() loads every shipped model, which add_names' next() would not.
        for _ in pairs(models) do
        end
        map[models] = "lunet.models"
        add_names(map, models, "models.")
        if type(rawget(models, "vgg")) == "table" then
            add_names(map, models.vgg, "models.vgg.")
        end
    end
    local plot_ok, plot = pcall(require, "lunet.plot")
    if plot_ok then
        map[plot] = "lunet.plot"
        add_names(map, plot, "plot.")
    end
    return map
end

-- The name of x: a string names itself, a function or table is looked up
-- in the reverse map, and a tensor, layer or model is named by its
-- metatable.
local function name_of(x)
    if type(x) == "string" then
        return x
    end
    names_by_value = names_by_value or build_names()
    local name = names_by_value[x]
    if name then
        return name
    end
    -- A class made by nn.Module:extend.
    if type(x) == "table" and rawget(x, "super") and type(rawget(x, "__name")) == "string" then
        return rawget(x, "__name")
    end
    local mt = getmetatable(x)
    if type(mt) ~= "table" then
        return nil
    end
    local class = rawget(mt, "__name")
    if class == "lunet.Tensor" then
        return "lunet.Tensor"
    elseif type(class) == "string" then
        return names_by_value[mt] or class:match("([%w_]+)$")
    end
    return names_by_value[mt]
end

local STANDARD_LIBRARIES = { "coroutine", "debug", "io", "math", "os", "package", "string",
    "table", "utf8" }

-- The name of a function from Lua's standard library ("print",
-- "string.format"), or nil.
local function standard_name(x)
    if type(x) ~= "function" then
        return nil
    end
    for name, value in pairs(_G) do
        if value == x then
            return name
        end
    end
    for _, library in ipairs(STANDARD_LIBRARIES) do
        for name, value in pairs(_G[library] or {}) do
            if value == x then
                return library .. "." .. name
            end
        end
    end
    return nil
end

-- The text of the nearest described class above a Module subclass or its
-- instance, such as a model built on nn.Sequential.
local function superclass_text(x, name)
    if type(x) ~= "table" then
        return nil
    end
    local class = rawget(x, "super") and x or getmetatable(x)
    class = type(class) == "table" and rawget(class, "super")
    for _ = 1, 32 do
        if type(class) ~= "table" then
            return nil
        end
        local text = help.text(rawget(class, "__name"))
        if text then
            return string.format("%s is a subclass of nn.%s.\n%s", name, class.__name, text)
        end
        class = rawget(class, "super")
    end
    return nil
end

--- Prints the description of x (a lunet function, method, layer, model,
-- module or name), or an overview when x is absent.
function help.help(...)
    if select("#", ...) == 0 then
        print(overview())
        return
    end
    local x = ...
    local name = name_of(x)
    if name == "lunet" then
        print(overview())
        return
    end
    local text = name and help.text(name)
    if not text then
        text = superclass_text(x, name)
    end
    if not text then
        local label = type(x) == "string" and x or tostring(x)
        local library = standard_name(x)
        if library then
            label = library .. " (part of Lua's standard library: see the Lua 5.4 manual)"
        end
        print("help: no description for " .. label .. " (help takes a lunet function, " ..
            "tensor method, layer or model, or its name; help() lists them all)")
        return
    end
    print(text)
end

return help
