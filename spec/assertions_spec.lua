local lunet = require "lunet"
require "lunet.assertions"

-- Runs an assertion that must fail and returns its message.
local function failure(assertion, ...)
    local ok, err = pcall(assertion, ...)
    assert.is_false(ok)
    -- Under busted a failed assertion raises a table with `message`, but
    -- plain luassert raises a string.
    return type(err) == "table" and err.message or tostring(err)
end

-- Softmax along the last dim of a nested table, in double.
local function softmax_rows(logits)
    local probs = {}
    for i, row in ipairs(logits) do
        local max, sum = -math.huge, 0
        for _, v in ipairs(row) do
            max = math.max(max, v)
        end
        probs[i] = {}
        for j, v in ipairs(row) do
            probs[i][j] = math.exp(v - max)
            sum = sum + probs[i][j]
        end
        for j = 1, #row do
            probs[i][j] = probs[i][j] / sum
        end
    end
    return probs
end

local PROBS = { { 0.2, 0.3, 0.5 }, { 0.1, 0.1, 0.8 }, { 1, 0, 0 }, { 0.25, 0.25, 0.5 } }

describe("is_distribution", function()
    it("passes for rows of probabilities", function()
        assert.is_distribution(lunet.tensor(PROBS))
        assert.is_distribution(lunet.tensor(PROBS), 2)
        assert.is_distribution(lunet.tensor(PROBS), -1)
    end)

    it("passes for a softmax in Lua", function()
        local logits = { { 1, 2, 3, 4 }, { -50, 0, 50, 100 }, { 0, 0, 0, 0 } }
        assert.is_distribution(lunet.tensor(softmax_rows(logits)))
    end)

    it("passes for lunet.softmax output", function()
        lunet.manual_seed(3)
        local logits = lunet.randn(2, 5, 7)
        for _, dim in ipairs({ 1, 2, 3, -1 }) do
            assert.is_distribution(lunet.softmax(logits, dim), dim)
        end
        local large = lunet.tensor{ { -100, 0, 100 }, { 80, 80, 80 } }
        assert.is_distribution(lunet.softmax(large, 2))
        assert.is_not_distribution(logits, 3)
    end)

    it("returns its arguments", function()
        local probs = lunet.tensor(PROBS)
        assert.are.equal(probs, assert.is_distribution(probs))
    end)

    it("names a row with a negative entry", function()
        local message = failure(assert.is_distribution,
            lunet.tensor{ { 0.2, 0.3, 0.5 }, { -0.5, 0.5, 1.0 } })
        assert.matches("Expected every row along dim 2 to be a probability distribution "
            .. "(non-negative, finite, summing to 1 within 1e-05), but row 2 contains the "
            .. "negative value -0.5 at [2, 1] (and sums to 1): [-0.5, 0.5, 1]", message, 1, true)
    end)

    it("names a NaN entry", function()
        local message = failure(assert.is_distribution,
            lunet.tensor{ { 0.2, 0.3, 0.5 }, { 0.5, 0 / 0, 0.5 } })
        assert.matches("but row 2 contains nan at [2, 2]: [0.5, nan, 0.5]", message, 1, true)
    end)

    it("names an inf entry", function()
        local message = failure(assert.is_distribution,
            lunet.tensor{ { math.huge, 0, 0 }, { 0.5, 0, 0.5 } })
        assert.matches("but row 1 contains inf at [1, 1]: [inf, 0, 0]", message, 1, true)
        message = failure(assert.is_distribution, lunet.tensor{ { 0.5, 0.5, -math.huge } })
        assert.matches("but row 1 contains -inf at [1, 3]", message, 1, true)
    end)

    it("names a row summing to 1.1", function()
        local message = failure(assert.is_distribution,
            lunet.tensor{ { 0.2, 0.3, 0.5 }, { 0.2, 0.3, 0.6 } })
        assert.matches("but row 2 sums to 1.1 (off by 0.1): [0.2, 0.3, 0.6]", message, 1, true)
    end)

    it("counts the failing rows", function()
        local message = failure(assert.is_distribution,
            lunet.tensor{ { 0.2, 0.3, 0.5 }, { 0.2, 0.3, 0.6 }, { 1, 1, 1 }, { 1, 0, 0 } })
        assert.matches("but row 2 sums to", message, 1, true)
        assert.matches("\n2 of 4 rows are not probability distributions.", message, 1, true)

        message = failure(assert.is_distribution, lunet.tensor{ { 0.5, 0.6 }, { 1, 0 } })
        assert.matches("\n1 of 2 rows is not a probability distribution.", message, 1, true)
    end)

    it("sums each row in double", function()
        -- Half an ulp of 1 in float32 is 6e-8, so a float32 running sum
        -- loses every 2e-8. In double the row sums to 1.00002.
        local row = { 1 }
        for i = 2, 1001 do
            row[i] = 2e-8
        end
        local message = failure(assert.is_distribution, lunet.tensor{ row })
        assert.matches("row 1 sums to 1.00002 (off by 2e-05)", message, 1, true)
    end)

    it("reports a negative entry first", function()
        local message = failure(assert.is_distribution, lunet.tensor{ { 1.2, -0.3, 5.1 } })
        assert.matches("but row 1 contains the negative value -0.3 at [1, 2] (and sums to 6): "
            .. "[1.2, -0.3, 5.1]", message, 1, true)
        message = failure(assert.is_distribution, lunet.tensor{ { -1, 0 / 0, 2 } })
        assert.matches("but row 1 contains nan at [1, 2]", message, 1, true)
    end)

    it("uses the tol argument", function()
        local probs = lunet.tensor{ { 0.5, 0.5001 } }
        assert.is_distribution(probs, 2, 1e-3)
        local message = failure(assert.is_distribution, probs, 2, 1e-5)
        assert.matches("summing to 1 within 1e-05), but row 1 sums to 1.0001", message, 1, true)
        message = failure(assert.is_distribution, lunet.tensor{ { 0.5, 0.6 } }, nil, 0.05)
        assert.matches("summing to 1 within 0.05), but row 1 sums to 1.1", message, 1, true)
    end)

    it("checks columns with dim 1", function()
        local columns = lunet.tensor{ { 0.2, 0.5 }, { 0.8, 0.5 } }
        assert.is_distribution(columns, 1)
        assert.is_distribution(columns, -2)
        local message = failure(assert.is_distribution, columns)
        assert.matches("Expected every row along dim 2", message, 1, true)
        assert.matches("but row 1 sums to 0.7 (off by 0.3): [0.2, 0.5]", message, 1, true)

        message = failure(assert.is_distribution, lunet.tensor{ { 0.2, 0.5 }, { 0.7, 0.5 } }, 1)
        assert.matches("Expected every column along dim 1", message, 1, true)
        assert.matches("but column 1 sums to 0.9 (off by 0.1): [0.2, 0.7]", message, 1, true)
        assert.matches("\n1 of 2 columns is not", message, 1, true)
    end)

    it("checks slices of a 3-d tensor", function()
        -- 2x2x3: every slice along dim 3 sums to 1, but none along dim 2.
        local probs = lunet.tensor{
            { { 0.2, 0.3, 0.5 }, { 0.6, 0.4, 0.0 } },
            { { 0.1, 0.1, 0.8 }, { 1.0, 0.0, 0.0 } },
        }
        assert.is_distribution(probs)
        assert.is_distribution(probs, 3)
        assert.is_distribution(probs, -1)

        local message = failure(assert.is_distribution, probs, 2)
        assert.matches("Expected every slice along dim 2", message, 1, true)
        assert.matches("but slice [1, :, 1] sums to 0.8 (off by 0.2): [0.2, 0.6]", message, 1,
            true)
        assert.matches("\n6 of 6 slices are not probability distributions.", message, 1, true)

        message = failure(assert.is_distribution, probs, 1)
        assert.matches("but slice [:, 1, 1] sums to 0.3", message, 1, true)
    end)

    it("names a 3-d slice along dim -1", function()
        local probs = lunet.tensor{
            { { 0.2, 0.3, 0.5 }, { 0.6, 0.4, 0.0 } },
            { { 0.1, 0.1, 0.8 }, { 1.0, 0.1, 0.0 } },
        }
        local message = failure(assert.is_distribution, probs, -1)
        assert.matches("Expected every slice along dim 3", message, 1, true)
        assert.matches("but slice [2, 2, :] sums to 1.1 (off by 0.1): [1, 0.1, 0]", message, 1,
            true)
        assert.matches("\n1 of 4 slices is not", message, 1, true)
    end)

    it("reads a transposed tensor", function()
        local columns = lunet.tensor{ { 0.2, 0.1, 1.0 }, { 0.3, 0.1, 0.0 }, { 0.5, 0.8, 0.0 } }
        local rows = columns:t()
        assert.is_false(rows:is_contiguous())
        assert.is_distribution(rows, 2)
        assert.is_distribution(columns, 1)

        local bad = lunet.tensor{ { 0.2, 0.1 }, { 0.3, 0.1 }, { 0.5, 0.9 } }:t()
        local message = failure(assert.is_distribution, bad)
        assert.matches("but row 2 sums to 1.1 (off by 0.1): [0.1, 0.1, 0.9]", message, 1, true)
    end)

    it("passes for a tensor with no rows", function()
        assert.is_distribution(lunet.zeros(0, 3))
        assert.is_distribution(lunet.zeros(2, 0), 1)
        assert.is_distribution(lunet.zeros(0, 3, 4), -1)
    end)

    it("rejects empty rows", function()
        local message = failure(assert.is_distribution, lunet.zeros(3, 0))
        assert.matches("but row 1 sums to 0 (off by 1): []", message, 1, true)
        assert.matches("\n3 of 3 rows are not", message, 1, true)
    end)

    it("checks a 1-d tensor", function()
        assert.is_distribution(lunet.tensor{ 0.25, 0.75 })
        local message = failure(assert.is_distribution, lunet.tensor{ 0.5, 0.6 })
        assert.matches("Expected the tensor to be a probability distribution (non-negative, "
            .. "finite, summing to 1 within 1e-05), but the tensor sums to 1.1 (off by 0.1): "
            .. "[0.5, 0.6]", message, 1, true)
        assert.is_nil(message:find("\n", 1, true))
    end)

    it("checks a 0-d tensor", function()
        assert.is_distribution(lunet.tensor(1))
        assert.is_distribution(lunet.tensor(1), -1)
        local message = failure(assert.is_distribution, lunet.tensor(0.5))
        assert.matches("but the tensor sums to 0.5 (off by 0.5): [0.5]", message, 1, true)
    end)

    it("shortens long rows", function()
        local row = {}
        for i = 1, 20 do
            row[i] = i
        end
        local message = failure(assert.is_distribution, lunet.tensor{ row })
        assert.matches("row 1 sums to 210 (off by 209): [1, 2, 3, 4, 5, 6, ..., 18, 19, 20] "
            .. "(20 values)", message, 1, true)
    end)

    it("prints a custom message first", function()
        local message = failure(assert.is_distribution, lunet.tensor{ { 2, 0 } }, 2, 1e-5,
            "decoder output")
        assert.matches("^decoder output\nExpected every row", message)
        message = failure(assert.message("decoder output").is_distribution, lunet.tensor{ 2 })
        assert.matches("^decoder output\nExpected the tensor", message)
    end)

    it("passes negated for logits", function()
        assert.is_not.distribution(lunet.tensor{ { 1.2, -0.3, 4.3 } })
        assert.is_not_distribution(lunet.tensor{ { 0.2, 0.3, 0.5 }, { 0.2, 0.3, 0.6 } })
    end)

    it("fails negated for probabilities", function()
        local message = failure(assert.is_not.distribution, lunet.tensor(PROBS))
        assert.matches("Expected the tensor of shape 4x3 not to be a probability distribution "
            .. "along dim 2, but all 4 rows are non-negative, finite and sum to 1 within 1e-05",
            message, 1, true)

        message = failure(assert.is_not_distribution, lunet.tensor{ { 0.5, 0.5 } }, -1, 0.1)
        assert.matches("along dim 2, but the only row is non-negative, finite and sums to 1 "
            .. "within 0.1", message, 1, true)

        message = failure(assert.is_not_distribution, lunet.tensor(PROBS):t(), 1)
        assert.matches("Expected the tensor of shape 3x4 not to be a probability distribution "
            .. "along dim 1, but all 4 columns are", message, 1, true)

        message = failure(assert.is_not_distribution, lunet.tensor{ 0.5, 0.5 })
        assert.matches("but it is non-negative, finite and sums to 1 within 1e-05", message, 1,
            true)
    end)

    it("fails negated for no rows", function()
        local message = failure(assert.is_not_distribution, lunet.zeros(0, 3))
        assert.matches("Expected the tensor of shape 0x3 not to be a probability distribution "
            .. "along dim 2, but it has no rows, so none of them fails", message, 1, true)
    end)

    it("rejects a missing or wrong tensor", function()
        local message = failure(assert.is_distribution, nil)
        assert.are.equal("is_distribution: bad argument #1 (probs): expected a tensor, got nil",
            (message:gsub("^.-:%d+: ", "")))
        message = failure(assert.is_distribution, 0.5)
        assert.matches("is_distribution: bad argument #1 (probs): expected a tensor, got "
            .. "number 0.5", message, 1, true)
        message = failure(assert.is_distribution, { { 0.5, 0.5 } })
        assert.matches("is_distribution: bad argument #1 (probs): expected a tensor, got table",
            message, 1, true)
    end)

    it("rejects a closed tensor", function()
        local probs = lunet.tensor{ 0.5, 0.5 }
        probs:close()
        local message = failure(assert.is_distribution, probs)
        assert.matches("is_distribution: bad argument #1 (probs): expected an open tensor, got "
            .. "a closed tensor", message, 1, true)
    end)

    it("rejects a bad dim", function()
        local probs = lunet.tensor(PROBS)
        local cases = {
            { 3, "got number 3" },
            { 0, "got number 0" },
            { -3, "got number -3" },
            { 1.5, "got number 1.5" },
            { "rows", 'got string "rows"' },
        }
        for _, case in ipairs(cases) do
            local message = failure(assert.is_distribution, probs, case[1])
            assert.matches("is_distribution: bad argument #2 (dim): expected an integer dim in "
                .. "-2..2, excluding 0, for a 2-d tensor, " .. case[2], message, 1, true)
        end
        local message = failure(assert.is_distribution, lunet.tensor(1), 2)
        assert.matches("expected an integer dim in -1..1, excluding 0, for a 0-d tensor",
            message, 1, true)
    end)

    it("rejects a bad tol", function()
        local probs = lunet.tensor(PROBS)
        local message = failure(assert.is_distribution, probs, 2, -1e-5)
        assert.matches("is_distribution: bad argument #3 (tol): expected a number >= 0, got "
            .. "number -1e-05", message, 1, true)
        message = failure(assert.is_distribution, probs, 2, 0 / 0)
        assert.matches("bad argument #3 (tol): expected a number >= 0, got number nan", message,
            1, true)
        message = failure(assert.is_distribution, probs, 2, "1e-5")
        assert.matches('bad argument #3 (tol): expected a number >= 0, got string "1e-5"',
            message, 1, true)
    end)

    it("rejects a non-string message", function()
        local message = failure(assert.is_distribution, lunet.tensor(PROBS), 2, 1e-5, 7)
        assert.matches("is_distribution: bad argument #4 (message): expected a string or nil, "
            .. "got number 7", message, 1, true)
    end)

    it("rejects bad arguments when negated", function()
        local message = failure(assert.is_not.distribution, nil)
        assert.matches("is_distribution: bad argument #1 (probs): expected a tensor, got nil",
            message, 1, true)
        message = failure(assert.is_not_distribution, lunet.tensor{ { 2, 2 } }, 5)
        assert.matches("is_distribution: bad argument #2 (dim)", message, 1, true)
    end)
end)

