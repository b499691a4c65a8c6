-- docs/guide.md runs as written. The comment at the top of the guide states
-- the rules: the ```lua blocks of a section run as one chunk, ```sh run
-- blocks run with sh before them, and ```lua spec blocks run under busted.
-- The specs run from the root of the checkout, as `make test` does.
local shell = require "spec.helpers.shell"

local GUIDE = "docs/guide.md"

-- Every run of a shell block or busted is killed after this many seconds.
local TIMEOUT = 300

-- Reads the guide into sections: {title, line, blocks}, each block
-- {kind = "lua" | "sh run" | "lua spec", line, last_line, code}.
local function read_guide(text)
    local sections = { { title = "(before the first heading)", line = 1, blocks = {} } }
    local block
    local line_number = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
        line_number = line_number + 1
        if block then
            if line:find("^```%s*$") then
                block.last_line = line_number - 1
                block.code = table.concat(block.lines, "\n")
                block = nil
            else
                block.lines[#block.lines + 1] = line
            end
        elseif line:find("^```") then
            local info = line:match("^```%s*(.-)%s*$")
            block = { kind = info, line = line_number + 1, lines = {} }
            table.insert(sections[#sections].blocks, block)
        elseif line:find("^## ") then
            sections[#sections + 1] = { title = line:sub(4), line = line_number, blocks = {} }
        end
    end
    assert(block == nil, GUIDE .. ": the code block opened at line "
        .. (block and block.line - 1 or 0) .. " is not closed")
    return sections
end

-- The section's ```lua blocks as one chunk whose lines keep their line
-- numbers in the guide, so that an error names the guide's line.
local function section_chunk(section)
    local lines = {}
    for _, block in ipairs(section.blocks) do
        if block.kind == "lua" then
            for i = #lines + 1, block.line - 1 do
                lines[i] = ""
            end
            for i, line in ipairs(block.lines) do
                lines[block.line + i - 1] = line
            end
        end
    end
    return #lines > 0 and table.concat(lines, "\n") or nil
end

local function run_lua(section)
    local code = section_chunk(section)
    if not code then
        return
    end
    local printed = {}
    local env = setmetatable({
        print = function(...)
            local parts = table.pack(...)
            for i = 1, parts.n do
                parts[i] = tostring(parts[i])
            end
            printed[#printed + 1] = table.concat(parts, "\t")
        end,
    }, { __index = _G })
    local chunk, message = load(code, "@" .. GUIDE, "t", env)
    assert(chunk, message)
    local ok, err = xpcall(chunk, debug.traceback)
    assert(ok, "the Lua blocks of \"" .. section.title .. "\" failed: " .. tostring(err)
        .. "\nprinted so far:\n" .. table.concat(printed, "\n"))
end

local function run_shell(block)
    local script = os.tmpname()
    shell.write_file(script, block.code .. "\n")
    local output, code = shell.run(string.format("cd %s && timeout %d sh -e %s",
        shell.quote(shell.ROOT), TIMEOUT, shell.quote(script)))
    os.remove(script)
    assert(code == 0, string.format("%s:%d: the sh block exited with %s:\n%s", GUIDE,
        block.line, tostring(code), output))
end

local function run_spec(block, dir)
    local path = string.format("%s/guide_line_%d_spec.lua", dir, block.line)
    shell.write_file(path, block.code .. "\n")
    local output, code = shell.run(string.format(
        "cd %s && %s timeout %d /usr/bin/lua5.4 /usr/bin/busted --lpath= -o utfTerminal %s",
        shell.quote(shell.ROOT), shell.checkout_env(), TIMEOUT, shell.quote(path)))
    assert(code == 0, string.format("%s:%d: the spec block failed:\n%s", GUIDE, block.line,
        output))
    return output
end

describe("the guide", function()
    local text = shell.read_file(GUIDE)
    assert(text, "cannot read " .. GUIDE .. " from " .. os.getenv("PWD")
        .. "; run the specs from the root of the checkout")
    local sections = read_guide(text)

    it("states its checking rules", function()
        assert.matches("^<!%-%-", text)
        assert.matches("spec/guide_spec.lua", text, 1, true)
    end)

    it("links the testing docs", function()
        assert.matches("(testing.md)", text, 1, true)
        assert.matches("(robustness.md)", text, 1, true)
    end)

    it("covers the toolkit", function()
        for _, words in ipairs({ "dim convention", "Softmax", "VGG", "Fashion-MNIST",
            "PyTorch weights", "busted", "REPL" }) do
            local found = false
            for _, section in ipairs(sections) do
                found = found or section.title:find(words, 1, true) ~= nil
            end
            assert.is_true(found, words)
        end
    end)

    it("uses only known block kinds", function()
        local known = { lua = true, ["lua spec"] = true, sh = true, ["sh run"] = true,
            text = true }
        for _, section in ipairs(sections) do
            for _, block in ipairs(section.blocks) do
                assert.is_true(known[block.kind] == true,
                    string.format("%s:%d: unknown block kind '%s'", GUIDE, block.line - 1,
                        block.kind))
            end
        end
    end)

    describe("runs", function()
        local dir

        setup(function()
            dir = shell.temp_dir()
        end)

        teardown(function()
            shell.remove_tree(dir)
            shell.remove_tree("/tmp/lunet-guide")
        end)

        for _, section in ipairs(sections) do
            local has_code = false
            for _, block in ipairs(section.blocks) do
                has_code = has_code or block.kind == "lua" or block.kind == "sh run"
                    or block.kind == "lua spec"
            end
            if has_code then
                it(section.title, function()
                    for _, block in ipairs(section.blocks) do
                        if block.kind == "sh run" then
                            run_shell(block)
                        end
                    end
                    run_lua(section)
                    for _, block in ipairs(section.blocks) do
                        if block.kind == "lua spec" then
                            local output = run_spec(block, dir)
                            assert.matches(" 0 failures", output, 1, true)
                        end
                    end
                end)
            end
        end
    end)
end)

describe("guide checker", function()
    it("keeps guide line numbers", function()
        local sections = read_guide("# t\n\n## A\n\n```lua\nlocal x = 1\n```\n\ntext\n\n"
            .. "```lua\nerror('boom')\n```\n")
        local code = section_chunk(sections[2])
        local chunk = assert(load(code, "@" .. GUIDE))
        local ok, err = pcall(chunk)
        assert.is_false(ok)
        assert.matches(GUIDE .. ":12: boom", err, 1, true)
    end)

    it("shares locals within a section", function()
        local sections = read_guide("## A\n```lua\nlocal x = 41\n```\n```lua\nreturn x + 1\n```\n")
        local chunk = assert(load(section_chunk(sections[2])))
        assert.equals(42, chunk())
    end)

    it("reads the block kinds", function()
        local sections = read_guide("## A\n```sh run\nls\n```\n```lua spec\nx()\n```\n```text\nout\n```\n")
        local kinds = {}
        for i, block in ipairs(sections[2].blocks) do
            kinds[i] = block.kind
        end
        assert.same({ "sh run", "lua spec", "text" }, kinds)
        assert.equals(3, sections[2].blocks[1].line)
    end)

    it("rejects an unclosed block", function()
        local ok, err = pcall(read_guide, "## A\n```lua\nprint(1)\n")
        assert.is_false(ok)
        assert.matches("the code block opened at line 2 is not closed", err, 1, true)
    end)
end)
