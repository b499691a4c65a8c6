--- lunet.nn: layers, containers and losses.
--
-- Native layers (Linear, Conv2d, ...) are userdata backed by C kernels;
-- containers and user layers are Lua (see nn.Module). Both kinds mix freely
-- inside containers and share parameters(), state_dict(), zero_grad(),
-- train() and evaluate().
local core = require "lunet.core"
local shared = require "lunet.nn.module"

local nn = {}

for name, constructor in pairs(core.nn) do
    if name:sub(1, 1) ~= "_" then
        nn[name] = constructor
    end
end

-- Native layers get the module-tree functions written in Lua.
local native_methods = core.nn._layer_methods
for _, name in ipairs({ "named_parameters", "num_parameters", "state_dict", "load_state_dict",
    "zero_grad", "children" }) do
    native_methods[name] = shared[name]
end

nn.Module = require "lunet.nn.base"
nn.Sequential = require "lunet.nn.sequential"

return nn