describe("tensor_near", function()
    local actual = lunet.tensor{ { 1, 2, 3 }, { 4, 5, 6 } }

    it("passes for equal tensors", function()
        assert.tensor_near(actual, actual:clone())
        assert.tensor_near(actual, actual)
    end)

    it("uses rtol and atol", function()
        -- |a - e| <= atol + rtol * |e|: 1e-5 * 1000 allows 0.01 here.
        assert.tensor_near(lunet.tensor{ 1000.009 }, lunet.tensor{ 1000 })
        failure(assert.tensor_near, lunet.tensor{ 1000.02 }, lunet.tensor{ 1000 })
        assert.tensor_near(lunet.tensor{ 1e-9 }, lunet.tensor{ 0 })
        failure(assert.tensor_near, lunet.tensor{ 1e-7 }, lunet.tensor{ 0 })
        assert.tensor_near(lunet.tensor{ 1e-7 }, lunet.tensor{ 0 }, { atol = 1e-6 })
        assert.tensor_near(lunet.tensor{ 1.1 }, lunet.tensor{ 1 }, { rtol = 0.2 })
        failure(assert.tensor_near, lunet.tensor{ 1.1 }, lunet.tensor{ 1 }, { rtol = 0.05 })
        failure(assert.tensor_near, lunet.tensor{ 1.5 }, lunet.tensor{ 1 }, { rtol = 0, atol = 0 })
    end)

    it("accepts expected as a table", function()
        assert.tensor_near(actual, { { 1, 2, 3 }, { 4, 5, 6 } })
        assert.tensor_near(lunet.tensor{ 0.1, 0.2 }, { 0.1, 0.2 }, { rtol = 0, atol = 0 })
        local message = failure(assert.tensor_near, actual, { { 1, 2, 3 }, { 4, 5, 7 } })
        assert.matches("The worst is at [2, 3]: actual 6, expected 7", message, 1, true)
    end)

    it("accepts expected as a number", function()
        assert.tensor_near(lunet.full(2, 3, 0.5), 0.5)
        assert.tensor_near(lunet.tensor(0.5), 0.5)
        local message = failure(assert.tensor_near, lunet.tensor{ 0.5, 0.5, 0.7 }, 0.5)
        assert.matches("1 of 3 elements is off. The worst is at [3]: actual 0.7, "
            .. "expected 0.5", message, 1, true)
    end)

    it("reports both shapes", function()
        local message = failure(assert.tensor_near, actual, lunet.zeros(3, 2))
        assert.matches("Expected the tensor to be near the expected values (|actual - expected| "
            .. "<= atol + rtol * |expected| with rtol=1e-05, atol=1e-08), but its shape is 2x3 "
            .. "and the expected shape is 3x2", message, 1, true)
        message = failure(assert.tensor_near, actual, { 1, 2, 3, 4, 5, 6 })
        assert.matches("but its shape is 2x3 and the expected shape is 6", message, 1, true)
        message = failure(assert.tensor_near, lunet.tensor(1), { 1 })
        assert.matches("but its shape is {} (0-d) and the expected shape is 1", message, 1, true)
    end)

    it("reports the worst element", function()
        local expected = lunet.tensor{ { 1, 2, 3.5 }, { 4, 5.25, 6 } }
        local message = failure(assert.tensor_near, actual, expected)
        assert.matches("but 2 of 6 elements are off. The worst is at [1, 3]: actual 3, "
            .. "expected 3.5, absolute error 0.5, relative error 0.143.", message, 1, true)
    end)

    it("counts the elements off", function()
        local expected = lunet.tensor{ { 1.5, 2, 3.5 }, { 4, 5.5, 6 } }
        local message = failure(assert.tensor_near, actual, expected)
        assert.matches("3 of 6 elements are off.", message, 1, true)
        message = failure(assert.tensor_near, actual, expected, { atol = 0.4 })
        assert.matches("3 of 6 elements are off.", message, 1, true)
        message = failure(assert.tensor_near, actual, expected, { atol = 0.49, rtol = 0.005 })
        assert.matches("1 of 6 elements is off. The worst is at [1, 1]", message, 1, true)
    end)

    it("shows the options", function()
        local message = failure(assert.tensor_near, actual, actual:clone():fill_(0),
            { rtol = 0.001, atol = 0.5, equal_nan = true })
        assert.matches("with rtol=0.001, atol=0.5, equal_nan=true), but 6 of 6 elements are off",
            message, 1, true)
    end)

    it("compares NaN only with equal_nan", function()
        local nan = 0 / 0
        local message = failure(assert.tensor_near, lunet.tensor{ 1, nan }, { 1, nan })
        assert.matches("1 of 2 elements is off. The worst is at [2]: actual nan, expected nan, "
            .. "absolute error nan, relative error nan.", message, 1, true)
        assert.tensor_near(lunet.tensor{ 1, nan }, { 1, nan }, { equal_nan = true })

        message = failure(assert.tensor_near, lunet.tensor{ 1, nan }, { 1, 2 },
            { equal_nan = true })
        assert.matches("The worst is at [2]: actual nan, expected 2", message, 1, true)
        message = failure(assert.tensor_near, lunet.tensor{ 1, 2 }, { 1, nan },
            { equal_nan = true })
        assert.matches("The worst is at [2]: actual 2, expected nan", message, 1, true)
    end)

    it("compares infinities", function()
        local inf = math.huge
        assert.tensor_near(lunet.tensor{ inf, -inf }, { inf, -inf })
        local message = failure(assert.tensor_near, lunet.tensor{ 1, inf }, { 1, -inf })
        assert.matches("The worst is at [2]: actual inf, expected -inf, absolute error inf",
            message, 1, true)
        message = failure(assert.tensor_near, lunet.tensor{ 1e30, 3 }, { inf, 3 },
            { atol = 1e38 })
        assert.matches("The worst is at [1]: actual 1e+30, expected inf", message, 1,
            true)
    end)

    it("ranks a NaN above finite errors", function()
        local message = failure(assert.tensor_near, lunet.tensor{ 100, 0 / 0 }, { 1, 1 })
        assert.matches("2 of 2 elements are off. The worst is at [2]: actual nan", message, 1,
            true)
    end)

    it("passes for empty tensors", function()
        assert.tensor_near(lunet.zeros(0, 3), lunet.zeros(0, 3))
        assert.tensor_near(lunet.zeros(0), {})
        local message = failure(assert.tensor_near, lunet.zeros(0, 3), lunet.zeros(3, 0))
        assert.matches("but its shape is 0x3 and the expected shape is 3x0", message, 1, true)
    end)

    it("reads a transposed tensor", function()
        assert.tensor_near(actual:t(), { { 1, 4 }, { 2, 5 }, { 3, 6 } })
        local message = failure(assert.tensor_near, actual:t(), { { 1, 4 }, { 2, 5 }, { 3, 7 } })
        assert.matches("The worst is at [3, 2]: actual 6, expected 7", message, 1, true)
    end)

    it("passes negated for distant tensors", function()
        assert.is_not.tensor_near(actual, actual:clone():fill_(0))
        assert.is_not_tensor_near(actual, lunet.zeros(3, 2))
        assert.is_not.tensor_near(lunet.tensor{ 0 / 0 }, { 0 / 0 })
    end)

    it("fails negated for near tensors", function()
        local message = failure(assert.is_not.tensor_near, lunet.tensor{ 1, 2.000001 }, { 1, 2 })
        assert.matches("Expected the tensor not to be near the expected values (|actual - "
            .. "expected| <= atol + rtol * |expected| with rtol=1e-05, atol=1e-08), but all 2 "
            .. "elements are within tolerance (max absolute error 9.54e-07 at [2])", message, 1,
            true)
        message = failure(assert.is_not_tensor_near, lunet.tensor{ 3 }, 3)
        assert.matches("but the only element is within tolerance (max absolute error 0 at [1])",
            message, 1, true)
        message = failure(assert.is_not_tensor_near, lunet.zeros(0), {})
        assert.matches("but the tensor has no elements", message, 1, true)
    end)

    it("rejects a bad actual", function()
        local message = failure(assert.tensor_near, { 1, 2 }, { 1, 2 })
        assert.matches("tensor_near: bad argument #1 (actual): expected a tensor, got table",
            message, 1, true)
        message = failure(assert.tensor_near, nil, 1)
        assert.matches("tensor_near: bad argument #1 (actual): expected a tensor, got nil",
            message, 1, true)
    end)

    it("rejects a bad expected", function()
        local message = failure(assert.tensor_near, actual, nil)
        assert.matches("tensor_near: bad argument #2 (expected): expected a tensor, a nested "
            .. "table of numbers or a number, got nil", message, 1, true)
        message = failure(assert.tensor_near, actual, "1")
        assert.matches('(expected): expected a tensor, a nested table of numbers or a number, '
            .. 'got string "1"', message, 1, true)
        message = failure(assert.tensor_near, actual, { { 1, 2, 3 }, { 4, 5 } })
        assert.matches("tensor_near: bad argument #2 (expected): the nested table is not "
            .. "rectangular: element [2] has length 2, expected 3", message, 1, true)
        message = failure(assert.tensor_near, actual, { { 1, 2, "3" } })
        assert.matches("tensor_near: bad argument #2 (expected): element [1][3] is a string, "
            .. "expected a number", message, 1, true)

        local closed = lunet.zeros(2, 3)
        closed:close()
        message = failure(assert.tensor_near, actual, closed)
        assert.matches("(expected): expected an open tensor, got a closed tensor", message, 1,
            true)
    end)

    it("rejects bad options", function()
        local cases = {
            { 1e-5, "expected a table such as {rtol=1e-5, atol=1e-8, equal_nan=false} or nil, "
                .. "got number 1e-05" },
            { { rtool = 1 }, "expected only the keys rtol, atol and equal_nan, got the key rtool" },
            { { rtol = -1 }, "(options.rtol): expected a number >= 0, got number -1" },
            { { atol = "0" }, '(options.atol): expected a number >= 0, got string "0"' },
            { { equal_nan = 1 }, "expected equal_nan to be a boolean, got number 1" },
        }
        for _, case in ipairs(cases) do
            local message = failure(assert.tensor_near, actual, actual, case[1])
            assert.matches("tensor_near: bad argument #3 ", message, 1, true)
            assert.matches(case[2], message, 1, true)
        end
        local message = failure(assert.is_not.tensor_near, actual, actual, { rtol = -1 })
        assert.matches("tensor_near: bad argument #3 (options.rtol)", message, 1, true)
    end)
end)

