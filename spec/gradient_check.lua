--- Finite-difference checks of native layers' backward, for busted specs.
--
-- A layer's backward(x, v) must return the gradient of the scalar
-- loss(x) = sum(layer(x) * v) with respect to x, and add the gradient with
-- respect to each parameter into its `grad`. The numeric gradient perturbs one
-- element at a time by +-eps and takes the central difference of the loss.
-- The loss is summed in Lua doubles, so only the layer itself runs in float32.
local lunet = require "lunet"
local luassert = require "lunet.assertions"

local gradient_check = {}

--- Returns the sum of a[i] * b[i] over two flat tables, in double.
function gradient_check.dot(a, b)
    assert(#a == #b, "dot: " .. #a .. " and " .. #b .. " values")
    local sum = 0
    for i = 1, #a do
        sum = sum + a[i] * b[i]
    end
    return sum
end

--- Returns the central-difference gradient of loss() with respect to every
-- element of the contiguous tensor t, as a tensor of t's shape. t is changed
-- in place during the call and restored afterwards.
function gradient_check.numeric_gradient(t, loss, eps)
    assert(t:is_contiguous(), "numeric_gradient: the tensor must be contiguous")
    local flat = t:view(-1)
    local gradient = {}
    for i = 1, t:numel() do
        local saved = flat[i]
        -- The stored steps are float32, so the difference is taken between the
        -- values read back rather than 2 * eps.
        flat[i] = saved + eps
        local up, loss_up = flat[i], loss()
        flat[i] = saved - eps
        local down, loss_down = flat[i], loss()
        flat[i] = saved
        gradient[i] = (loss_up - loss_down) / (up - down)
    end
    if #gradient == 0 then
        return lunet.zeros(t:size())
    end
    return lunet.tensor(gradient):view(t:size())
end

--- Checks layer:backward against central differences at input x: grad_input,
-- and the grad of every parameter named in options.parameters. options:
-- eps (default 1e-2), atol and rtol (default 1e-3), parameters (default {}),
-- and before_forward, a function run before every forward pass (for example
-- to reseed the generator so Dropout draws the same mask).
function gradient_check.check_layer(layer, x, options)
    options = options or {}
    local eps = options.eps or 1e-2
    local tolerance = { atol = options.atol or 1e-3, rtol = options.rtol or 1e-3 }
    local before_forward = options.before_forward or function() end
    local parameters = options.parameters or {}

    before_forward()
    local output = layer(x)
    local v = lunet.randn(output:size())
    local v_flat = v:flat()
    local function loss()
        before_forward()
        return gradient_check.dot(layer(x):flat(), v_flat)
    end

    for _, name in ipairs(parameters) do
        layer[name].grad = nil
    end
    before_forward()
    layer(x)
    local grad_input = layer:backward(x, v)

    luassert.has_shape(grad_input, x:size())
    luassert.tensor_near(grad_input, gradient_check.numeric_gradient(x, loss, eps), tolerance,
        "grad_input")
    for _, name in ipairs(parameters) do
        local parameter = layer[name]
        luassert.tensor_near(parameter.grad, gradient_check.numeric_gradient(parameter, loss, eps),
            tolerance, "grad of " .. name)
    end
end

return gradient_check
