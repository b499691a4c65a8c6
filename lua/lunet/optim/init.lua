--- lunet.optim: optimizers and learning-rate schedules.
--
--     local opt = optim.SGD(model:parameters(), {lr = 0.1, momentum = 0.9})
--     local sched = optim.StepLR(opt, {step_size = 30, gamma = 0.1})
--     for epoch = 1, 90 do
--         for x, y in batches do
--             opt:zero_grad()
--             local logits = model(x)
--             model:backward(x, loss:backward(logits, y))
--             opt:step()
--         end
--         sched:step()
--     end
--
-- The update rules are PyTorch 1.13's. The current learning rate is the
-- field `opt.lr`, which step() reads every time. Each optimizer takes one
-- list of parameters with one set of options (PyTorch's single parameter
-- group).
local adam = require "lunet.optim.adam"
local lr_scheduler = require "lunet.optim.lr_scheduler"

return {
    SGD = require "lunet.optim.sgd",
    Adam = adam.Adam,
    AdamW = adam.AdamW,
    StepLR = lr_scheduler.StepLR,
    CosineAnnealingLR = lr_scheduler.CosineAnnealingLR,
}