describe("has_shape", function()
    it("passes for the same shape", function()
        assert.has_shape(lunet.zeros(2, 10), { 2, 10 })
        assert.has_shape(lunet.zeros(0, 3), { 0, 3 })
        assert.has_shape(lunet.tensor(1), {})
        assert.has_shape(lunet.zeros(2, 10), lunet.zeros(2, 10):size())
        assert.has_shape(lunet.zeros(4), { 4.0 })
    end)

    it("shows both shapes", function()
        local message = failure(assert.has_shape, lunet.zeros(2, 5), { 2, 10 })
        assert.matches("Expected a tensor of shape 2x10, but got shape 2x5", message, 1, true)
        message = failure(assert.has_shape, lunet.tensor(1), { 1 })
        assert.matches("Expected a tensor of shape 1, but got shape {} (0-d)", message, 1, true)
        message = failure(assert.has_shape, lunet.zeros(2, 10), { 2, 10, 1 })
        assert.matches("Expected a tensor of shape 2x10x1, but got shape 2x10", message, 1, true)
    end)

    it("works negated", function()
        assert.has_no.shape(lunet.zeros(2, 5), { 2, 10 })
        assert.is_not.shape(lunet.zeros(2, 5), { 5, 2 })
        local message = failure(assert.has_no.shape, lunet.zeros(2, 10), { 2, 10 })
        assert.matches("Expected a tensor whose shape is not 2x10, but got shape 2x10", message,
            1, true)
    end)

    it("rejects a bad tensor", function()
        local message = failure(assert.has_shape, nil, { 2 })
        assert.matches("has_shape: bad argument #1 (tensor): expected a tensor, got nil", message,
            1, true)
    end)

    it("rejects a bad shape", function()
        local t = lunet.zeros(2, 10)
        local cases = {
            { nil, "expected a table of sizes such as {2, 10}, got nil" },
            { 2, "expected a table of sizes such as {2, 10}, got number 2" },
            { "2x10", 'expected a table of sizes such as {2, 10}, got string "2x10"' },
            { t, "expected a table of sizes such as {2, 10}, got a tensor of shape 2x10" },
            { { 2, -1 }, "expected sizes that are integers >= 0, got number -1 at position 2" },
            { { 2.5 }, "expected sizes that are integers >= 0, got number 2.5 at position 1" },
            { { "2" }, 'expected sizes that are integers >= 0, got string "2" at position 1' },
        }
        for _, case in ipairs(cases) do
            local message = failure(assert.has_shape, t, case[1])
            assert.matches("has_shape: bad argument #2 (shape): " .. case[2], message, 1, true)
            message = failure(assert.has_no.shape, t, case[1])
            assert.matches("has_shape: bad argument #2 (shape): " .. case[2], message, 1, true)
        end
    end)
end)

