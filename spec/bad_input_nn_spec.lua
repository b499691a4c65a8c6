-- Every lunet.nn constructor, native layer method, Module and Sequential
-- method against wrong arguments, views and special values; the cases live
-- in spec/helpers/cases_nn.lua.
local A = require "spec.helpers.bad_input"
local cases = require "spec.helpers.cases_nn"

describe("nn with bad input", function()
    A.describe_cases(cases.cases, it)
end)
