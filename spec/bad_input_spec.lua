-- Robustness checks that are not one table row per function: every public
-- function has a bad-input case, out-of-memory errors say how much was
-- requested, errors raised in the middle of an operation leave the
-- interpreter working (and, under `make test-leaks`, leak nothing), closed
-- tensors, the tensor metamethods, and the documented results for NaN and
-- inf.
local lunet = require "lunet"
local core = require "lunet.core"
local errors = require "spec.helpers.errors"
local A = require "spec.helpers.bad_input"

local nn = lunet.nn

local case_lists = {
    require "spec.helpers.cases_tensor",
    require "spec.helpers.cases_nn",
    require "spec.helpers.cases_io",
    -- The parentheses keep require's second result out of the list.
    (require "spec.helpers.cases_training"),
}

local assert_error_from = errors.assert_error_from

-- The executable that `make test-sanitize` instruments, or ./lunet.
local LUNET = os.getenv("LUNET_EXE") or "./lunet"

-- Coverage ------------------------------------------------------------------------

-- Functions and callable tables (optimizer classes) count as functions.
local function is_callable(value)
    if type(value) == "function" then
        return true
    end
    local mt = (type(value) == "table" or type(value) == "userdata") and getmetatable(value)
    return type(mt) == "table" and mt.__call ~= nil
end

