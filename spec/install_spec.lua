-- make install, make uninstall and the rockspec: a stock lua5.4 and the
-- installed lunet executable find everything with the checkout out of sight.
-- Both installs reuse the checkout's build, which `make test` has brought
-- up to date, so nothing is compiled here.
local shell = require "spec.helpers.shell"

local ROOT = shell.ROOT
local quote = shell.quote

-- make with the variables of an outer `make test` removed, so that its
-- jobserver and options do not reach the inner run.
local MAKE = "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C " .. quote(ROOT)
local LUAROCKS = "luarocks --lua-version=5.4"

-- A statement that loads everything a user loads and prints where lunet
-- came from.
local LOAD_ALL = [[
local lunet = require "lunet"
require "lunet.assertions"
local models = require "lunet.models"
assert(type(models.vgg.vgg16) == "function", "models.vgg.vgg16")
assert(type(models.simple_vgg) == "function", "models.simple_vgg")
assert(type(models.fashion_vgg) == "function", "models.fashion_vgg")
assert(require "lunet.models.vgg" == models.vgg, "lunet.models.vgg")
local logits = models.simple_vgg({num_classes = 3})(lunet.randn(2, 3, 32, 32))
print("logits " .. table.concat(logits:size(), "x"))
print("lunet from " .. package.searchpath("lunet", package.path))
print("core from " .. (package.searchpath("lunet.core", package.cpath) or "a preload"))
require("lunet.help").help("softmax")
]]

-- Runs code in a stock lua5.4 from /tmp, with only the given folders on its
-- paths.
local function run_stock_lua(lua_dir, lib_dir, code)
    local lua_path = lua_dir .. "/?.lua;" .. lua_dir .. "/?/init.lua;;"
    local lua_cpath = lib_dir .. "/?.so;;"
    return shell.run(string.format("cd /tmp && LUA_PATH=%s LUA_CPATH=%s /usr/bin/lua5.4 -e %s",
        quote(lua_path), quote(lua_cpath), quote(code)))
end

