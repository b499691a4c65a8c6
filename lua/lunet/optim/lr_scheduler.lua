--- Learning-rate schedules: StepLR and CosineAnnealingLR.
--
-- A scheduler sets its optimizer's `lr` from a closed-form function of its
-- step count t, starting at t = 0 on construction: each `sched:step()` adds
-- one to t and assigns the new rate. The base rate is the optimizer's
-- `initial_lr`, which the first scheduler of an optimizer sets from its `lr`.
-- The values equal PyTorch 1.13's closed forms:
--
--     StepLR:            base_lr * gamma ^ floor(t / step_size)
--     CosineAnnealingLR: eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2
--
-- Past T_max the cosine keeps going and rises back towards base_lr, as
-- PyTorch's does.
local arguments = require "lunet.optim.arguments"

local Scheduler = {}
Scheduler.__index = Scheduler

local function class(name, spec, rate)
    local c = { name = name, spec = spec, rate = rate }
    c.__index = c
    c.__tostring = function(self)
        return name .. "(" .. arguments.describe(self, spec) .. ")"
    end
    return setmetatable(c, {
        __index = Scheduler,
        __call = function(_, optimizer, options)
            return Scheduler.new(c, optimizer, options)
        end,
    })
end

function Scheduler.new(c, optimizer, options)
    if type(optimizer) ~= "table" or type(optimizer.lr) ~= "number" then
        arguments.raise(string.format("%s: bad argument #1 (optimizer expected, got %s)", c.name,
            type(optimizer) == "table" and "a table without a numeric lr" or type(optimizer)))
    end
    local self = arguments.read(c.name, options, c.spec, 2)
    if optimizer.initial_lr == nil then
        optimizer.initial_lr = optimizer.lr
    end
    self.optimizer = optimizer
    self.base_lr = optimizer.initial_lr
    self.last_epoch = 0
    setmetatable(self, c)
    self:_apply()
    return self
end

function Scheduler:_apply()
    local lr = self:rate(self.last_epoch)
    self.optimizer.lr = lr
    self.last_lr = lr
end

--- Advances the schedule by one step and sets the optimizer's lr. Returns
-- the new lr.
function Scheduler:step()
    self.last_epoch = self.last_epoch + 1
    self:_apply()
    return self.last_lr
end

--- Returns the lr that the last step (or the construction) set.
function Scheduler:get_last_lr()
    return self.last_lr
end

local step_spec = {
    { "step_size", required = "the number of steps between decays, such as {step_size = 30}",
        check = arguments.positive_integer },
    { "gamma", default = 0.1, check = arguments.number },
}

local StepLR = class("StepLR", step_spec, function(self, t)
    return self.base_lr * self.gamma ^ (t // self.step_size)
end)

local cosine_spec = {
    { "T_max", required = "the number of steps of a half cosine period, such as {T_max = 100}",
        check = arguments.positive_integer },
    { "eta_min", default = 0, check = arguments.number },
}

local CosineAnnealingLR = class("CosineAnnealingLR", cosine_spec, function(self, t)
    local eta_min = self.eta_min
    return eta_min + (self.base_lr - eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2
end)

return { StepLR = StepLR, CosineAnnealingLR = CosineAnnealingLR }
