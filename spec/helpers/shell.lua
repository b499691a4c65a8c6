--- Files and shell commands for the specs that run programs: the install,
-- docs, guide and plot specs.
local shell = {}

--- The checkout's root folder, found from this file's path.
shell.ROOT = debug.getinfo(1, "S").source:match("^@(.*)/spec/helpers/[^/]*$") or "."

--- Quotes text as one sh word.
function shell.quote(text)
    return "'" .. text:gsub("'", "'\\''") .. "'"
end

--- Returns the contents of path, or nil when it cannot be read.
function shell.read_file(path)
    local file = io.open(path, "rb")
    if not file then
        return nil
    end
    local text = file:read("a")
    file:close()
    return text
end

function shell.write_file(path, text)
    local file = assert(io.open(path, "wb"))
    file:write(text)
    file:close()
end

function shell.exists(path)
    return os.execute("test -e " .. shell.quote(path)) == true
end

--- Creates a new empty folder under /tmp and returns its path.
function shell.temp_dir()
    local path = os.tmpname()
    os.remove(path)
    assert(os.execute("mkdir -p " .. shell.quote(path)))
    return path
end

--- Removes a folder made by temp_dir with everything in it.
function shell.remove_tree(path)
    assert(path:find("^/tmp/"), "remove_tree only removes folders under /tmp, got " .. path)
    os.execute("rm -rf " .. shell.quote(path))
end

--- Runs a sh command and returns its output (stdout followed by stderr,
-- interleaved as written) and its exit code.
function shell.run(command)
    local pipe = assert(io.popen("(" .. command .. ") 2>&1", "r"))
    local output = pipe:read("a")
    local _, _, code = pipe:close()
    return output, code
end

--- The environment that makes a stock lua5.4 find the checkout's modules
-- and build, as `make test` sets it.
function shell.checkout_env()
    local root = shell.ROOT
    return string.format("LUA_PATH=%s LUA_CPATH=%s",
        shell.quote(root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. root .. "/?.lua;;"),
        shell.quote(root .. "/build/?.so;;"))
end

return shell
