--- lunet: float32 tensors and neural networks for Lua 5.4.
-- `require "lunet"` returns this table and sets no global.
local core = require "lunet.core"

local lunet = {}
for name, value in pairs(core) do
    if name:sub(1, 1) ~= "_" then
        lunet[name] = value
    end
end

local metatable = core._tensor_metatable
local methods = core._tensor_methods

lunet.Tensor = methods
lunet.nn = require "lunet.nn"
lunet.image = require "lunet.image"
lunet.optim = require "lunet.optim"
lunet.data = require "lunet.data"
require("lunet.format").install(lunet, metatable, methods)

return lunet
