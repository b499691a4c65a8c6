--- The base of the optimizers: parameter bookkeeping, step and zero_grad.
--
-- An optimizer keeps a list of parameter tensors and reads each one's
-- gradient from its `grad` field, skipping parameters whose grad is nil. Its
-- options are plain fields of the optimizer (`opt.lr`, `opt.momentum`, ...),
-- read afresh at every step, so assigning `opt.lr` changes the learning rate
-- from the next step on. The schedulers work this way. `opt.state[i]`
-- contains the per-parameter state of `opt.params[i]` (momentum buffers, Adam's
-- moments).
--
-- A subclass provides `update(self, param, grad, state)`, which changes
-- param in place. Updates run as whole-tensor operations in C, and no loop
-- in Lua touches single elements.
local arguments = require "lunet.optim.arguments"

local Optimizer = {}
Optimizer.__index = Optimizer

--- Makes an optimizer class named name whose options follow spec (see
-- arguments.read). Calling the class constructs an optimizer:
-- `Class(params, options)`. init(self), when given, runs after the options
-- are read, for checks that involve several options.
function Optimizer.class(name, spec, init)
    local class = { name = name, spec = spec, init = init }
    class.__index = class
    class.__tostring = Optimizer.describe
    return setmetatable(class, {
        __index = Optimizer,
        __call = function(_, params, options)
            return Optimizer.new(class, params, options)
        end,
    })
end

function Optimizer.new(class, params, options)
    local self = arguments.read(class.name, options, class.spec, 2)
    self.params = arguments.params(class.name, params)
    self.state = {}
    for i = 1, #self.params do
        self.state[i] = {}
    end
    setmetatable(self, class)
    if class.init then
        class.init(self)
    end
    return self
end

local function shape_text(t)
    local size = t:size()
    return #size == 0 and "scalar" or table.concat(size, "x")
end

-- Raises "<name>.step: params[i] ... was closed" for a parameter or grad
-- closed after the optimizer was made.
local function check_open(name, i, tensor, what)
    if not pcall(tensor.dim, tensor) then
        arguments.raise(string.format("%s.step: params[%d]%s was closed and cannot be updated",
            name, i, what))
    end
end

--- Updates every parameter that has a gradient, in place. Returns self.
function Optimizer:step()
    for i, param in ipairs(self.params) do
        check_open(self.name, i, param, "")
        local grad = param.grad
        if grad ~= nil then
            check_open(self.name, i, grad, ".grad")
            local param_shape, grad_shape = shape_text(param), shape_text(grad)
            if param_shape ~= grad_shape then
                arguments.raise(string.format("%s.step: params[%d] has shape %s but its grad has "
                    .. "shape %s", self.name, i, param_shape, grad_shape))
            end
            if self.maximize then
                grad = grad:neg()
            end
            self:update(param, grad, self.state[i])
        end
    end
    return self
end

--- Fills every existing gradient with zeros. Returns self.
function Optimizer:zero_grad()
    for _, param in ipairs(self.params) do
        local grad = param.grad
        if grad ~= nil then
            grad:zero_()
        end
    end
    return self
end

--- Returns "SGD(lr=0.1, momentum=0.9, ...)" with every option.
function Optimizer:describe()
    return self.name .. "(" .. arguments.describe(self, self.spec) .. ")"
end

return Optimizer
