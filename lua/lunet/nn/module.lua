--- Functions every module shares, native or written in Lua.
--
-- A module is anything with a `forward` method: a native layer (userdata), an
-- `nn.Module` subclass, or a plain table. These functions walk a module tree
-- through `children`, which yields `name, child` pairs in registration order,
-- and read native layers' tensors through `_parameter_names` and
-- `_buffer_names`. State names use PyTorch's dotted form (`features.0.weight`)
-- so weights move between lunet and PyTorch unchanged.
local core = require "lunet.core"

local M = {}

local function is_native(module)
    return core.nn.is_native_layer(module)
end

--- Returns an iterator over `name, child` for the direct children of module.
function M.children(module)
    if is_native(module) or type(module) ~= "table" then
        return function() end
    end
    local order = rawget(module, "_children") or {}
    local i = 0
    return function()
        i = i + 1
        local name = order[i]
        if name then
            return name, module._modules[name]
        end
    end
end

local function join(prefix, name)
    return prefix == "" and name or prefix .. "." .. name
end

-- Visits every tensor of kind "parameter" or "buffer" with its dotted name.
local function visit_tensors(module, prefix, kinds, visit)
    if is_native(module) then
        if kinds.parameter then
            for _, name in ipairs(module:_parameter_names()) do
                visit(join(prefix, name), module[name], module, name)
            end
        end
        if kinds.buffer then
            for _, name in ipairs(module:_buffer_names()) do
                if module[name] ~= nil then
                    visit(join(prefix, name), module[name], module, name)
                end
            end
        end
        return
    end
    if type(module) ~= "table" then
        return
    end
    -- A Lua module lists its own tensors in _parameters and _buffers.
    local own = kinds.parameter and rawget(module, "_parameter_order")
    for _, name in ipairs(own or {}) do
        local tensor = module[name]
        if tensor ~= nil then
            visit(join(prefix, name), tensor, module, name)
        end
    end
    own = kinds.buffer and rawget(module, "_buffer_order")
    for _, name in ipairs(own or {}) do
        local tensor = module[name]
        if tensor ~= nil then
            visit(join(prefix, name), tensor, module, name)
        end
    end
    for name, child in M.children(module) do
        visit_tensors(child, join(prefix, name), kinds, visit)
    end
end

local PARAMETERS = { parameter = true }
local STATE = { parameter = true, buffer = true }

--- Returns a list of `{name, tensor}` pairs for every parameter, in order.
function M.named_parameters(module, prefix)
    local list = {}
    visit_tensors(module, prefix or "", PARAMETERS, function(name, tensor)
        list[#list + 1] = { name, tensor }
    end)
    return list
end

--- Returns the list of parameter tensors, the input optimisers take.
function M.parameters(module)
    local list = {}
    visit_tensors(module, "", PARAMETERS, function(_, tensor)
        list[#list + 1] = tensor
    end)
    return list
end

--- Counts the scalar parameters of module.
function M.num_parameters(module)
    local total = 0
    visit_tensors(module, "", PARAMETERS, function(_, tensor)
        total = total + tensor:numel()
    end)
    return total
end

--- Returns a table of name -> tensor holding parameters and buffers (such as
-- batch norm's `running_mean` and `running_var`). The tensors are the
-- module's own, not copies.
function M.state_dict(module)
    local state = {}
    visit_tensors(module, "", STATE, function(name, tensor)
        state[name] = tensor
    end)
    return state
end

local function shape_text(t)
    local size = t:size()
    return #size == 0 and "scalar" or table.concat(size, "x")
end

--- Copies tensors into the module's parameters and buffers by name.
-- With `strict` (the default), missing keys, unexpected keys and shape
-- mismatches are all listed in one error and nothing is copied. Otherwise
-- the matching tensors are copied and a report table is returned with the
-- lists `missing`, `unexpected` and `mismatched`.
function M.load_state_dict(module, tensors, options)
    if type(tensors) ~= "table" then
        error("load_state_dict: bad argument #1 (table of tensors expected, got " ..
            type(tensors) .. ")", 2)
    end
    local strict = true
    if options ~= nil then
        if type(options) ~= "table" then
            error("load_state_dict: bad argument #2 (options table expected, got " ..
                type(options) .. ")", 2)
        end
        if options.strict ~= nil then
            strict = options.strict
        end
    end

    local own = M.state_dict(module)
    local report = { missing = {}, unexpected = {}, mismatched = {} }
    local copies = {}
    for name, target in pairs(own) do
        local source = tensors[name]
        if source == nil then
            report.missing[#report.missing + 1] = name
        elseif not core.is_tensor(source) then
            report.mismatched[#report.mismatched + 1] =
                string.format("%s (expected a tensor of shape %s, got a %s)", name,
                    shape_text(target), type(source))
        elseif shape_text(source) ~= shape_text(target) then
            report.mismatched[#report.mismatched + 1] =
                string.format("%s (file %s, model %s)", name, shape_text(source),
                    shape_text(target))
        else
            copies[#copies + 1] = { target, source }
        end
    end
    for name in pairs(tensors) do
        if own[name] == nil then
            report.unexpected[#report.unexpected + 1] = tostring(name)
        end
    end
    for _, list in pairs(report) do
        table.sort(list)
    end

    local faults = #report.missing + #report.unexpected + #report.mismatched
    if strict and faults > 0 then
        local lines = { "load_state_dict: the tensors do not match the model" }
        if #report.missing > 0 then
            lines[#lines + 1] = "  missing keys: " .. table.concat(report.missing, ", ")
        end
        if #report.unexpected > 0 then
            lines[#lines + 1] = "  unexpected keys: " .. table.concat(report.unexpected, ", ")
        end
        if #report.mismatched > 0 then
            lines[#lines + 1] = "  shape mismatches: " .. table.concat(report.mismatched, ", ")
        end
        error(table.concat(lines, "\n"), 2)
    end
    for _, pair in ipairs(copies) do
        pair[1]:copy_(pair[2])
    end
    return report
end

--- Clears the gradient of every parameter (fills existing grads with 0).
function M.zero_grad(module)
    visit_tensors(module, "", PARAMETERS, function(_, tensor)
        local grad = tensor.grad
        if grad ~= nil then
            grad:zero_()
        end
    end)
    return module
end

--- Sets training mode on module and every descendant.
function M.train(module, mode)
    if mode == nil then
        mode = true
    end
    if type(mode) ~= "boolean" then
        error("train: mode must be a boolean, got " .. type(mode), 2)
    end
    if is_native(module) then
        module.training = mode
        return module
    end
    rawset(module, "training", mode)
    for _, child in M.children(module) do
        if child.train then
            child:train(mode)
        else
            M.train(child, mode)
        end
    end
    return module
end

function M.evaluate(module)
    return M.train(module, false)
end

return M