describe("is_finite", function()
    it("passes for finite values", function()
        assert.is_finite(lunet.tensor{ { 1, -2 }, { 3e38, -3e38 } })
        assert.is_finite(lunet.zeros(0, 4))
        assert.is_finite(lunet.tensor(0))
    end)

    it("names the first non-finite element", function()
        local t = lunet.tensor{ { 1, 2, 3 }, { 4, 0 / 0, math.huge } }
        local message = failure(assert.is_finite, t)
        assert.matches("Expected every element to be finite, but 2 of 6 elements are not. "
            .. "The first is nan at [2, 2].", message, 1, true)
        message = failure(assert.is_finite, t:t())
        assert.matches("but 2 of 6 elements are not. The first is nan at [2, 2].", message, 1,
            true)
        message = failure(assert.is_finite, lunet.tensor{ 1, -math.huge })
        assert.matches("but 1 of 2 elements is not. The first is -inf at [2].", message, 1, true)
    end)

    it("works negated", function()
        assert.is_not_finite(lunet.tensor{ 1, 0 / 0 })
        assert.is_not.finite(lunet.tensor{ math.huge })
        local message = failure(assert.is_not_finite, lunet.tensor{ 1, 2, 3 })
        assert.matches("Expected a tensor with a non-finite element (nan, inf or -inf), but all 3 "
            .. "elements are finite", message, 1, true)
        message = failure(assert.is_not_finite, lunet.zeros(0))
        assert.matches("but the tensor has no elements", message, 1, true)
    end)

    it("rejects a non-tensor", function()
        local message = failure(assert.is_finite, 1)
        assert.matches("is_finite: bad argument #1 (tensor): expected a tensor, got number 1",
            message, 1, true)
        message = failure(assert.is_not_finite, { 0 / 0 })
        assert.matches("is_finite: bad argument #1 (tensor): expected a tensor, got table",
            message, 1, true)
    end)
end)

