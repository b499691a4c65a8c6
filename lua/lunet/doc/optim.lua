--- Optimizers and learning-rate schedules: `lunet.optim`.
--
-- `local optim = require("lunet").optim`. An optimizer takes the list of
-- parameters (`model:parameters()`) and one table of options, and each
-- `step()` updates every parameter from its `grad` field. The update rules
-- and defaults are those of PyTorch 1.13, with one parameter group.
--
-- The options are plain fields of the optimizer and are read at every
-- step, so assigning `opt.lr = 0.01` changes the learning rate from the
-- next step on. The schedulers work this way. `opt.params` is the list of
-- parameters and `opt.state[i]` the state of `opt.params[i]` (momentum
-- buffers, Adam's moments).
--
-- Options are checked: an unknown name, a missing required option or a
-- value out of range raises, as in
-- `SGD: option 'lr' is required (the learning rate, such as {lr = 0.01})`.
-- @module lunet.optim
-- @prefix optim.
-- @usage local opt = optim.SGD(model:parameters(), {lr = 0.1, momentum = 0.9})
-- local scheduler = optim.StepLR(opt, {step_size = 30, gamma = 0.1})
-- for epoch = 1, 90 do
--     for x, y in batches do
--         local logits = model(x)
--         model:zero_grad()
--         model:backward(x, criterion:backward(logits, y))
--         opt:step()
--     end
--     scheduler:step()
-- end

--- Optimizers.
-- @section optimizers

--- Stochastic gradient descent with momentum, as torch.optim.SGD.
-- With g the gradient, p the parameter and b its momentum buffer, a step is
-- g = g + weight_decay * p, then (with momentum) b = momentum * b +
-- (1 - dampening) * g and g = b (or g + momentum * b with nesterov), then
-- p = p - lr * g.
-- @function SGD
-- @tab params the parameters to optimize, such as `model:parameters()`
-- @tab options `{lr = required, momentum = 0, dampening = 0, weight_decay = 0, nesterov = false, maximize = false}`
-- @treturn Optimizer the optimizer
-- @raise when params is empty or contains a non-tensor (`SGD: params[1] must be a tensor, got
-- number`), lr is missing, an option is unknown or out of range, or nesterov is set
-- without momentum > 0 and dampening = 0.
-- @usage local opt = optim.SGD(model:parameters(), {lr = 0.01, momentum = 0.9})

--- Adam, as torch.optim.Adam: adaptive steps from running means of the gradient and its square.
-- weight_decay adds weight_decay * p to the gradient (an L2 penalty); for
-- decoupled weight decay use `AdamW`.
-- @function Adam
-- @tab params the parameters to optimize
-- @tparam[opt] table options `{lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 0, amsgrad = false, maximize = false}`
-- @treturn Optimizer the optimizer
-- @raise as `SGD` does, or when betas is not a pair of numbers in [0, 1).

--- AdamW, as torch.optim.AdamW: Adam with decoupled weight decay.
-- Each step first shrinks the parameter, p = p * (1 - lr * weight_decay),
-- and then takes Adam's step without weight decay in the gradient.
-- @function AdamW
-- @tab params the parameters to optimize
-- @tparam[opt] table options `{lr = 1e-3, betas = {0.9, 0.999}, eps = 1e-8, weight_decay = 1e-2, amsgrad = false, maximize = false}`
-- @treturn Optimizer the optimizer
-- @raise as `Adam` does.

--- Schedules.
-- A scheduler sets its optimizer's `lr` from the number of `step()` calls
-- t, starting at t = 0 when it is made. The base rate is the optimizer's lr
-- at the time the first scheduler of that optimizer is made.
-- @section schedules

--- Multiplies the learning rate by gamma every step_size steps.
-- The rate is base_lr * gamma ^ floor(t / step_size).
-- @function StepLR
-- @tparam Optimizer optimizer the optimizer whose lr to set
-- @tab options `{step_size = required, gamma = 0.1}`
-- @treturn Scheduler the scheduler
-- @raise when optimizer has no numeric lr, step_size is missing or not a positive integer,
-- or an option is unknown.

--- Anneals the learning rate along half a cosine from base_lr to eta_min over T_max steps.
-- The rate is eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2;
-- past T_max it rises again, as PyTorch's does.
-- @function CosineAnnealingLR
-- @tparam Optimizer optimizer the optimizer whose lr to set
-- @tab options `{T_max = required, eta_min = 0}`
-- @treturn Scheduler the scheduler
-- @raise as `StepLR` does for T_max.
-- @usage local scheduler = optim.CosineAnnealingLR(opt, {T_max = steps_per_epoch * epochs})

--- Methods of every optimizer.
-- @type Optimizer
-- @prefix opt:

--- Updates every parameter that has a gradient, in place, and returns the optimizer.
-- Parameters whose `grad` is nil are skipped.
-- @function Optimizer:step
-- @treturn Optimizer the optimizer
-- @raise when a gradient's shape differs from its parameter's
-- (`SGD.step: params[1] has shape 2x3 but its grad has shape 3`).

--- Fills every existing gradient with 0 and returns the optimizer.
-- It clears the same tensors as `model:zero_grad()` on the model the
-- parameters came from.
-- @function Optimizer:zero_grad
-- @treturn Optimizer the optimizer

--- Methods of every scheduler.
-- @type Scheduler
-- @prefix scheduler:

--- Advances the schedule by one step, sets the optimizer's lr and returns it.
-- @function Scheduler:step
-- @treturn number the new learning rate

--- Returns the learning rate that the last step, or the construction, set.
-- @function Scheduler:get_last_lr
-- @treturn number
