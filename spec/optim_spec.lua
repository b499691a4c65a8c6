local lunet = require "lunet"
local assert = require "lunet.assertions"
local optim = require "lunet.optim"
local json = require "dkjson"
local nn = lunet.nn

local FIXTURES = "spec/fixtures/optim.safetensors"
local TOLERANCE = { rtol = 1e-4, atol = 1e-5 }
local STEPS = 6
local PARAMS = { "p1", "p2", "p3" }
local SCHEDULER_OPTIONS = { "step_size", "gamma", "T_max", "eta_min" }

-- Raises unless fn(...) fails with a message containing `expected`.
local function assert_error(expected, fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    assert.matches(expected, tostring(err), 1, true)
end

local function assert_close(expected, actual)
    assert.is_true(math.abs(actual - expected) <= 1e-12 * math.max(1, math.abs(expected)),
        string.format("expected %.17g, got %.17g", expected, actual))
end

-- Splits a case's configuration into optimizer and scheduler options.
local function split_config(config)
    local optimizer_options, scheduler_options = {}, {}
    for key, value in pairs(config) do
        optimizer_options[key] = value
    end
    optimizer_options.optimizer, optimizer_options.scheduler = nil, nil
    for _, key in ipairs(SCHEDULER_OPTIONS) do
        scheduler_options[key] = optimizer_options[key]
        optimizer_options[key] = nil
    end
    return optimizer_options, scheduler_options
end

describe("optimizers against PyTorch", function()
    local tensors, metadata = lunet.load(FIXTURES)
    local cases = {}
    for case in pairs(metadata) do
        cases[#cases + 1] = case
    end
    table.sort(cases)

    for _, case in ipairs(cases) do
        it("follows " .. case, function()
            local config = json.decode(metadata[case])
            local optimizer_options, scheduler_options = split_config(config)
            local params = {}
            for i, name in ipairs(PARAMS) do
                params[i] = tensors["initial." .. name]:clone()
            end
            local opt = optim[config.optimizer](params, optimizer_options)
            local scheduler = config.scheduler and optim[config.scheduler](opt, scheduler_options)

            for step = 1, STEPS do
                params[1].grad = tensors["grad.p1"][step]:clone()
                if tensors["grad.p2_present"][step] == 1 then
                    params[2].grad = tensors["grad.p2"][step]:clone()
                else
                    params[2].grad = nil
                end
                opt:step()
                if scheduler then
                    scheduler:step()
                end
                for i, name in ipairs(PARAMS) do
                    assert.tensor_near(params[i], tensors[case .. "." .. name][step], TOLERANCE,
                        string.format("%s after step %d", name, step))
                end
                local expected_lr = tensors[case .. ".lr"][step]
                assert.is_true(math.abs(opt.lr - expected_lr) <= 1e-6 * expected_lr,
                    string.format("lr after step %d: %.9g, expected %.9g", step, opt.lr,
                        expected_lr))
            end
        end)
    end
end)

describe("optimizer steps", function()
    it("skip params without grad", function()
        local with, without = lunet.ones(3), lunet.ones(2)
        with.grad = lunet.ones(3)
        optim.SGD({ with, without }, { lr = 0.5 }):step()
        assert.are.same({ 0.5, 0.5, 0.5 }, with:totable())
        assert.are.same({ 1, 1 }, without:totable())
    end)

    it("leave the grads unchanged", function()
        local param = lunet.ones(2)
        param.grad = lunet.tensor({ 1, 2 })
        optim.AdamW({ param }, { weight_decay = 0.5 }):step()
        optim.SGD({ param }, { lr = 0.1, momentum = 0.9, weight_decay = 0.1, nesterov = true })
            :step()
        assert.are.same({ 1, 2 }, param.grad:totable())
    end)

    it("read lr at every step", function()
        local param = lunet.zeros(1)
        param.grad = lunet.ones(1)
        local opt = optim.SGD({ param }, { lr = 1 })
        opt:step()
        opt.lr = 0.25
        opt:step()
        assert.are.equal(-1.25, param[1])
    end)

    it("zero existing grads", function()
        local a, b = lunet.ones(2), lunet.ones(3)
        a.grad = lunet.ones(2)
        local opt = optim.Adam({ a, b })
        assert.are.equal(opt, opt:zero_grad())
        assert.are.same({ 0, 0 }, a.grad:totable())
        assert.is_nil(b.grad)
    end)

    it("keep state per parameter", function()
        local a, b = lunet.zeros(1), lunet.zeros(1)
        local opt = optim.Adam({ a, b })
        a.grad = lunet.ones(1)
        opt:step()
        b.grad = lunet.ones(1)
        opt:step()
        assert.are.equal(2, opt.state[1].step)
        assert.are.equal(1, opt.state[2].step)
    end)

    it("print their options", function()
        local opt = optim.SGD({ lunet.zeros(1) }, { lr = 0.1, momentum = 0.9 })
        assert.are.equal("SGD(lr=0.1, momentum=0.9, dampening=0, weight_decay=0, nesterov=false, "
            .. "maximize=false)", tostring(opt))
        assert.are.equal("AdamW(lr=0.001, betas={0.9, 0.999}, eps=1e-08, weight_decay=0.01, "
            .. "amsgrad=false, maximize=false)", tostring(optim.AdamW({ lunet.zeros(1) })))
    end)
end)

describe("learning-rate schedules", function()
    local function sgd(lr)
        return optim.SGD({ lunet.zeros(1) }, { lr = lr })
    end

    it("decay in steps with StepLR", function()
        local opt = sgd(0.8)
        local scheduler = optim.StepLR(opt, { step_size = 3, gamma = 0.5 })
        assert.are.equal(0.8, scheduler:get_last_lr())
        local expected = { 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2 }
        for t = 1, #expected do
            assert_close(expected[t], scheduler:step())
            assert_close(expected[t], opt.lr)
            assert_close(expected[t], scheduler:get_last_lr())
        end
    end)

    it("default gamma to 0.1", function()
        local opt = sgd(1)
        local scheduler = optim.StepLR(opt, { step_size = 1 })
        scheduler:step()
        assert_close(0.1, opt.lr)
    end)

    it("follow the cosine closed form", function()
        local opt = sgd(0.5)
        local scheduler = optim.CosineAnnealingLR(opt, { T_max = 4, eta_min = 0.1 })
        assert.are.equal(0.5, opt.lr)
        for t = 1, 10 do
            scheduler:step()
            assert_close(0.1 + 0.4 * (1 + math.cos(math.pi * t / 4)) / 2, opt.lr)
        end
        assert.are.equal(10, scheduler.last_epoch)
    end)

    it("reach eta_min at T_max", function()
        local opt = sgd(1)
        local scheduler = optim.CosineAnnealingLR(opt, { T_max = 3 })
        scheduler:step()
        scheduler:step()
        assert_close(0, scheduler:step())
    end)

    it("share the initial lr", function()
        local opt = sgd(1)
        optim.StepLR(opt, { step_size = 1, gamma = 0.5 }):step()
        local second = optim.CosineAnnealingLR(opt, { T_max = 2 })
        assert.are.equal(1, opt.initial_lr)
        assert.are.equal(1, second.base_lr)
        assert.are.equal(1, opt.lr)
    end)

    it("print their options", function()
        assert.are.equal("StepLR(step_size=30, gamma=0.1)",
            tostring(optim.StepLR(sgd(1), { step_size = 30 })))
        assert.are.equal("CosineAnnealingLR(T_max=10, eta_min=0)",
            tostring(optim.CosineAnnealingLR(sgd(1), { T_max = 10 })))
    end)
end)

describe("optimizer errors", function()
    local params = { lunet.zeros(2) }

    it("require a learning rate", function()
        assert_error("SGD: option 'lr' is required (the learning rate, such as {lr = 0.01})",
            optim.SGD, params)
        assert_error("SGD: option 'lr' is required", optim.SGD, params, {})
        assert_error("SGD: option 'lr' must be >= 0, got -0.1", optim.SGD, params, { lr = -0.1 })
        assert_error("SGD: option 'lr' must be >= 0, got nan", optim.SGD, params, { lr = 0 / 0 })
        assert_error("Adam: option 'lr' must be >= 0, got -1", optim.Adam, params, { lr = -1 })
        assert_error("AdamW: option 'lr' must be a number, got string", optim.AdamW, params,
            { lr = "0.1" })
    end)

    it("reject bad SGD options", function()
        assert_error("SGD: option 'momentum' must be >= 0, got -0.5", optim.SGD, params,
            { lr = 0.1, momentum = -0.5 })
        assert_error("SGD: option 'weight_decay' must be >= 0, got -1", optim.SGD, params,
            { lr = 0.1, weight_decay = -1 })
        assert_error("SGD: nesterov requires momentum > 0 and dampening = 0, got momentum=0, "
            .. "dampening=0", optim.SGD, params, { lr = 0.1, nesterov = true })
        assert_error("SGD: nesterov requires momentum > 0 and dampening = 0, got momentum=0.9, "
            .. "dampening=0.1", optim.SGD, params,
            { lr = 0.1, nesterov = true, momentum = 0.9, dampening = 0.1 })
        assert_error("SGD: option 'nesterov' must be a boolean, got number", optim.SGD, params,
            { lr = 0.1, nesterov = 1 })
        assert_error("SGD: unknown option 'momentun' (expected lr, momentum, dampening, "
            .. "weight_decay, nesterov, maximize)", optim.SGD, params, { lr = 0.1, momentun = 0.9 })
        assert_error("SGD: bad argument #2 (options table expected, got number)", optim.SGD,
            params, 0.1)
    end)

    it("reject invalid betas", function()
        assert_error("Adam: option 'betas' must be {beta1, beta2} with each in [0, 1), got "
            .. "{0.9, 1}", optim.Adam, params, { betas = { 0.9, 1 } })
        assert_error("Adam: option 'betas' must be {beta1, beta2} with each in [0, 1), got {0.9}",
            optim.Adam, params, { betas = { 0.9 } })
        assert_error("AdamW: option 'betas' must be {beta1, beta2} with each in [0, 1), got "
            .. "{-0.1, 0.9}", optim.AdamW, params, { betas = { -0.1, 0.9 } })
        assert_error("Adam: option 'betas' must be {beta1, beta2} with each in [0, 1), got number",
            optim.Adam, params, { betas = 0.9 })
        assert_error("Adam: option 'eps' must be >= 0, got -1e-08", optim.Adam, params,
            { eps = -1e-8 })
        assert_error("Adam: option 'amsgrad' must be a boolean, got string", optim.Adam, params,
            { amsgrad = "yes" })
    end)

    it("reject params that are not tensors", function()
        assert_error("SGD: bad argument #1 (list of tensors expected, got nil; pass "
            .. "model:parameters())", optim.SGD, nil, { lr = 0.1 })
        assert_error("Adam: bad argument #1 (list of tensors expected, got a tensor; pass "
            .. "model:parameters())", optim.Adam, lunet.zeros(2))
        assert_error("Adam: bad argument #1 (list of tensors expected, got a table with key "
            .. "\"weight\"; pass model:parameters())", optim.Adam, { weight = lunet.zeros(2) })
        assert_error("SGD: params[2] must be a tensor, got string", optim.SGD,
            { lunet.zeros(1), "bias" }, { lr = 0.1 })
        assert_error("SGD: params is an empty list (expected the tensors to optimize, such as "
            .. "model:parameters())", optim.SGD, {}, { lr = 0.1 })
        local shared = lunet.zeros(1)
        assert_error("AdamW: params[3] is the same tensor as params[1]", optim.AdamW,
            { shared, lunet.zeros(1), shared })
    end)

    it("reject a grad of another shape", function()
        local param = lunet.zeros(2, 3)
        param.grad = lunet.zeros(3)
        local opt = optim.SGD({ lunet.zeros(1), param }, { lr = 0.1 })
        assert_error("SGD.step: params[2] has shape 2x3 but its grad has shape 3", opt.step, opt)
    end)

    it("point at the caller", function()
        local ok, err = pcall(optim.SGD, params, { lr = -1 })
        assert.is_false(ok)
        assert.matches("^SGD: ", err)
        ok, err = pcall(function()
            local opt = optim.SGD(params, { lr = -1 })
            return opt
        end)
        assert.is_false(ok)
        assert.matches("optim_spec.lua:%d+: SGD: ", err)
    end)

    it("reject bad schedule options", function()
        local opt = optim.SGD(params, { lr = 0.1 })
        assert_error("StepLR: option 'step_size' is required (the number of steps between "
            .. "decays, such as {step_size = 30})", optim.StepLR, opt)
        assert_error("StepLR: option 'step_size' must be an integer >= 1, got 0", optim.StepLR, opt,
            { step_size = 0 })
        assert_error("StepLR: option 'step_size' must be an integer >= 1, got 2.5", optim.StepLR,
            opt, { step_size = 2.5 })
        assert_error("StepLR: option 'gamma' must be a number, got string", optim.StepLR, opt,
            { step_size = 2, gamma = "0.1" })
        assert_error("CosineAnnealingLR: option 'T_max' is required", optim.CosineAnnealingLR, opt,
            {})
        assert_error("CosineAnnealingLR: unknown option 'tmax' (expected T_max, eta_min)",
            optim.CosineAnnealingLR, opt, { tmax = 10 })
        assert_error("StepLR: bad argument #1 (optimizer expected, got nil)", optim.StepLR, nil,
            { step_size = 1 })
        assert_error("CosineAnnealingLR: bad argument #1 (optimizer expected, got a table "
            .. "without a numeric lr)", optim.CosineAnnealingLR, {}, { T_max = 1 })
    end)
end)

describe("training end to end", function()
    it("reduces a linear classifier's loss", function()
        lunet.manual_seed(3)
        -- Three separable clusters of 20 points around fixed centers.
        local centers = { { 2, 0 }, { -1, 1.7 }, { -1, -1.7 } }
        local points, labels = {}, {}
        local noise = lunet.randn(60, 2):mul(0.3):totable()
        for i = 1, 60 do
            local class = (i - 1) % 3 + 1
            points[i] = { centers[class][1] + noise[i][1], centers[class][2] + noise[i][2] }
            labels[i] = class
        end
        local x, y = lunet.tensor(points), lunet.tensor(labels)

        local model = nn.Linear(2, 3)
        local criterion = nn.CrossEntropyLoss()
        local opt = optim.SGD(model:parameters(), { lr = 0.5, momentum = 0.9 })
        local first, last
        for _ = 1, 50 do
            opt:zero_grad()
            local logits = model(x)
            last = criterion(logits, y):item()
            first = first or last
            model:backward(x, criterion:backward(logits, y))
            opt:step()
        end
        assert.is_true(first > 0.5, "initial loss " .. first)
        assert.is_true(last < 0.1, "final loss " .. last)
    end)
end)
