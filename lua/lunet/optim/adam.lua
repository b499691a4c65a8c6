--- Adam and AdamW, as torch.optim.Adam and torch.optim.AdamW in PyTorch 1.13.
-- With g the gradient (negated when maximize is set), p the parameter and t
-- the number of steps this parameter has taken (a step without a gradient
-- does not count):
--
--     Adam:  g = g + weight_decay * p         (L2 penalty in the gradient)
--     AdamW: p = p * (1 - lr * weight_decay)  (decoupled weight decay)
--     m = beta1 * m + (1 - beta1) * g
--     v = beta2 * v + (1 - beta2) * g * g
--     v_max = max(v_max, v), used in place of v with amsgrad
--     p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
--
-- state[i] contains step, exp_avg (m), exp_avg_sq (v) and max_exp_avg_sq.
local core = require "lunet.core"
local arguments = require "lunet.optim.arguments"
local Optimizer = require "lunet.optim.optimizer"

local function make_spec(weight_decay)
    return {
        { "lr", default = 1e-3, check = arguments.non_negative },
        { "betas", default = { 0.9, 0.999 }, check = arguments.betas },
        { "eps", default = 1e-8, check = arguments.non_negative },
        { "weight_decay", default = weight_decay, check = arguments.non_negative },
        { "amsgrad", default = false, check = arguments.boolean },
        { "maximize", default = false, check = arguments.boolean },
    }
end

-- Copies betas so that a later change to the caller's table has no effect.
local function init(self)
    self.betas = { self.betas[1], self.betas[2] }
end

local function update(self, param, grad, state, decoupled)
    local beta1, beta2 = self.betas[1], self.betas[2]
    if state.step == nil then
        local shape = param:size()
        state.step = 0
        state.exp_avg = core.zeros(shape)
        state.exp_avg_sq = core.zeros(shape)
        if self.amsgrad then
            state.max_exp_avg_sq = core.zeros(shape)
        end
    end
    state.step = state.step + 1

    if decoupled then
        param:mul_(1 - self.lr * self.weight_decay)
    elseif self.weight_decay ~= 0 then
        grad = grad:add(param, self.weight_decay)
    end

    state.exp_avg:mul_(beta1):add_(grad, 1 - beta1)
    state.exp_avg_sq:mul_(beta2):add_(grad:mul(grad), 1 - beta2)
    local second_moment = state.exp_avg_sq
    if self.amsgrad then
        -- A parameter first seen after amsgrad was switched on gets its buffer here.
        local previous = state.max_exp_avg_sq or core.zeros(param:size())
        state.max_exp_avg_sq = previous:maximum(state.exp_avg_sq)
        second_moment = state.max_exp_avg_sq
    end

    local bias_correction1 = 1 - beta1 ^ state.step
    local bias_correction2 = 1 - beta2 ^ state.step
    local denominator = second_moment:sqrt():div_(math.sqrt(bias_correction2)):add_(self.eps)
    param:add_(state.exp_avg:div(denominator), -self.lr / bias_correction1)
end

local Adam = Optimizer.class("Adam", make_spec(0), init)

function Adam:update(param, grad, state)
    update(self, param, grad, state, false)
end

local AdamW = Optimizer.class("AdamW", make_spec(1e-2), init)

function AdamW:update(param, grad, state)
    update(self, param, grad, state, true)
end

return { Adam = Adam, AdamW = AdamW }