-- The example spec of docs/testing.md, kept the same so that the guide runs.
describe("classifier", function()
    local model, features

    before_each(function()
        lunet.manual_seed(0)
        model = lunet.nn.Linear(10, 4)
        features = lunet.randn(8, 10)
    end)

    it("returns finite logits per class", function()
        local logits = model(features)
        assert.has_shape(logits, { 8, 4 })
        assert.is_finite(logits)
    end)

    it("gives a distribution per row", function()
        local probs = lunet.softmax(model(features), 2)
        assert.is_distribution(probs, 2)
    end)

    it("does not normalise raw logits", function()
        assert.is_not_distribution(model(features), 2)
    end)

    it("gives the same output twice", function()
        assert.tensor_near(model(features), model(features))
    end)

    it("explains raw logits as in the guide", function()
        local message = failure(assert.is_distribution, model(features), 2)
        assert.matches("Expected every row along dim 2 to be a probability distribution "
            .. "(non-negative, finite, summing to 1 within 1e-05), but row 1 contains the "
            .. "negative value -0.6295598 at [1, 1] (and sums to -0.9940944): "
            .. "[-0.62956, 0.29595, -0.79818, 0.1377]\n"
            .. "8 of 8 rows are not probability distributions.", message, 1, true)
    end)
end)
