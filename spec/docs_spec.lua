-- The API reference: `make docs` renders lua/lunet/doc/*.lua to HTML, and
-- help() prints the same text. Every public name has an entry, and the
-- HTML and help() agree on each entry's first sentence.
local lunet = require "lunet"
local help = require "lunet.help"
local models = require "lunet.models"
local shell = require "spec.helpers.shell"

local MAKE = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "
    .. shell.quote(shell.ROOT)

-- What help() prints for its arguments.
local function help_output(...)
    local printed = {}
    local original = _G.print
    _G.print = function(...)
        printed[#printed + 1] = table.concat({ ... }, "\t")
    end
    local ok, err = pcall(help.help, ...)
    _G.print = original
    assert(ok, err)
    return table.concat(printed, "\n")
end

-- The first sentence as LDoc cuts it: up to the first "." or "?" that
-- whitespace follows.
local function first_sentence(text)
    return text:match("^(.-[%.?])%s") or text
end

-- Text without Markdown code marks, with runs of whitespace as one space.
local function plain(text)
    return (text:gsub("`", ""):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", ""))
end

-- The first sentence of help's text: the wrapped body after the signature.
local function help_sentence(output)
    local body = output:match("^[^\n]*\n(.-)\n\n") or output:match("^[^\n]*\n(.*)$") or ""
    return first_sentence(plain(body))
end

-- Discount, LDoc's Markdown renderer here, also makes quotes typographic.
local ENTITIES = { amp = "&", lt = "<", gt = ">", quot = '"', ["#39"] = "'", rsquo = "'",
    lsquo = "'", rdquo = '"', ldquo = '"', hellip = "...", ndash = "--", mdash = "---" }

local function html_text(html)
    local text = html:gsub("<[^>]*>", ""):gsub("&(#?%w+);", function(name)
        return ENTITIES[name]
    end)
    return plain(text)
end

-- The HTML page and anchor of an entry, as LDoc names them.
local function page_and_anchor(entry)
    local module = entry.module
    if module.kind == "classmod" then
        return "classes/" .. module.name .. ".html", module.name .. ":" .. entry.name
    end
    return "modules/" .. module.name .. ".html", entry.name
end

-- Every key of t whose value is a function (and a table too with tables).
local function public_keys(t, with_tables)
    local keys = {}
    for key, value in pairs(t) do
        if type(key) == "string" and key:sub(1, 1) ~= "_" and (type(value) == "function"
            or (with_tables and type(value) == "table")) then
            keys[#keys + 1] = key
        end
    end
    table.sort(keys)
    return keys
end

describe("make docs", function()
    local dir, pages

    setup(function()
        dir = shell.temp_dir()
        local output, code = shell.run(MAKE .. " docs API_DIR=" .. shell.quote(dir .. "/api"))
        assert(code == 0, output)
        pages = {}
    end)

    teardown(function()
        shell.remove_tree(dir)
    end)

    -- anchor -> summary text of one generated page.
    local function summaries(page)
        if not pages[page] then
            local html = shell.read_file(dir .. "/api/" .. page)
            assert(html, "make docs wrote no " .. page)
            local found = {}
            local row = '<td class="name" nowrap><a href="#([^"]+)">[^<]*</a></td>%s*'
                .. '<td class="summary">(.-)</td>'
            for anchor, cell in html:gmatch(row) do
                found[anchor] = html_text(cell)
            end
            pages[page] = found
        end
        return pages[page]
    end

    it("writes every module page", function()
        assert.is_not_nil(shell.read_file(dir .. "/api/index.html"))
        for _, module in ipairs(help.reference().modules) do
            local page = (module.kind == "classmod" and "classes/" or "modules/") .. module.name
                .. ".html"
            assert.is_not_nil(shell.read_file(dir .. "/api/" .. page), page)
        end
    end)

    it("shows help's first sentences", function()
        local count = 0
        for _, entry in ipairs(help.reference().entries) do
            local page, anchor = page_and_anchor(entry)
            local summary = summaries(page)[anchor]
            assert.is_not_nil(summary, page .. "#" .. anchor)
            assert.equals(summary, help_sentence(help.text(entry.display)),
                entry.display .. " (" .. entry.source .. ":" .. entry.line .. ")")
            count = count + 1
        end
        assert.is_true(count > 150, count .. " entries")
    end)

    it("renders no stray markup", function()
        -- Discount turns a_b_c, C*H*W and W^T in running text into
        -- emphasis and superscripts; LDoc's own emphasis marks only
        -- "optional" and "default".
        for _, module in ipairs(help.reference().modules) do
            local page = (module.kind == "classmod" and "classes/" or "modules/") .. module.name
                .. ".html"
            local html = shell.read_file(dir .. "/api/" .. page)
            for tag, text in html:gmatch("<(%a+)>([^<]*)</%1>") do
                if tag == "em" then
                    assert.is_true(text == "optional" or text == "default", page .. ": " .. text)
                end
                assert.is_false(tag == "sup" or tag == "del", page .. ": <" .. tag .. ">" .. text)
            end
        end
    end)

    it("links every module from the index", function()
        local index = shell.read_file(dir .. "/api/index.html")
        for _, module in ipairs(help.reference().modules) do
            assert.matches(">" .. module.name .. "</a>", index, 1, true)
        end
    end)
end)

describe("reference entries", function()
    -- Each table of public names and the prefix its names take in help().
    local TABLES = {
        { "lunet.", lunet, true },
        { "x:", lunet.Tensor },
        { "nn.", lunet.nn, true },
        { "optim.", lunet.optim, true },
        { "data.", lunet.data, true },
        { "image.", lunet.image },
        { "models.", models, true },
        { "models.vgg.", models.vgg, true },
        { "plot.", require "lunet.plot" },
        { "module:", require "lunet.nn.base" },
        { "module:", lunet.nn.Linear(1, 1), },
    }

    it("describe every public name", function()
        for _, row in ipairs(TABLES) do
            local prefix, t, with_tables = row[1], row[2], row[3]
            local keys
            if type(t) == "userdata" then
                keys = { "forward", "backward", "train", "evaluate", "parameters", "type",
                    "named_parameters", "num_parameters", "state_dict", "load_state_dict",
                    "zero_grad", "children" }
            else
                keys = public_keys(t, with_tables)
            end
            assert.is_true(#keys > 0, prefix)
            for _, key in ipairs(keys) do
                if not (prefix == "module:" and (key == "new" or key == "init")) then
                    assert.is_string(help.text(prefix .. key), prefix .. key)
                end
            end
        end
    end)

    it("describe the class methods", function()
        for _, name in ipairs({ "seq:add", "opt:step", "opt:zero_grad", "scheduler:step",
            "scheduler:get_last_lr", "loss:forward", "loss:backward",
            "data.fashion_mnist_classes", "assert.is_distribution", "assert.tensor_near",
            "assert.has_shape", "assert.is_finite" }) do
            assert.is_string(help.text(name), name)
        end
    end)

    it("name the function in the signature", function()
        assert.matches("^lunet.softmax%(x %[, dim%]%)\n", help.text("softmax"))
        assert.matches("^lunet.sum%(x %[, dim %[, keepdim%]%]%)\n", help.text("sum"))
        assert.matches("^x:view%(...%)\n", help.text("view"))
        assert.matches("^nn.Conv2d%(in_channels, out_channels, kernel_size %[, options%]%)\n",
            help.text("Conv2d"))
        assert.matches("^module:load_state_dict%(tensors %[, options%]%)\n",
            help.text("load_state_dict"))
        assert.matches("^image.load%(path%)\n", help.text("image.load"))
        assert.matches("^models.vgg.vgg16%(%[options%]%)\n", help.text("vgg16"))
        assert.matches("^nn.Module:extend%(name%)\n", help.text("extend"))
    end)

    it("state the dim convention", function()
        for _, entry in ipairs(help.reference().entries) do
            for _, param in ipairs(entry.params) do
                if param.name == "dim" then
                    assert.matches("1-based", param.text, 1, true, entry.display)
                    if param.optional then
                        assert.matches("last", param.text, 1, true, entry.display)
                    end
                end
            end
        end
    end)

    it("state the errors of checked functions", function()
        for _, name in ipairs({ "softmax", "sum", "matmul", "view", "Linear", "Conv2d",
            "CrossEntropyLoss", "load", "save", "batches", "SGD", "image.load",
            "load_state_dict", "vgg16", "training_curves" }) do
            local entry = help.entry(name)
            assert.is_string(entry.raise, name)
        end
    end)

    it("give each function a summary", function()
        for _, entry in ipairs(help.reference().entries) do
            assert.matches("[%.?]$", entry.summary, 1, false, entry.display)
            assert.is_true(#entry.summary > 12, entry.display)
        end
    end)
end)

describe("help", function()
    it("matches the reference for values", function()
        local cases = {
            { lunet.softmax, "softmax" },
            { lunet.ones(1).view, "view" },
            { lunet.nn.Linear(2, 2), "Linear" },
            { lunet.nn.Sequential(), "Sequential" },
            { lunet.nn, "nn" },
            { lunet.image.load, "image.load" },
            { lunet.load, "lunet.load" },
            { lunet.optim.SGD, "SGD" },
            { lunet.optim.SGD(lunet.nn.Linear(2, 2):parameters(), { lr = 0.1 }), "SGD" },
            { models.vgg.vgg11, "vgg11" },
            { models.vgg.vgg11({ width = 1 / 16, num_classes = 2 }), "VGG" },
            { models.fashion_vgg, "fashion_vgg" },
            { lunet.data.batches, "batches" },
            { lunet.ones(1), "Tensor" },
        }
        for _, case in ipairs(cases) do
            local value, name = case[1], case[2]
            local output = help_output(value)
            assert.equals(help.text(name), output, name)
        end
    end)

    it("prints the reference's first sentence", function()
        local entry = help.entry("softmax")
        assert.equals(plain(entry.summary), help_sentence(help_output(lunet.softmax)))
        assert.equals("Returns exp(x) / sum(exp(x)) along dim, so that each slice along dim "
            .. "is a probability distribution.", help_sentence(help_output("softmax")))
    end)

    it("tells load apart", function()
        assert.matches("^lunet.load%(path%)", help_output(lunet.load))
        assert.matches("^image.load%(path%)", help_output(lunet.image.load))
    end)

    it("lists every section", function()
        local output = help_output()
        for _, title in ipairs({ "Creating tensors:", "Views and copies:",
            "Losses (lunet.nn):", "Optimizers (lunet.optim):", "VGG (lunet.models):" }) do
            assert.matches(title, output, 1, true)
        end
    end)
end)

describe("lunet -h", function()
    it("explains every option and the script", function()
        local output, code = shell.run(shell.quote(shell.ROOT .. "/lunet") .. " -h")
        assert.equals(0, code)
        for _, text in ipairs({ "usage: ", "script [args]", "arg[1]", "arg[0]", "-e STAT",
            "-i ", "-v ", "-h, --help", "--  ", "standard input", "Exit status" }) do
            assert.matches(text, output, 1, true)
        end
    end)
end)

describe("help.parse", function()
    local SOURCE = [[
--- A module.
-- @module demo
-- @prefix demo.

--- Things.
-- @section things

--- Does a thing. More text
-- on two lines.
-- @function thing
-- @tparam Tensor x the input
-- @tparam[opt=-1] int dim the dim
-- @treturn[1] number without dim
-- @treturn[2] Tensor with dim
-- @raise when dim is bad,
-- as always.
-- @usage demo.thing(x)
]]

    it("reads a function entry", function()
        local module = help.parse(SOURCE, "demo.lua")
        assert.equals("demo", module.name)
        assert.equals(1, #module.entries)
        local entry = module.entries[1]
        assert.equals("demo.thing(x [, dim])", entry.signature)
        assert.equals("Does a thing.", entry.summary)
        assert.equals("More text\non two lines.", entry.description)
        assert.equals("-1", entry.params[2].default)
        assert.is_true(entry.params[2].optional)
        assert.equals("int", entry.params[2].type)
        assert.equals(2, entry.returns[2].group)
        assert.equals("when dim is bad,\nas always.", entry.raise)
        assert.equals("Things", entry.section.title)
        assert.equals(8, entry.line)
    end)

    it("rejects a file without a module", function()
        local ok, err = pcall(help.parse, "--- Text.\n-- @function f\n", "bad.lua")
        assert.is_false(ok)
        assert.matches("help: bad.lua has no @module or @classmod block", err, 1, true)
    end)
end)
