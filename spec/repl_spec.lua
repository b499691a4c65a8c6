-- The lunet executable: options, the REPL on a pipe and on a terminal, and
-- the Lua helpers behind printing, completion and help().
local lunet = require "lunet"
local repl = require "lunet.repl"
local help = require "lunet.help"

local ROOT = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
local LUNET = ROOT .. "/lunet"

-- Every run is killed after this many seconds, so a hang fails the spec.
local TIMEOUT = 20

local function quote(s)
    return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function write_file(path, text)
    local file = assert(io.open(path, "wb"))
    file:write(text)
    file:close()
end

local function read_file(path)
    local file = io.open(path, "rb")
    if not file then
        return nil
    end
    local text = file:read("a")
    file:close()
    return text
end

-- A new empty directory, used as $HOME so the history file is the test's own.
local function temp_dir()
    local path = os.tmpname()
    os.remove(path)
    assert(os.execute("mkdir -p " .. quote(path)))
    return path
end

-- Runs a shell command; returns its output (stdout and stderr) and exit code.
local function shell(command)
    local pipe = assert(io.popen(command .. " 2>&1", "r"))
    local output = pipe:read("a")
    local _, _, code = pipe:close()
    return output, code
end

-- Runs lunet with arguments and input on a pipe.
local function run(args, input)
    local home = temp_dir()
    write_file(home .. "/input", input or "")
    local output, code = shell(string.format("HOME=%s timeout %d %s %s < %s", quote(home),
        TIMEOUT, quote(LUNET), args, quote(home .. "/input")))
    return output, code, home
end

-- Runs the REPL on a pipe with the given lines.
local function session(input)
    return run("", input)
end

