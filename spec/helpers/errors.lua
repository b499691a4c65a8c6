--- Error assertions for specs.
--
--     local errors = require "spec.helpers.errors"
--     errors.assert_error("softmax: dim 3 is out of range", lunet.softmax, x, 3)
--     errors.assert_error_from("zeros", "-1", lunet.zeros, -1)
--
-- Messages are compared as plain text, never as Lua patterns. A message
-- raised by a Lua function with error(msg, 2) starts with the caller's
-- "file:line: "; message() strips it, so lunet functions written in Lua and
-- in C are checked alike.
local luassert = require "luassert"

-- Fails the running spec with message (a failure, not an error).
local function fail(message)
    luassert.is_true(false, message)
end

local errors = {}

--- The error text without a leading "file:line: " position.
function errors.message(err)
    local text = tostring(err)
    return (text:gsub("^[^\n:]+:%d+: ", "", 1))
end

--- Calls fn(...) and returns its error message (position stripped); fails
-- the spec when fn returns normally.
function errors.error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    luassert.is_false(ok, "expected an error, but the call returned normally")
    return errors.message(err)
end

--- Asserts that fn(...) raises an error whose message contains expected.
-- Returns the message.
function errors.assert_error(expected, fn, ...)
    local message = errors.error_of(fn, ...)
    if not message:find(expected, 1, true) then
        fail(string.format("expected an error containing %q, got %q", expected,
            message))
    end
    return message
end

--- Asserts that fn(...) raises an error that starts with "fname: " and
-- contains every further string given in `names` (a string or a list), such
-- as the offending value. Returns the message.
function errors.assert_error_from(fname, names, fn, ...)
    local message = errors.error_of(fn, ...)
    if message:sub(1, #fname + 2) ~= fname .. ": " then
        fail(string.format("expected an error starting with %q, got %q",
            fname .. ": ", message))
    end
    if type(names) == "string" then
        names = { names }
    end
    for _, name in ipairs(names or {}) do
        if not message:find(name, 1, true) then
            fail(string.format("expected the error of %s to name %q, got %q", fname,
                name, message))
        end
    end
    return message
end

return errors
