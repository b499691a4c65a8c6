-- The lunet executable's options, as a shell user runs them.
local LUNET = os.getenv("LUNET_EXE") or "./lunet"

local function run(arguments, input)
    local command = LUNET .. " " .. arguments .. " 2>&1"
    if input then
        command = "printf '%s' '" .. input .. "' | " .. command
    end
    local pipe = assert(io.popen(command))
    local output = pipe:read("a")
    local ok = pipe:close()
    return output, ok
end

describe("lunet -e", function()
    it("sees the lunet and nn globals", function()
        local output, ok = run("-e 'print(lunet.softmax(lunet.ones(2)):sum(), nn ~= nil)'")
        assert.is_true(ok)
        assert.are.equal("1.0\ttrue\n", output)
    end)

    it("sees help", function()
        local output = run("-e 'help(lunet.softmax)'")
        assert.matches("lunet.softmax(x [, dim])", output, 1, true)
    end)

    it("hands its globals to the REPL after -i", function()
        local output, ok = run("-e 'x = lunet.arange(3)' -i", "print(x:numel())\n")
        assert.is_true(ok)
        assert.matches("3", output, 1, true)
    end)

    it("stops at an error with status 1", function()
        local output, ok = run("-e 'lunet.zeros(-1)' -e 'print(\"not reached\")'")
        assert.is_falsy(ok)
        assert.matches("zeros: size -1 is negative", output, 1, true)
        assert.is_nil(output:find("not reached", 1, true))
    end)
end)

describe("lunet script", function()
    it("passes arguments in arg", function()
        local path = os.tmpname()
        local file = assert(io.open(path, "w"))
        file:write("local lunet = require 'lunet'\nprint(arg[1], arg[2], lunet.ones(2):sum())\n")
        file:close()
        local output, ok = run(path .. " a b")
        os.remove(path)
        assert.is_true(ok)
        assert.are.equal("a\tb\t2.0\n", output)
    end)

    it("sets no lunet global in scripts", function()
        local path = os.tmpname()
        local file = assert(io.open(path, "w"))
        file:write("print(rawget(_G, 'lunet'))\n")
        file:close()
        local output = run(path)
        os.remove(path)
        assert.are.equal("nil\n", output)
    end)
end)
