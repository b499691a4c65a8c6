--- Stochastic gradient descent with momentum, as torch.optim.SGD in PyTorch
-- 1.13. With g the gradient (negated when maximize is set), p the parameter
-- and b its momentum buffer:
--
--     g = g + weight_decay * p
--     b = g at the first step, then momentum * b + (1 - dampening) * g
--     g = g + momentum * b with nesterov, otherwise g = b   (when momentum ~= 0)
--     p = p - lr * g
local arguments = require "lunet.optim.arguments"
local Optimizer = require "lunet.optim.optimizer"

local spec = {
    { "lr", required = "the learning rate, such as {lr = 0.01}", check = arguments.non_negative },
    { "momentum", default = 0, check = arguments.non_negative },
    { "dampening", default = 0, check = arguments.number },
    { "weight_decay", default = 0, check = arguments.non_negative },
    { "nesterov", default = false, check = arguments.boolean },
    { "maximize", default = false, check = arguments.boolean },
}

local function init(self)
    if self.nesterov and (self.momentum <= 0 or self.dampening ~= 0) then
        arguments.raise(string.format("SGD: nesterov requires momentum > 0 and dampening = 0, "
            .. "got momentum=%s, dampening=%s", self.momentum, self.dampening))
    end
end

local SGD = Optimizer.class("SGD", spec, init)

function SGD:update(param, grad, state)
    if self.weight_decay ~= 0 then
        grad = grad:add(param, self.weight_decay)
    end
    if self.momentum ~= 0 then
        local buffer = state.momentum_buffer
        if buffer == nil then
            buffer = grad:clone()
            state.momentum_buffer = buffer
        else
            buffer:mul_(self.momentum):add_(grad, 1 - self.dampening)
        end
        if self.nesterov then
            grad = grad:add(buffer, self.momentum)
        else
            grad = buffer
        end
    end
    param:add_(grad, -self.lr)
end

return SGD
