-- lunet.optim and the model constructors against wrong arguments; the
-- cases live in spec/helpers/cases_training.lua.
local A = require "spec.helpers.bad_input"
local cases = require "spec.helpers.cases_training"

describe("optimizers and models with bad input", function()
    A.describe_cases(cases.cases, it)
end)
