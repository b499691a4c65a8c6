--- nn.Module: the base class of layers and containers written in Lua.
--
--     local Scale = nn.Module:extend("Scale")
--     function Scale:init(factor)
--         self.factor = factor
--     end
--     function Scale:forward(x)
--         return x * self.factor
--     end
--     function Scale:backward(input, grad_output)
--         return grad_output * self.factor
--     end
--     local layer = Scale(2)
--
-- Children registered with `add_module` and tensors registered with
-- `register_parameter` or `register_buffer` take part in `parameters()`,
-- `state_dict()`, `zero_grad()` and `train()`/`evaluate()`, in registration
-- order.
local core = require "lunet.core"
local shared = require "lunet.nn.module"

local Module = {}
Module.__name = "Module"

local function class_tostring(class)
    return "class " .. class.__name
end

--- Makes a subclass; calling the subclass constructs an instance and runs
-- its `init` with the call's arguments.
function Module:extend(name)
    if type(name) ~= "string" then
        error("Module:extend: bad argument #1 (class name string expected, got " ..
            type(name) .. ")", 2)
    end
    local class = {}
    for key, value in pairs(self) do
        if key:sub(1, 2) == "__" then
            class[key] = value
        end
    end
    class.__name = name
    class.__index = function(instance, key)
        return class[key]
    end
    class.super = self
    return setmetatable(class, {
        __index = self,
        __call = function(c, ...)
            return c.new(c, ...)
        end,
        __tostring = class_tostring,
    })
end

function Module.new(class, ...)
    local instance = setmetatable({
        training = true,
        _modules = {},
        _children = {},
        _parameter_order = {},
        _buffer_order = {},
    }, class)
    if instance.init then
        instance:init(...)
    end
    return instance
end

local function check_name(method, name)
    if type(name) ~= "string" or name == "" or name:find(".", 1, true) then
        error(string.format("%s: name must be a non-empty string without '.', got %s",
            method, tostring(name)), 3)
    end
end

--- Registers child under name (reachable as self[name]); returns self.
function Module:add_module(name, child)
    check_name("add_module", name)
    if type(child) ~= "table" and type(child) ~= "userdata" then
        error("add_module: bad argument #2 (module expected, got " .. type(child) .. ")", 2)
    end
    if self._modules[name] == nil then
        self._children[#self._children + 1] = name
    end
    self._modules[name] = child
    rawset(self, name, child)
    return self
end

-- Raises unless tensor is nil (a slot left empty, as PyTorch allows) or a
-- tensor that is not closed.
local function check_tensor(method, tensor)
    if tensor == nil then
        return
    end
    if not core.is_tensor(tensor) then
        error(string.format("%s: bad argument #2 (tensor expected, got %s)", method,
            type(tensor)), 3)
    end
    if not pcall(tensor.dim, tensor) then
        error(method .. ": bad argument #2 (the tensor was closed and cannot be used)", 3)
    end
end

-- Stores tensor under name, appending name to the order list the first
-- time, so parameters and buffers keep their registration order.
local function register_tensor(self, method, order, name, tensor)
    check_name(method, name)
    check_tensor(method, tensor)
    if rawget(self, name) == nil then
        order[#order + 1] = name
    end
    rawset(self, name, tensor)
    return tensor
end

--- Registers a trainable tensor under name (reachable as self[name]).
function Module:register_parameter(name, tensor)
    return register_tensor(self, "register_parameter", self._parameter_order, name, tensor)
end

--- Registers a saved, untrained tensor (a running statistic) under name.
function Module:register_buffer(name, tensor)
    return register_tensor(self, "register_buffer", self._buffer_order, name, tensor)
end

Module.children = shared.children
Module.named_parameters = shared.named_parameters
Module.parameters = shared.parameters
Module.num_parameters = shared.num_parameters
Module.state_dict = shared.state_dict
Module.load_state_dict = shared.load_state_dict
Module.zero_grad = shared.zero_grad
Module.train = shared.train
Module.evaluate = shared.evaluate

function Module:forward()
    error(self.__name .. ": forward is not implemented", 2)
end

function Module:backward()
    error(self.__name .. ": backward is not implemented", 2)
end

function Module.__call(self, ...)
    return self:forward(...)
end

-- Label of a child in the printed tree; containers override it.
function Module:_child_label(name)
    return name
end

local function indent(text)
    return (text:gsub("\n", "\n  "))
end

--- Prints the module as an indented tree of its children.
function Module.__tostring(self)
    local extra = self.extra_repr and self:extra_repr() or ""
    if #self._children == 0 then
        return self.__name .. "(" .. extra .. ")"
    end
    local lines = { self.__name .. "(" .. extra }
    for _, name in ipairs(self._children) do
        lines[#lines + 1] = "  (" .. self:_child_label(name) .. "): " ..
            indent(tostring(self._modules[name]))
    end
    lines[#lines + 1] = ")"
    return table.concat(lines, "\n")
end

return setmetatable(Module, {
    __call = function(c, ...)
        return c.new(c, ...)
    end,
    __tostring = class_tostring,
})