-- The output as lines, without prompts at their start.
local function lines_of(output)
    local lines = {}
    for line in (output .. "\n"):gmatch("(.-)\r?\n") do
        line = line:gsub("^[>%s]*> ", ""):gsub("^>> ", "")
        lines[#lines + 1] = line
    end
    return lines
end

local function has_line(output, expected)
    for _, line in ipairs(lines_of(output)) do
        if line == expected then
            return true
        end
    end
    return false
end

-- Types steps into lunet on a pseudo-terminal made by script(1), pausing
-- between steps so each keystroke reaches readline (or the running
-- statement) in turn. Returns the screen text without escape sequences.
local function terminal(steps)
    local home = temp_dir()
    local parts = { "sleep 0.4" }
    for i, step in ipairs(steps) do
        local path = string.format("%s/step%d", home, i)
        write_file(path, step)
        parts[#parts + 1] = "cat " .. quote(path)
        parts[#parts + 1] = "sleep 0.3"
    end
    -- script(1) runs the command through $SHELL or /bin/sh. Without exec, dash
    -- also receives each Ctrl-C and kills itself by SIGINT after lunet exits.
    local command = string.format("(%s) | HOME=%s timeout %d script -qfec %s /dev/null",
        table.concat(parts, "; "), quote(home), TIMEOUT, quote("exec " .. quote(LUNET)))
    local output, code = shell(command)
    output = output:gsub("\27%[[%d;?]*%a", ""):gsub("\r", "")
    return output, code, home
end

describe("lunet options", function()
    it("-h lists every option", function()
        local output, code = run("-h")
        assert.equals(0, code)
        for _, option in ipairs({ "-e STAT", "-i", "-v", "-h, --help", "--", "-  " }) do
            assert.matches(option, output, 1, true)
        end
        assert.matches("REPL", output, 1, true)
    end)

    it("--help prints the same text", function()
        assert.equals(run("-h"), run("--help"))
    end)

    it("-v prints the version and config", function()
        local output, code = run("-v")
        assert.equals(0, code)
        assert.matches("lunet " .. lunet.config().version, output, 1, true)
        assert.matches("num_threads: ", output, 1, true)
    end)

    it("-e runs a statement and exits", function()
        local output, code = run("-e " .. quote("print(require('lunet').ones(2):sum())"))
        assert.equals(0, code)
        assert.equals("2.0\n", output)
    end)

    it("-e reports an error and fails", function()
        local output, code = run("-e " .. quote("error('bad thing')"))
        assert.equals(1, code)
        assert.matches("bad thing", output, 1, true)
    end)

    it("runs a script with arg", function()
        local dir = temp_dir()
        write_file(dir .. "/script.lua", "print(arg[0]:match('script.lua'), ...)\n")
        local output, code = run(quote(dir .. "/script.lua") .. " one two")
        assert.equals(0, code)
        assert.equals("script.lua\tone\ttwo\n", output)
    end)

    it("-i starts the REPL after -e", function()
        local output, code = run("-i -e " .. quote("x = 20"), "x + 22\n")
        assert.equals(0, code)
        assert.is_true(has_line(output, "42"))
    end)

    it("-i starts the REPL after a failing script", function()
        local dir = temp_dir()
        write_file(dir .. "/fail.lua", "y = 7\nerror('script failed')\n")
        local output = run("-i " .. quote(dir .. "/fail.lua"), "y * 6\n")
        assert.matches("script failed", output, 1, true)
        assert.is_true(has_line(output, "42"))
    end)

    it("rejects an unknown option", function()
        local output, code = run("-x")
        assert.equals(1, code)
        assert.matches("lunet: unrecognized option '-x'", output, 1, true)
        assert.matches("usage:", output, 1, true)
    end)

    it("rejects -e without a statement", function()
        local output, code = run("-e")
        assert.equals(1, code)
        assert.matches("option '-e' needs a statement", output, 1, true)
    end)
end)

describe("REPL on a pipe", function()
    it("prints an expression's value", function()
        local output, code = session("1 + 1\n")
        assert.equals(0, code)
        assert.is_true(has_line(output, "2"))
    end)

    it("prints a tensor as tostring does", function()
        local output = session("lunet.ones(2, 2)\n")
        assert.matches(tostring(lunet.ones(2, 2)), output, 1, true)
    end)

    it("prints several values with tabs", function()
        assert.is_true(has_line(session("1, 'a', nil\n"), "1\ta\tnil"))
    end)

    it("prints a table's fields", function()
        local output = session("{3, 4, b = 'x', a = 1}\n")
        assert.is_true(has_line(output, '{3, 4, a = 1, b = "x"}'))
    end)

    it("hides the value after a semicolon", function()
        local output = session("40 + 2;\n'shown'\n")
        assert.is_false(has_line(output, "42"))
        assert.is_true(has_line(output, "shown"))
    end)

    it("prints nothing for a statement", function()
        local output = session("x = 5\n")
        assert.equals("> > \n", output)
    end)

    it("continues an open function", function()
        local output = session("function twice(x)\n  return 2 * x\nend\ntwice(21)\n")
        assert.matches(">> >> ", output, 1, true)
        assert.is_true(has_line(output, "42"))
    end)

    it("continues an open table", function()
        assert.is_true(has_line(session("{1,\n2}\n"), "{1, 2}"))
    end)

    it("continues a long string", function()
        assert.is_true(has_line(session("s = [[a\nb]]\n#s\n"), "3"))
    end)

    it("keeps a top-level local", function()
        assert.is_true(has_line(session("local n = 41\nn + 1\n"), "42"))
    end)

    it("carries on after an error", function()
        local output = session("error('boom')\n'after'\n")
        assert.matches("stdin:1: boom", output, 1, true)
        assert.is_true(has_line(output, "after"))
    end)

    it("reports an expression's error on line 1", function()
        local output = session("x = lunet.ones(2)\nx[0]\nx[1] -- a comment\n")
        assert.matches("stdin:1: index: index 0 is out of range", output, 1, true)
        assert.is_true(has_line(output, "1.0"))
    end)

    it("reports a syntax error", function()
        local output = session("x = = 1\n'after'\n")
        assert.matches("stdin:1: unexpected symbol near '='", output, 1, true)
        assert.is_true(has_line(output, "after"))
    end)

    it("shows a traceback from a function", function()
        local output = session("function inner() error('deep') end\nfunction outer() inner() end\n"
            .. "outer()\n")
        assert.matches("stdin:1: deep\nstack traceback:", output, 1, true)
        assert.matches("in function 'inner'", output, 1, true)
        assert.matches("in function 'outer'", output, 1, true)
        assert.matches("stdin:1: in main chunk", output, 1, true)
    end)

    it("shows no traceback for a direct error", function()
        local output = session("lunet.zeros(-1)\n")
        assert.matches("zeros: ", output, 1, true)
        assert.not_matches("stack traceback", output, 1, true)
    end)

    it("reports a statement cut off by the end of input", function()
        local output, code = session("function f()\n")
        assert.equals(0, code)
        assert.matches("'end' expected", output, 1, true)
    end)

    it("preloads lunet and help", function()
        local output = session("type(lunet.zeros), type(help)\n")
        assert.is_true(has_line(output, "function\tfunction"))
    end)

    it("resolves nn from lunet.nn", function()
        local output = session("nn == lunet.nn\n")
        assert.is_true(has_line(output, "true"))
    end)

    it("prints help for softmax", function()
        local output = session("help('softmax')\n")
        assert.matches("lunet.softmax(x [, dim])", output, 1, true)
        assert.matches("sum", output, 1, true)
    end)

    it("keeps no history without a terminal", function()
        local _, _, home = session("1 + 1\n")
        assert.is_nil(read_file(home .. "/.lunet_history"))
    end)
end)

describe("REPL on a terminal", function()
    -- One session types everything, because each start costs the pauses.
    local output, code, home

    setup(function()
        output, code, home = terminal({
            "1 + 1\n",
            "lunet.ones(2, 3)\n",
            "function twice(x)\n",
            "  return 2 * x\n",
            "end\n",
            "twice(21)\n",
            "error('bo' .. 'om')\n",
            "'still' .. 'alive'\n",
            "t = lunet.ones(2, 3)\n",
            "t:resh\t",
            "(3, 2)\n",
            "lunet.zer\t",
            "(2)\n",
            "t:si\t\t",
            "\3",
            "not finished",
            "\3",
            "while true do end\n",
            "\3",
            "print('af' .. 'ter')\n",
            "\4",
        })
    end)

    it("exits with status 0 on Ctrl-D", function()
        assert.equals(0, code)
    end)

    it("prints an expression's value", function()
        assert.is_true(has_line(output, "2"))
    end)

    it("prints a tensor", function()
        assert.matches("tensor([[1., 1., 1.],", output, 1, true)
    end)

    it("continues a function definition", function()
        assert.matches(">>   return 2 * x", output, 1, true)
        assert.is_true(has_line(output, "42"))
    end)

    it("carries on after an error", function()
        assert.is_true(has_line(output, "stdin:1: boom"))
        assert.is_true(has_line(output, "stillalive"))
    end)

    it("completes a tensor method", function()
        assert.matches("t:reshape(3, 2)", output, 1, true)
        assert.matches("size=3x2", output, 1, true)
    end)

    it("completes a module field", function()
        assert.matches("lunet.zeros(2)", output, 1, true)
        assert.matches("tensor([0., 0.], size=2)", output, 1, true)
    end)

    it("lists method completions by name", function()
        -- The list shows "sigmoid", not "t:sigmoid".
        assert.matches("\nsigmoid +sigmoid_ ", output)
        assert.not_matches("t:sigmoid", output, 1, true)
    end)

    it("clears the line on Ctrl-C", function()
        assert.matches("not finished^C\n> ", output, 1, true)
    end)

    it("interrupts a long loop", function()
        assert.matches("interrupted!", output, 1, true)
        assert.is_true(has_line(output, "after"))
    end)

    it("writes the history file", function()
        local history = read_file(home .. "/.lunet_history")
        assert.matches("^1 %+ 1\n", history)
        assert.matches("\ntwice%(21%)\n", history)
        assert.matches("\nprint%('af' %.%. 'ter'%)\n$", history)
    end)
end)

describe("repl.format", function()
    it("sorts numbers before strings", function()
        assert.equals('{10, 20, [2.5] = true, a = 1, b = "x"}',
            repl.format({ 10, 20, b = "x", a = 1, [2.5] = true }))
    end)

    it("shows nested tables by address", function()
        local inner = {}
        assert.equals("{inner = " .. tostring(inner) .. "}", repl.format({ inner = inner }))
    end)

    it("shows nested tensors by shape", function()
        assert.equals("{x = <tensor 2x3>}", repl.format({ x = lunet.zeros(2, 3) }))
    end)

    it("quotes and escapes nested strings", function()
        assert.equals('{"a\\nb", "say \\"hi\\""}', repl.format({ "a\nb", 'say "hi"' }))
    end)

    it("truncates after twenty entries", function()
        local t = {}
        for i = 1, 25 do
            t[i] = i
        end
        local text = repl.format(t)
        assert.matches("^{1, 2, 3,", text)
        assert.matches("20, ... (5 more)}", text, 1, true)
    end)

    it("keeps the smallest keys when truncating", function()
        local t = {}
        for i = 30, 1, -1 do
            t[string.format("k%02d", i)] = i
        end
        local text = repl.format(t)
        assert.matches("^{k01 = 1, k02 = 2,", text)
        assert.matches("k20 = 20, ... (10 more)}", text, 1, true)
    end)

    it("prints an empty table", function()
        assert.equals("{}", repl.format({}))
    end)

    it("uses __tostring when present", function()
        local object = setmetatable({}, { __tostring = function() return "object!" end })
        assert.equals("object!", repl.format(object))
    end)

    it("survives a failing __tostring", function()
        local object = setmetatable({}, { __tostring = function() error("broken") end })
        assert.matches("tostring failed: .*broken", repl.format(object))
        assert.matches("^{<table: tostring failed", repl.format({ object }))
    end)

    it("shows a closed tensor", function()
        local t = lunet.zeros(2)
        t:close()
        assert.equals("{<closed tensor>}", repl.format({ t }))
    end)
end)

describe("repl.complete", function()
    local function contains(list, value)
        for _, item in ipairs(list) do
            if item == value then
                return true
            end
        end
        return false
    end

    it("completes globals and keywords", function()
        local matches = repl.complete("whi")
        assert.same({ "while" }, matches)
        assert.is_true(contains(repl.complete("pri"), "print"))
    end)

    it("completes module fields", function()
        _G.lunet_for_spec = lunet
        local matches = repl.complete("lunet_for_spec.zer")
        _G.lunet_for_spec = nil
        assert.same({ "lunet_for_spec.zeros" }, matches)
    end)

    it("completes tensor methods", function()
        _G.t_for_spec = lunet.ones(2)
        local methods = repl.complete("t_for_spec:resh")
        local fields = repl.complete("t_for_spec.si")
        _G.t_for_spec = nil
        assert.same({ "t_for_spec:reshape" }, methods)
        assert.is_true(contains(fields, "t_for_spec.size"))
    end)

    it("completes layer fields and methods", function()
        _G.layer_for_spec = lunet.nn.Linear(2, 3)
        local fields = repl.complete("layer_for_spec.we")
        local methods = repl.complete("layer_for_spec:for")
        _G.layer_for_spec = nil
        assert.same({ "layer_for_spec.weight" }, fields)
        assert.same({ "layer_for_spec:forward" }, methods)
    end)

    it("completes inherited methods of Lua modules", function()
        _G.seq_for_spec = lunet.nn.Sequential()
        local matches = repl.complete("seq_for_spec:state")
        _G.seq_for_spec = nil
        assert.same({ "seq_for_spec:state_dict" }, matches)
    end)

    it("offers only functions after a colon", function()
        _G.obj_for_spec = { value = 1, run = function() end }
        local matches = repl.complete("obj_for_spec:")
        _G.obj_for_spec = nil
        assert.same({ "obj_for_spec:run" }, matches)
    end)

    it("hides private names unless asked", function()
        _G.obj_for_spec = { _private = 1, public = 2 }
        local plain = repl.complete("obj_for_spec.")
        local private = repl.complete("obj_for_spec._")
        _G.obj_for_spec = nil
        assert.same({ "obj_for_spec.public" }, plain)
        assert.same({ "obj_for_spec._private" }, private)
    end)

    it("returns nothing for unknown paths", function()
        assert.same({}, repl.complete("no_such_global.x"))
        assert.same({}, repl.complete("f(x).y"))
    end)
end)

describe("help", function()
    -- help prints; capture what it prints.
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

    local REQUIRED = { "softmax", "log_softmax", "sum", "max", "argmax", "matmul", "add",
        "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d", "ReLU",
        "Dropout", "Softmax", "LogSoftmax", "Sequential", "CrossEntropyLoss" }

    it("describes the required names", function()
        for _, name in ipairs(REQUIRED) do
            assert.is_string(help.text(name), name)
        end
    end)

    -- What lunet, its tensor methods and lunet.nn held when help.lua was
    -- last brought up to date.
    local KNOWN = [[
        AdaptiveAvgPool2d AvgPool2d BCEWithLogitsLoss BatchNorm1d BatchNorm2d Conv2d
        CrossEntropyLoss Dropout Flatten Identity LeakyReLU Linear MSELoss MaxPool2d Module
        NLLLoss ReLU Sequential Sigmoid Tanh abs abs_ add add_ arange argmax argmin clamp
        clamp_ clone close config contiguous copy_ dim div div_ empty eq exp exp_ expand
        expand_as fill_ flat full ge get_num_threads gt index_select is_contiguous
        is_native_layer is_tensor item le load log log_ lt manual_seed matmul max maximum mean
        min minimum mm mul mul_ narrow ne neg neg_ normal_ numel ones permute pow pow_ rand
        randn relu relu_ reshape save select set_num_threads sigmoid sigmoid_ size sort sqrt
        sqrt_ squeeze stride sub sub_ sum t tanh tanh_ tensor time topk totable transpose
        uniform_ unsqueeze view zero_ zeros softmax log_softmax softmax_backward
        log_softmax_backward logsumexp]]

    it("describes every known name", function()
        for name in KNOWN:gmatch("%S+") do
            assert.is_string(help.text(name), name)
        end
    end)

    -- Functions added since help.lua was last updated show up as pending
    -- rather than failing other people's work.
    it("describes every current function", function()
        local missing = {}
        local function check(prefix, t, selected)
            for name, value in pairs(t) do
                if name:sub(1, 1) ~= "_" and selected(value) and not help.text(name) then
                    missing[#missing + 1] = prefix .. name
                end
            end
        end
        local function is_function(value)
            return type(value) == "function"
        end
        check("lunet.", lunet, is_function)
        check("x:", lunet.Tensor, is_function)
        check("nn.", lunet.nn, function(value)
            return type(value) == "function" or type(value) == "table"
        end)
        table.sort(missing)
        if #missing > 0 then
            pending("help.lua has no description for " .. table.concat(missing, ", "))
        end
    end)

    it("finds a function by value", function()
        assert.matches("^lunet.matmul%(a, b%)", help_output(lunet.matmul))
    end)

    it("finds a method by value", function()
        assert.matches("^x:reshape", help_output(lunet.ones(1).reshape))
    end)

    it("finds a name with a prefix", function()
        assert.equals(help_output("matmul"), help_output("lunet.matmul"))
    end)

    it("describes a tensor", function()
        assert.matches("float32 n%-d array", help_output(lunet.ones(1)))
    end)

    it("describes a layer instance", function()
        assert.matches("^nn.Linear%(", help_output(lunet.nn.Linear(2, 2)))
    end)

    it("describes a model by its base class", function()
        local Model = lunet.nn.Sequential:extend("Model")
        local output = help_output(Model())
        assert.matches("^Model is a subclass of nn.Sequential", output)
        assert.equals(output, help_output(Model))
    end)

    it("falls back from an in-place method", function()
        assert.matches("in%-place form", help_output("relu_"))
    end)

    it("prints an overview without arguments", function()
        local output = help_output()
        assert.matches("Creating tensors:", output, 1, true)
        assert.matches("softmax", output, 1, true)
    end)

    local HINT = " (help takes a lunet function, tensor method, layer or model, or its " ..
        "name; help() lists them all)"

    it("reports an unknown name", function()
        assert.equals("help: no description for nope" .. HINT, help_output("nope"))
    end)

    it("reports an unknown value", function()
        assert.equals("help: no description for 42" .. HINT, help_output(42))
    end)

    it("names a standard library function", function()
        assert.matches("^help: no description for string.format %(part of Lua's",
            help_output(string.format))
    end)
end)
