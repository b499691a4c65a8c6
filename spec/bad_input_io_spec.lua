-- lunet.save and lunet.load, lunet.data and lunet.image against wrong
-- arguments and missing or wrong files; the cases live in
-- spec/helpers/cases_io.lua.
local A = require "spec.helpers.bad_input"
local cases = require "spec.helpers.cases_io"

describe("files and data with bad input", function()
    teardown(function()
        os.execute("rm -rf '" .. cases.folder .. "'")
    end)

    A.describe_cases(cases.cases, it)
end)