-- Every file under dir, relative to it, sorted.
local function list_files(dir)
    local output = shell.run("cd " .. quote(dir) .. " && find . -type f | sort")
    local files = {}
    for path in output:gmatch("%./([^\n]+)") do
        files[#files + 1] = path
    end
    return files
end

local function assert_loads_everything(output, code, lua_dir, lib_dir)
    assert.equals(0, code, output)
    assert.matches("logits 2x3", output, 1, true)
    assert.matches("lunet from " .. lua_dir .. "/lunet/init.lua", output, 1, true)
    assert.matches("lunet.softmax(x [, dim])", output, 1, true)
    if lib_dir then
        assert.matches("core from " .. lib_dir .. "/lunet/core.so", output, 1, true)
    end
end

describe("make install", function()
    local dir, prefix, lua_dir, lib_dir

    setup(function()
        dir = shell.temp_dir()
        prefix = dir .. "/prefix"
        lua_dir = prefix .. "/share/lua/5.4"
        lib_dir = prefix .. "/lib/lua/5.4"
        local output, code = shell.run(MAKE .. " install PREFIX=" .. quote(prefix))
        assert(code == 0, output)
    end)

    teardown(function()
        shell.remove_tree(dir)
    end)

    it("writes the standard layout", function()
        for _, path in ipairs({ "bin/lunet", "lib/lua/5.4/lunet/core.so",
            "share/lua/5.4/lunet/init.lua", "share/lua/5.4/lunet/nn/init.lua",
            "share/lua/5.4/lunet/models.lua", "share/lua/5.4/lunet/models/vgg.lua",
            "share/lua/5.4/lunet/models/simple_vgg.lua",
            "share/lua/5.4/lunet/models/fashion_vgg.lua",
            "share/lua/5.4/lunet/doc/lunet.lua" }) do
            assert.is_true(shell.exists(prefix .. "/" .. path), path)
        end
    end)

    it("installs every Lua module", function()
        local installed = {}
        for _, path in ipairs(list_files(lua_dir)) do
            installed[path] = true
        end
        for _, path in ipairs(list_files(ROOT .. "/lua/lunet")) do
            assert.is_true(installed["lunet/" .. path], "lunet/" .. path)
        end
        for _, path in ipairs(list_files(ROOT .. "/models")) do
            if path:find("^[^/]+%.lua$") then
                assert.is_true(installed["lunet/models/" .. path], "lunet/models/" .. path)
            end
        end
    end)

    it("serves a stock lua5.4", function()
        local output, code = run_stock_lua(lua_dir, lib_dir, LOAD_ALL)
        assert_loads_everything(output, code, lua_dir, lib_dir)
    end)

    it("runs the installed executable", function()
        local code_text = LOAD_ALL .. [[
local vgg = require "models.vgg"
assert(vgg == require "lunet.models.vgg", "models.vgg is lunet.models.vgg")
print("models.vgg from " .. package.searchpath("lunet.models.vgg", package.path))
]]
        local output, code = shell.run(string.format(
            "cd /tmp && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 %s -e %s",
            quote(prefix .. "/bin/lunet"), quote(code_text)))
        -- The executable links the core, so core.so is not what it loads.
        assert_loads_everything(output, code, prefix .. "/bin/../share/lua/5.4")
        assert.matches("models.vgg from " .. prefix .. "/bin/../share/lua/5.4/lunet/models/vgg.lua",
            output, 1, true)
    end)

    it("rebuilds nothing when up to date", function()
        local output, code = shell.run(MAKE .. " install PREFIX=" .. quote(prefix))
        assert.equals(0, code, output)
        assert.not_matches("cc ", output, 1, true)
    end)
end)

describe("make uninstall", function()
    it("removes what install wrote", function()
        local dir = shell.temp_dir()
        local prefix = dir .. "/prefix"
        local output, code = shell.run(MAKE .. " install PREFIX=" .. quote(prefix))
        assert.equals(0, code, output)
        -- Files of other packages in the same folders stay.
        shell.write_file(prefix .. "/share/lua/5.4/other.lua", "return 1\n")
        shell.write_file(prefix .. "/bin/other", "")

        output, code = shell.run(MAKE .. " uninstall PREFIX=" .. quote(prefix))
        assert.equals(0, code, output)
        assert.same({ "bin/other", "share/lua/5.4/other.lua" }, list_files(prefix))
        assert.is_false(shell.exists(prefix .. "/share/lua/5.4/lunet"))
        assert.is_false(shell.exists(prefix .. "/lib/lua/5.4/lunet"))
        shell.remove_tree(dir)
    end)

    it("keeps a folder with foreign files", function()
        local dir = shell.temp_dir()
        local prefix = dir .. "/prefix"
        local output, code = shell.run(MAKE .. " install PREFIX=" .. quote(prefix))
        assert.equals(0, code, output)
        shell.write_file(prefix .. "/share/lua/5.4/lunet/models/mine.lua", "return 1\n")

        output, code = shell.run(MAKE .. " uninstall PREFIX=" .. quote(prefix))
        assert.equals(0, code, output)
        assert.same({ "share/lua/5.4/lunet/models/mine.lua" }, list_files(prefix))
        shell.remove_tree(dir)
    end)

    it("honours DESTDIR", function()
        local dir = shell.temp_dir()
        local variables = "DESTDIR=" .. quote(dir .. "/stage") .. " PREFIX=/opt/lunet"
        local output, code = shell.run(MAKE .. " install " .. variables)
        assert.equals(0, code, output)
        assert.is_true(shell.exists(dir .. "/stage/opt/lunet/bin/lunet"))
        assert.is_true(shell.exists(dir .. "/stage/opt/lunet/lib/lua/5.4/lunet/core.so"))
        assert.is_true(shell.exists(dir .. "/stage/opt/lunet/share/lua/5.4/lunet/init.lua"))
        assert.is_false(shell.exists("/opt/lunet/bin/lunet"))

        output, code = shell.run(MAKE .. " uninstall " .. variables)
        assert.equals(0, code, output)
        assert.same({}, list_files(dir .. "/stage"))
        shell.remove_tree(dir)
    end)
end)

describe("luarocks make", function()
    local dir, tree

    setup(function()
        dir = shell.temp_dir()
        tree = dir .. "/tree"
    end)

    teardown(function()
        shell.remove_tree(dir)
    end)

    it("installs into a tree", function()
        local output, code = shell.run(string.format(
            "cd %s && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL %s make --tree %s lunet-scm-1.rockspec",
            quote(ROOT), LUAROCKS, quote(tree)))
        assert.equals(0, code, output)
        assert.matches("lunet scm-1 is now installed in " .. tree, output, 1, true)

        -- `luarocks path` prints the exports for this tree.
        output, code = shell.run(string.format(
            "cd /tmp && eval \"$(%s path --tree %s)\" && /usr/bin/lua5.4 -e %s", LUAROCKS,
            quote(tree), quote(LOAD_ALL)))
        assert_loads_everything(output, code, tree .. "/share/lua/5.4", tree .. "/lib/lua/5.4")

        output, code = shell.run(string.format("cd /tmp && %s -e %s",
            quote(tree .. "/bin/lunet"), quote("print(require('models.vgg').vgg11)")))
        assert.equals(0, code, output)
        assert.matches("^function: ", output)

        output, code = shell.run(string.format("%s remove --tree %s lunet", LUAROCKS, quote(tree)))
        assert.equals(0, code, output)
        assert.is_false(shell.exists(tree .. "/share/lua/5.4/lunet"))
        assert.is_false(shell.exists(tree .. "/lib/lua/5.4/lunet"))
        assert.is_false(shell.exists(tree .. "/bin/lunet"))
    end)
end)
