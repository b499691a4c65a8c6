--- Model constructors: `lunet.models`.
--
--     local models = require "lunet.models"
--     local model = models.vgg.vgg16()
--     local small = models.simple_vgg({num_classes = 3})
--
-- Each field loads its model file on first use: `lunet.models.X` in an
-- installation, or `models.X` from the models/ folder of a checkout (the
-- `lunet` executable and `make test` put that folder on package.path).
local models = {}

-- The models that ship with lunet, in the order pairs() visits them.
local SHIPPED = { "fashion_vgg", "simple_vgg", "vgg" }

local function load(name)
    local installed = "lunet.models." .. name
    if package.loaded[installed] or package.searchpath(installed, package.path) then
        return require(installed)
    end
    if package.loaded["models." .. name] or package.searchpath("models." .. name, package.path) then
        return require("models." .. name)
    end
    return nil
end

return setmetatable(models, {
    __index = function(self, name)
        if type(name) ~= "string" then
            return nil
        end
        local model = load(name)
        if model == nil then
            error(string.format("lunet.models: no model named '%s' (shipped models: %s)", name,
                table.concat(SHIPPED, ", ")), 2)
        end
        rawset(self, name, model)
        return model
    end,

    -- Loads every shipped model, so that pairs() lists them all.
    __pairs = function(self)
        for _, name in ipairs(SHIPPED) do
            local _ = self[name]
        end
        return next, self, nil
    end,
})
