-- Every tensor function and method against wrong arguments, views and
-- special values; the cases live in spec/helpers/cases_tensor.lua.
local A = require "spec.helpers.bad_input"
local cases = require "spec.helpers.cases_tensor"

describe("tensor functions with bad input", function()
    A.describe_cases(cases.cases, it)
end)
