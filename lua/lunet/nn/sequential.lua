--- nn.Sequential: modules applied one after another.
--
-- `nn.Sequential{a, b}` or `nn.Sequential(a, b)`; `seq:add(c)` appends and
-- returns seq, `seq[i]` is the i-th module (1-based) and `#seq` the count.
-- Children are named "0", "1", ... as in PyTorch, so state_dict keys read
-- `features.0.weight`. An error inside names the failing module, its
-- position and the shape it received.
local core = require "lunet.core"
local Module = require "lunet.nn.base"

local Sequential = Module:extend("Sequential")

local function describe_input(x)
    if core.is_tensor(x) then
        local ok, size = pcall(x.size, x)
        if ok then
            return #size == 0 and "scalar" or table.concat(size, "x")
        end
        return "closed tensor"
    end
    return type(x)
end

local function module_name(m)
    local ok, text = pcall(tostring, m)
    text = ok and text or type(m)
    return text:match("^[^\n]*")
end

function Sequential:init(...)
    local modules = { ... }
    if select("#", ...) == 1 and type(modules[1]) == "table" and modules[1].forward == nil then
        modules = modules[1]
    end
    for i, m in ipairs(modules) do
        if (type(m) ~= "table" and type(m) ~= "userdata") or m.forward == nil then
            error(string.format("Sequential: element %d is not a module (got %s; a module " ..
                "has a forward method)", i, type(m)), 3)
        end
        self:add(m)
    end
end

--- Appends module m and returns self, so calls chain.
function Sequential:add(m)
    if (type(m) ~= "table" and type(m) ~= "userdata") or m.forward == nil then
        error("Sequential.add: bad argument #1 (module with a forward method expected, got " ..
            type(m) .. ")", 2)
    end
    return self:add_module(tostring(#self._children), m)
end

-- In training mode forward keeps every module's input for backward. In
-- evaluation mode it keeps none, so each activation is freed as soon as the
-- next module has used it: inference peaks near the weights' size.
function Sequential:forward(input)
    local inputs = self.training and {} or nil
    rawset(self, "_inputs", nil)
    local x = input
    for i, name in ipairs(self._children) do
        local m = self._modules[name]
        if inputs then
            inputs[i] = x
        end
        local ok, result = pcall(m.forward, m, x)
        if not ok then
            error(string.format("Sequential: module %d (%s) failed on input of shape %s: %s",
                i, module_name(m), describe_input(x), tostring(result)), 2)
        end
        x = result
    end
    rawset(self, "_inputs", inputs)
    return x
end

--- Back-propagates grad_output through the modules in reverse, using the
-- inputs saved by the last forward call (which must have been on input).
function Sequential:backward(input, grad_output)
    local inputs = rawget(self, "_inputs")
    if not inputs or inputs[1] ~= input then
        error("Sequential.backward: call forward with this input in training mode first " ..
            "(evaluation mode keeps no inputs)", 2)
    end
    local grad = grad_output
    for i = #self._children, 1, -1 do
        local m = self._modules[self._children[i]]
        if m.backward == nil then
            error(string.format("Sequential.backward: module %d (%s) has no backward method",
                i, module_name(m)), 2)
        end
        local ok, result = pcall(m.backward, m, inputs[i], grad)
        if not ok then
            error(string.format("Sequential.backward: module %d (%s) failed on grad_output " ..
                "of shape %s: %s", i, module_name(m), describe_input(grad), tostring(result)), 2)
        end
        grad = result
    end
    return grad
end

function Sequential:_child_label(name)
    return tostring(tonumber(name) + 1)
end

function Sequential.__index(self, key)
    if type(key) == "number" then
        local name = rawget(self, "_children")[key]
        return name and rawget(self, "_modules")[name]
    end
    return Sequential[key]
end

function Sequential.__len(self)
    return #rawget(self, "_children")
end

return Sequential