-- Appends prefix .. key for every public callable of t: keys that do not
-- start with "_" and are not in skip.
local function public_callables(list, prefix, t, skip)
    for key, value in pairs(t) do
        if type(key) == "string" and key:sub(1, 1) ~= "_" and is_callable(value)
            and not (skip and skip[key]) then
            list[#list + 1] = prefix .. key
        end
    end
end

local function covered_paths()
    local covered, cases = {}, {}
    for _, list in ipairs(case_lists) do
        for _, case in ipairs(list.cases) do
            covered[case.path] = true
            cases[case.path] = case
        end
        for _, path in ipairs(list.by_hand) do
            covered[path] = true
        end
    end
    return covered, cases
end

-- Paths this file checks by hand: the layer methods forward and backward
-- are checked per class ("Linear:forward"), and Module.new runs inside
-- every Module case (calling a class calls new).
local BY_HAND = {
    ["layer:forward"] = true,
    ["layer:backward"] = true,
    ["Module:new"] = true,
}

-- The sub-tables of lunet whose functions this suite enumerates.
local KNOWN_TABLES = { Tensor = true, nn = true, optim = true, data = true, image = true }

-- Builds an instance from the valid arguments of the case at path.
local function instance_of(cases, path)
    local case = cases[path]
    local args = {}
    for i, arg in ipairs(case.args) do
        args[i] = arg.valid()
    end
    return case.fn(table.unpack(args, 1, #case.args))
end

-- Every public method an instance reaches through its metatables' __index
-- tables (optimizers and schedulers are Lua classes).
local function instance_methods(instance, skip)
    local methods = {}
    local mt = getmetatable(instance)
    local seen = {}
    while type(mt) == "table" and not seen[mt] do
        seen[mt] = true
        local index = rawget(mt, "__index")
        if type(index) ~= "table" then
            break
        end
        for key, value in pairs(index) do
            if type(key) == "string" and key:sub(1, 1) ~= "_" and type(value) == "function"
                and not skip[key] then
                methods[key] = value
            end
        end
        mt = getmetatable(index)
    end
    return methods
end

describe("bad-input coverage", function()
    local covered, cases = covered_paths()

    local function missing(paths)
        local list = {}
        for _, path in ipairs(paths) do
            if not covered[path] and not BY_HAND[path] then
                list[#list + 1] = path
            end
        end
        table.sort(list)
        return list
    end

    it("covers every lunet function", function()
        local paths = {}
        public_callables(paths, "lunet.", lunet)
        assert.are.same({}, missing(paths))
    end)

    it("covers every tensor method", function()
        local paths = {}
        for key, value in pairs(lunet.Tensor) do
            -- A method that is also lunet.<key> shares its case.
            if type(value) == "function" and key:sub(1, 1) ~= "_"
                and not rawequal(lunet[key], value) then
                paths[#paths + 1] = "Tensor." .. key
            end
        end
        assert.are.same({}, missing(paths))
    end)

    it("enumerates every lunet sub-table", function()
        local unknown = {}
        for key, value in pairs(lunet) do
            if type(value) == "table" and not KNOWN_TABLES[key] then
                unknown[#unknown + 1] = "lunet." .. key
            end
        end
        table.sort(unknown)
        assert.are.same({}, unknown)
    end)

    it("covers every nn constructor", function()
        local paths = {}
        public_callables(paths, "nn.", nn, { Module = true })
        assert.are.same({}, missing(paths))
    end)

    it("covers forward and backward of native layers", function()
        local paths = {}
        for key, value in pairs(nn) do
            if type(value) == "function" and cases["nn." .. key] then
                local ok, layer = pcall(instance_of, cases, "nn." .. key)
                if ok and nn.is_native_layer(layer) then
                    paths[#paths + 1] = key .. ":forward"
                    paths[#paths + 1] = key .. ":backward"
                end
            end
        end
        assert.is_true(#paths >= 2 * 15)
        assert.are.same({}, missing(paths))
    end)

    it("covers methods of single layer classes", function()
        local paths = {}
        for key in pairs(nn) do
            if cases["nn." .. key] then
                local ok, layer = pcall(instance_of, cases, "nn." .. key)
                if ok and nn.is_native_layer(layer) then
                    public_callables(paths, key .. ":", getmetatable(layer).__methods or {})
                end
            end
        end
        assert.are.same({}, missing(paths))
    end)

    it("covers the shared layer methods", function()
        local paths = {}
        public_callables(paths, "layer:", core.nn._layer_methods)
        assert.are.same({}, missing(paths))
    end)

    it("covers Module and Sequential methods", function()
        local paths = {}
        public_callables(paths, "Module:", nn.Module)
        local own = {}
        for key, value in pairs(nn.Sequential) do
            -- init runs in nn.Sequential(...); super is the Module class.
            if not rawequal(rawget(nn.Module, key), value) and key ~= "init" and key ~= "super" then
                own[key] = value
            end
        end
        public_callables(paths, "Sequential:", own)
        assert.are.same({}, missing(paths))
    end)

    it("covers optimizers, schedulers and their methods", function()
        local paths = {}
        public_callables(paths, "optim.", lunet.optim)
        assert.are.same({}, missing(paths))

        -- Methods that several classes share count once: a case for
        -- SGD:zero_grad covers Adam:zero_grad when both are one function.
        local internal = { new = true, class = true, init = true, update = true,
            describe = true, rate = true }
        local tested = {}
        local methods_of = {}
        for name in pairs(lunet.optim) do
            local instance = instance_of(cases, "optim." .. name)
            methods_of[name] = instance_methods(instance, internal)
        end
        for name, methods in pairs(methods_of) do
            for method, fn in pairs(methods) do
                if covered[name .. ":" .. method] then
                    tested[fn] = true
                end
            end
        end
        local untested = {}
        for name, methods in pairs(methods_of) do
            for method, fn in pairs(methods) do
                if not tested[fn] then
                    untested[#untested + 1] = name .. ":" .. method
                end
            end
        end
        table.sort(untested)
        assert.are.same({}, untested)
    end)

    it("covers lunet.data and lunet.image", function()
        local paths = {}
        public_callables(paths, "data.", lunet.data)
        public_callables(paths, "image.", lunet.image)
        assert.are.same({}, missing(paths))
    end)

    -- Each module under lua/lunet/ and where its functions are checked;
    -- a new module fails the spec below until it gets an entry.
    local MODULES = {
        init = "the lunet table, enumerated above",
        nn = "lunet.nn, enumerated above",
        optim = "lunet.optim, enumerated above",
        data = "lunet.data, enumerated above",
        image = "lunet.image, enumerated above",
        plot = "plot.training_curves in spec/helpers/cases_io.lua",
        models = "lunet.models, checked in this file",
        help = "help(x), checked in this file",
        format = "tostring of tensors, checked with closed tensors in this file",
        repl = "the REPL's own helpers, checked by spec/repl_spec.lua",
        assertions = "luassert extensions, checked by spec/assertions_spec.lua",
        doc = "documentation text without functions",
    }

    it("knows every module under lua/lunet", function()
        local unknown = {}
        local pipe = assert(io.popen("ls lua/lunet"))
        for entry in pipe:lines() do
            local name = entry:gsub("%.lua$", "")
            if not MODULES[name] then
                unknown[#unknown + 1] = entry
            end
        end
        pipe:close()
        assert.are.same({}, unknown)
    end)

    it("covers every model file", function()
        local training = case_lists[4]
        local files = {}
        local pipe = assert(io.popen("ls models/*.lua"))
        for file in pipe:lines() do
            files[#files + 1] = file:match("^models/(.+)%.lua$")
        end
        pipe:close()
        assert.is_true(#files >= 1)
        for _, file in ipairs(files) do
            local found = false
            for _, path in ipairs(training.models) do
                found = found or path == "models." .. file or
                    path:sub(1, #file + 8) == "models." .. file .. "."
            end
            assert.is_true(found, "no bad-input case for models/" .. file .. ".lua")
        end
    end)
end)

-- Modules outside the lunet table -------------------------------------------------

describe("lua modules with bad input", function()
    it("lunet.models rejects unknown names", function()
        local models = require "lunet.models"
        assert_error_from("lunet.models", { "nonexistent", "vgg" }, function()
            return models.nonexistent
        end)
        assert.is_nil(models[5])
        assert.are.equal("function", type(models.simple_vgg))
    end)

    it("help describes any value", function()
        -- In a child lunet, because help prints to standard output.
        local script = "local lunet = require 'lunet'\n"
            .. "local help = require 'lunet.help'\n"
            .. "local closed = lunet.ones(2)\n"
            .. "closed:close()\n"
            .. "for _, v in ipairs({ 5, true, {}, 'no_such_function', print, lunet.ones(2), "
            .. "closed, lunet.nn.Linear(2, 3) }) do help.help(v) end\n"
            .. "help.help(nil)\n"
            .. "io.stderr:write('done\\n')\n"
        local path = os.tmpname()
        local file = assert(io.open(path, "w"))
        file:write(script)
        file:close()
        local pipe = assert(io.popen(LUNET .. " " .. path .. " 2>&1 >/dev/null"))
        local output = pipe:read("a")
        local ok = pipe:close()
        os.remove(path)
        assert.is_true(ok, output)
        assert.are.equal("done\n", output)
    end)

    it("plot warns when gnuplot cannot write", function()
        local folder = os.tmpname()
        local csv = folder .. ".csv"
        local file = assert(io.open(csv, "w"))
        file:write("epoch,step,train_loss,test_accuracy\n1,10,0.5,0.8\n")
        file:close()
        -- The warning also goes to standard error; keep it out of the spec output.
        local stderr, warned = io.stderr, {}
        io.stderr = {
            write = function(self, ...)
                warned[#warned + 1] = table.concat({ ... })
                return self
            end,
        }
        local ok, result, message = pcall(require("lunet.plot").training_curves, csv,
            "/nonexistent/lunet/curves.png")
        io.stderr = stderr
        os.remove(csv)
        os.remove(folder)
        assert.is_true(ok, tostring(result))
        assert.is_nil(result)
        assert.is_truthy(message:find("/nonexistent/lunet/curves.png", 1, true), message)
        assert.is_truthy(table.concat(warned):find(message, 1, true))
    end)
end)

-- Out of memory --------------------------------------------------------------------

describe("out of memory", function()
    -- 10^12 floats need 4000 GB, more than any machine this runs on.
    for _, name in ipairs({ "zeros", "ones", "empty", "rand", "randn" }) do
        it(name .. " reports the requested size", function()
            assert_error_from(name, { "out of memory", "1000000x1000000", "4000 GB" },
                lunet[name], 1e6, 1e6)
            A.sanity()
        end)
    end

    it("full reports the requested size", function()
        assert_error_from("full", { "out of memory", "4000 GB" }, lunet.full, 1e6, 1e6, 2)
    end)

    it("contiguous of a huge expanded view", function()
        local view = lunet.ones(1, 1):expand(1e6, 1e6)
        assert.are.equal(1e12, view:numel())
        assert_error_from("contiguous", { "out of memory", "4000 GB" }, view.contiguous, view)
        assert_error_from("clone", { "out of memory", "4000 GB" }, view.clone, view)
        A.sanity()
    end)

    it("matmul with a huge output", function()
        local a = lunet.ones(1, 1):expand(1e6, 1)
        local b = lunet.ones(1, 1):expand(1, 1e6)
        assert_error_from("matmul", { "out of memory", "1000000x1000000" }, lunet.matmul, a, b)
        A.sanity()
    end)

    it("layers with huge parameters", function()
        assert_error_from("Linear", { "out of memory", "4000 GB" }, nn.Linear, 1e6, 1e6)
        assert_error_from("Conv2d", { "out of memory" }, nn.Conv2d, 1e5, 1e5, 10)
        A.sanity()
    end)

    it("Conv2d with a huge padding", function()
        -- 2^31 x 2^31 outputs per channel: more than the plan can address.
        local conv = nn.Conv2d(1, 1, 3, { padding = 1 << 30 })
        local input = lunet.rand(1, 1, 2, 2)
        assert_error_from("Conv2d", { "2147483648x2147483648", "too large" }, conv.forward, conv,
            input)
        assert_error_from("Conv2d.backward", { "too large" }, conv.backward, conv, input,
            lunet.rand(1, 1, 2, 2))
        A.sanity()
    end)

    it("pooling with a huge window", function()
        -- Each window covers 2^60 cells, nearly all padding: only the real
        -- cells are visited, and the work estimate must not overflow.
        local x = lunet.rand(1, 1, 2, 2)
        local avg = nn.AvgPool2d(1 << 30, { padding = 1 << 29, stride = 1 })
        local y = avg:forward(x)
        assert.are.same({ 1, 1, 3, 3 }, y:size())
        assert.are.same({ 1, 1, 2, 2 }, avg:backward(x, y):size())
        local max = nn.MaxPool2d(1 << 30, { padding = 1 << 29, stride = 1 })
        assert.are.same({ 1, 1, 3, 3 }, max:forward(x):size())
    end)

    it("leaves the REPL running", function()
        local pipe = assert(io.popen("printf 'lunet.zeros(1e6, 1e6)\\nprint(1 + 1)\\n' | "
            .. LUNET .. " 2>&1"))
        local output = pipe:read("a")
        local ok = pipe:close()
        assert.is_true(ok, output)
        assert.is_truthy(output:find("zeros: out of memory", 1, true), output)
        assert.is_truthy(output:find("\n2\n", 1, true) or output:find("> 2\n", 1, true), output)
    end)
end)

-- Errors in the middle of an operation -----------------------------------------------
--
-- Each call below fails after something was allocated: an output, a
-- contiguous copy of an operand, a sort buffer, a tensor read from a file.
-- The specs check the message; `make test-leaks` checks that nothing leaks.

-- Runs script in a child lunet whose allocations above about 3 GB fail;
-- returns whether it exited normally and its output.
local function run_with_memory_limit(script)
    local path = os.tmpname()
    local file = assert(io.open(path, "w"))
    file:write(script)
    file:close()
    local command
    if os.getenv("LUNET_EXE") and os.getenv("ASAN_OPTIONS") then
        -- ASan reserves terabytes of address space for its shadow memory,
        -- so ulimit -v would stop it from starting: its own limit serves.
        command = "ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=3000:"
            .. "detect_leaks=0 " .. LUNET .. " " .. path
    else
        command = "ulimit -v 3000000 && " .. LUNET .. " " .. path
    end
    local pipe = assert(io.popen("{ " .. command .. "; } 2>&1"))
    local output = pipe:read("a")
    local ok = pipe:close()
    os.remove(path)
    return ok, output
end

describe("errors after allocation", function()
    it("image.resize out of memory for its weights", function()
        -- The 1 GB output fits; the 4 GB of row weights do not, while the
        -- 2 GB of row fractions do, which once freed those twice.
        local ok, output = run_with_memory_limit("local lunet = require 'lunet'\n"
            .. "print(pcall(lunet.image.resize, lunet.rand(1, 2, 2), { 2 ^ 28, 1 }))\n"
            .. "print(lunet.ones(2):sum())\n")
        assert.is_true(ok, output)
        assert.is_truthy(output:find("false\timage.resize: out of memory", 1, true), output)
        assert.is_truthy(output:find("\n2.0\n", 1, true), output)
    end)

    it("matmul copying a huge operand", function()
        -- a needs a contiguous copy (BLAS cannot read stride 0); copying b
        -- then fails.
        local a = lunet.ones(1, 1):expand(2, 1e6)
        local b = lunet.ones(1, 1):expand(1e6, 1e6)
        assert_error_from("matmul", { "out of memory" }, lunet.matmul, a, b)
        assert_error_from("mm", { "out of memory" }, lunet.mm, a, b)
        A.sanity()
    end)

    it("matmul of mismatched strided views", function()
        local a = A.strided_copy(lunet.rand(2, 3))
        local b = A.strided_copy(lunet.rand(4, 5))
        assert_error_from("matmul", { "2x3", "4x5" }, lunet.matmul, a, b)
    end)

    it("Linear on a huge expanded batch", function()
        local layer = nn.Linear(2, 3)
        local input = lunet.ones(1, 2):expand(1e12, 2)
        assert_error_from("Linear", { "out of memory" }, layer.forward, layer, input)
        A.sanity()
    end)

    it("Linear.backward after gradients exist", function()
        local layer = nn.Linear(2, 3)
        local input = lunet.rand(4, 2)
        layer:backward(input, layer:forward(input))
        assert_error_from("Linear.backward", { "4x2", "4x3" }, layer.backward, layer, input,
            lunet.rand(4, 2))
        assert.are.same({ 3, 2 }, layer.weight.grad:size())
    end)

    it("Linear with a strided weight and a wrong input", function()
        local layer = nn.Linear(3, 4)
        layer.weight = A.strided_copy(layer.weight)
        assert_error_from("Linear", { "2x5" }, layer.forward, layer, lunet.rand(2, 5))
        local input = A.strided_copy(lunet.rand(2, 3))
        assert.are.same({ 2, 4 }, layer:forward(input):size())
    end)

    it("Conv2d on a huge expanded input", function()
        local conv = nn.Conv2d(2, 4, 3)
        local input = lunet.ones(1, 1, 1, 1):expand(1, 2, 1e6, 1e6)
        assert_error_from("Conv2d", { "out of memory" }, conv.forward, conv, input)
        A.sanity()
    end)

    it("Conv2d with a bias of the wrong size", function()
        local conv = nn.Conv2d(2, 4, 3)
        local input = lunet.rand(1, 2, 5, 5)
        conv:forward(input)
        conv.bias = lunet.ones(5)
        assert_error_from("Conv2d", { "bias", "5" }, conv.forward, conv, input)
        assert_error_from("Conv2d.backward", { "bias", "5" }, conv.backward, conv, input,
            lunet.rand(1, 4, 3, 3))
    end)

    it("copy_ between overlapping views of different shapes", function()
        -- The source is copied to a temporary first, since it overlaps self.
        local x = lunet.rand(4, 3)
        local dst, src = x:narrow(1, 1, 2), x:narrow(1, 2, 3)
        assert_error_from("copy_", { "3x3", "2x3" }, dst.copy_, dst, src)
    end)

    it("reshape copying a huge view", function()
        local x = lunet.rand(2, 1):expand(2, 1e12)
        assert_error_from("reshape", { "out of memory" }, x.reshape, x, 2e12)
        A.sanity()
    end)

    it("topk sorting a huge view", function()
        local x = lunet.ones(1):expand(1e12)
        assert_error_from("topk", { "out of memory" }, lunet.topk, x, 1)
        A.sanity()
    end)

    describe("loading broken files", function()
        local folder

        setup(function()
            folder = os.tmpname()
            os.remove(folder)
            assert(os.execute("mkdir -p '" .. folder .. "'"))
        end)

        teardown(function()
            os.execute("rm -rf '" .. folder .. "'")
        end)

        local function write(name, bytes)
            local path = folder .. "/" .. name
            local file = assert(io.open(path, "wb"))
            file:write(bytes)
            file:close()
            return path
        end

        -- A safetensors file: an 8-byte little-endian header size, the JSON
        -- header, then the data.
        local function safetensors(header, data)
            return string.pack("<I8", #header) .. header .. data
        end

        it("safetensors with a bad second tensor", function()
            local header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                .. '"b":{"dtype":"Q7","shape":[2],"data_offsets":[8,16]}}'
            local path = write("dtype.safetensors", safetensors(header, string.rep("\0", 16)))
            assert_error_from("load", { path }, lunet.load, path)
            A.sanity()
        end)

        it("safetensors with truncated data", function()
            local header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                .. '"b":{"dtype":"F32","shape":[1000],"data_offsets":[8,4008]}}'
            local path = write("short.safetensors", safetensors(header, string.rep("\0", 100)))
            assert_error_from("load", { path }, lunet.load, path)
        end)

        it("safetensors claiming a huge shape", function()
            local header = '{"a":{"dtype":"F32","shape":[1000000,1000000],'
                .. '"data_offsets":[0,4000000000000]}}'
            local path = write("huge.safetensors", safetensors(header, string.rep("\0", 8)))
            assert_error_from("load", { path }, lunet.load, path)
        end)

        it("a truncated save", function()
            local path = folder .. "/whole.safetensors"
            lunet.save(path, { a = lunet.ones(100), b = lunet.ones(100) })
            local file = assert(io.open(path, "rb"))
            local bytes = file:read("a")
            file:close()
            local cut = write("cut.safetensors", bytes:sub(1, #bytes - 10))
            assert_error_from("load", { cut }, lunet.load, cut)
        end)

        it("IDX with truncated data", function()
            local path = write("short.idx", string.pack(">I2BBI4I4", 0, 8, 2, 100, 100)
                .. string.rep("\1", 50))
            assert_error_from("read_idx", { path }, lunet.data.read_idx, path)
        end)

        it("IDX claiming a huge shape", function()
            local path = write("huge.idx", string.pack(">I2BBI4I4I4", 0, 8, 3, 1e6, 1e6, 1e6)
                .. string.rep("\1", 50))
            assert_error_from("read_idx", { path }, lunet.data.read_idx, path)
        end)

        it("a truncated PNG", function()
            local file = assert(io.open("spec/data/rgb.png", "rb"))
            local bytes = file:read("a")
            file:close()
            local path = write("cut.png", bytes:sub(1, #bytes // 2))
            assert_error_from("image.load", { path }, lunet.image.load, path)
            A.sanity()
        end)
    end)
end)

-- Closed tensors ----------------------------------------------------------------------

describe("closed tensors", function()
    local function closed()
        local kept
        do
            local t <close> = lunet.rand(2, 3)
            kept = t
        end
        return kept
    end

    it("are rejected by functions and methods", function()
        local t = closed()
        assert_error_from("sum", { "closed" }, lunet.sum, t)
        assert_error_from("add", { "closed" }, function() return t + 1 end)
        assert_error_from("mul", { "closed" }, function() return 2 * t end)
        assert_error_from("neg", { "closed" }, function() return -t end)
        assert_error_from("view", { "closed" }, t.view, t, 6)
        assert_error_from("matmul", { "closed" }, lunet.matmul, lunet.rand(3, 2), t)
        assert_error_from("softmax", { "closed" }, t.softmax, t)
        local layer = nn.Linear(3, 4)
        assert_error_from("Linear", { "closed" }, layer.forward, layer, t)
        A.sanity()
    end)

    it("are rejected by indexing and length", function()
        local t = closed()
        assert_error_from("index", { "closed" }, function() return t[1] end)
        assert_error_from("newindex", { "closed" }, function() t[1] = 0 end)
        assert_error_from("#", { "closed" }, function() return #t end)
    end)

    it("raise when printed", function()
        errors.assert_error("the tensor was closed", tostring, closed())
    end)

    it("close twice without error", function()
        local t = closed()
        t:close()
        assert.is_true(lunet.is_tensor(t))
    end)

    it("keep views of their storage alive", function()
        local view
        do
            local t <close> = lunet.ones(2, 3)
            view = t:narrow(1, 1, 1)
        end
        assert.are.same({ { 1, 1, 1 } }, view:totable())
    end)

    it("as a layer parameter", function()
        local layer = nn.Linear(3, 4)
        layer.weight:close()
        assert_error_from("Linear", { "weight", "closed" }, layer.forward, layer,
            lunet.rand(2, 3))
    end)
end)

-- Tensor metamethods -------------------------------------------------------------------

describe("tensor metamethods", function()
    local t = lunet.rand(2, 3)

    it("reject indices out of range", function()
        assert_error_from("index", { "index 0" }, function() return t[0] end)
        assert_error_from("index", { "index 3" }, function() return t[3] end)
        assert_error_from("index", { "index -3" }, function() return t[-3] end)
        assert_error_from("index", { "1.5" }, function() return t[1.5] end)
        assert_error_from("index", { tostring(math.mininteger) },
            function() return t[math.mininteger] end)
        assert_error_from("index", { "0-d" }, function() return lunet.tensor(1)[1] end)
    end)

    it("return nil for unknown names", function()
        assert.is_nil(t.no_such_method)
        assert.is_nil(t[true])
    end)

    it("reject bad assignments", function()
        assert_error_from("newindex", { "string" }, function() t[1] = "x" end)
        assert_error_from("newindex", { "foo" }, function() t.foo = 1 end)
        assert_error_from("newindex", { "index 5" }, function() t[5] = 0 end)
        assert_error_from("newindex", { "0-d" }, function() lunet.tensor(1)[1] = 0 end)
        assert_error_from("newindex", { "4", "3" }, function() t[1] = lunet.ones(4) end)
        assert_error_from("grad", { "string" }, function() t.grad = "x" end)
    end)

    it("reject the length of a 0-d tensor", function()
        assert_error_from("#", { "0-d" }, function() return #lunet.tensor(1) end)
    end)

    it("name the function in operator errors", function()
        assert_error_from("add", { "string" }, function() return t + "x" end)
        assert_error_from("sub", { "table" }, function() return {} - t end)
        assert_error_from("mul", { "boolean" }, function() return t * true end)
        assert_error_from("div", { "2x3", "4" }, function() return t / lunet.ones(4) end)
        assert_error_from("pow", { "string" }, function() return t ^ "x" end)
    end)

    it("compare by identity with ==", function()
        assert.is_true(t == t)
        assert.is_false(t == t:clone())
        assert.is_false(t == 1)
    end)
end)

-- NaN and inf --------------------------------------------------------------------------

describe("NaN and inf", function()
    local nan, inf = 0 / 0, math.huge

    local function is_nan(x)
        return x ~= x
    end

    it("propagate through arithmetic and sums", function()
        local x = lunet.tensor({ 1, nan, inf })
        local y = (x + 1):totable()
        assert.are.equal(2, y[1])
        assert.is_true(is_nan(y[2]))
        assert.are.equal(inf, y[3])
        assert.is_true(is_nan(x:sum()))
        assert.is_true(is_nan(lunet.tensor({ inf, -inf }):sum()))
        assert.is_true(is_nan(lunet.zeros(0):mean()))
    end)

    it("follow IEEE in math functions", function()
        assert.are.equal(-inf, lunet.log(lunet.tensor({ 0 })):item())
        assert.is_true(is_nan(lunet.sqrt(lunet.tensor({ -1 })):item()))
        assert.are.equal(1, lunet.sigmoid(lunet.tensor({ inf })):item())
        assert.are.equal(0, lunet.sigmoid(lunet.tensor({ -inf })):item())
        assert.are.equal(-1, lunet.tanh(lunet.tensor({ -inf })):item())
        assert.are.equal(inf, lunet.exp(lunet.tensor({ inf })):item())
        assert.are.equal(0, lunet.exp(lunet.tensor({ -inf })):item())
    end)

    it("compare as IEEE says", function()
        local x = lunet.tensor({ nan, 1 })
        assert.are.same({ 0, 1 }, x:eq(x):totable())
        assert.are.same({ 1, 0 }, x:ne(x):totable())
        assert.are.same({ 0, 0 }, x:lt(nan):totable())
    end)

    it("win in maximum, minimum, max and argmax", function()
        local x = lunet.tensor({ 1, nan, 3 })
        assert.is_true(is_nan(lunet.maximum(x, 2):totable()[2]))
        assert.is_true(is_nan(lunet.minimum(x, 2):totable()[2]))
        assert.is_true(is_nan(x:max()))
        assert.is_true(is_nan(x:min()))
        assert.are.equal(2, x:argmax())
        assert.are.equal(2, x:argmin())
        local values, indices = lunet.tensor({ { 1, nan, 3 } }):max(2)
        assert.is_true(is_nan(values:item()))
        assert.are.equal(2, indices:item())
    end)

    it("stay NaN in clamp", function()
        local y = lunet.tensor({ nan, -inf, inf }):clamp(-1, 1):totable()
        assert.is_true(is_nan(y[1]))
        assert.are.equal(-1, y[2])
        assert.are.equal(1, y[3])
        assert_error_from("clamp", { "NaN" }, lunet.clamp, lunet.ones(2), nan, 1)
    end)

    it("come first in topk and sort", function()
        local x = lunet.tensor({ 1, nan, 3 })
        local values, indices = x:topk(1)
        assert.is_true(is_nan(values:item()))
        assert.are.equal(2, indices:item())
        local sorted = x:sort(1, true)
        assert.is_true(is_nan(sorted:totable()[1]))
    end)

    it("give NaN rows in softmax", function()
        local x = lunet.tensor({ { 1, nan }, { -inf, -inf }, { 1, inf }, { 0, -inf } })
        local y = lunet.softmax(x):totable()
        assert.is_true(is_nan(y[1][1]) and is_nan(y[1][2]))
        assert.is_true(is_nan(y[2][1]) and is_nan(y[2][2]))
        assert.is_true(is_nan(y[3][1]) and is_nan(y[3][2]))
        assert.are.same({ 1, 0 }, y[4])
        assert.are.equal(-inf, lunet.log_softmax(x):totable()[4][2])
        assert.are.equal(inf, lunet.logsumexp(lunet.tensor({ 1, inf })):item())
    end)

    it("give NaN from max pooling", function()
        local x = lunet.tensor({ { { { 1, nan }, { 3, 4 } } } })
        local y = nn.MaxPool2d(2)(x)
        assert.is_true(is_nan(y:item()))
    end)

    it("flow through losses without errors", function()
        local logits = lunet.tensor({ { nan, 1, 2 }, { 1, 2, 3 } })
        assert.is_true(is_nan(nn.CrossEntropyLoss()(logits, { 1, 2 }):item()))
        assert.is_true(is_nan(nn.MSELoss()(lunet.tensor({ nan }), lunet.tensor({ 1 })):item()))
        assert.are.equal(inf, nn.MSELoss()(lunet.tensor({ inf }), lunet.tensor({ 1 })):item())
    end)

    it("are rejected as sizes and dims", function()
        assert_error_from("zeros", { "nan" }, lunet.zeros, nan)
        assert_error_from("zeros", { "inf" }, lunet.zeros, inf)
        assert_error_from("sum", { "nan" }, lunet.sum, lunet.ones(2), nan)
        assert_error_from("narrow", { "inf" }, lunet.narrow, lunet.ones(2), 1, inf, 1)
    end)
end)
