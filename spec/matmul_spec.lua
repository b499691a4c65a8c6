local lunet = require "lunet"

-- Returns the error message of a call that must fail.
local function error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok)
    return tostring(err)
end

local function same_list(expected, actual)
    assert.are.equal(#expected, #actual)
    for i = 1, #expected do
        assert.are.equal(expected[i], actual[i])
    end
end

-- torch.matmul in plain Lua doubles: promotes 1-d operands, broadcasts the
-- batch dims and returns the flat result and its shape.
local function reference_matmul(a, b)
    local shape_a, shape_b = a:size(), b:size()
    local flat_a, flat_b = a:flat(), b:flat()
    local vector_a, vector_b = #shape_a == 1, #shape_b == 1
    if vector_a then shape_a = { 1, shape_a[1] } end
    if vector_b then shape_b = { shape_b[1], 1 } end
    local n, k, m = shape_a[#shape_a - 1], shape_a[#shape_a], shape_b[#shape_b]

    local batch_a, batch_b, batch = {}, {}, {}
    for d = 1, #shape_a - 2 do batch_a[d] = shape_a[d] end
    for d = 1, #shape_b - 2 do batch_b[d] = shape_b[d] end
    local rank = math.max(#batch_a, #batch_b)
    for d = 1, rank do
        local size_a = batch_a[d - (rank - #batch_a)] or 1
        local size_b = batch_b[d - (rank - #batch_b)] or 1
        batch[d] = size_a == 1 and size_b or size_a
    end

    -- Linear index of a batch within an operand's own (unbroadcast) batch dims.
    local function batch_index(own, index)
        local linear = 0
        for d = 1, #own do
            local i = index[d + (rank - #own)]
            linear = linear * own[d] + (own[d] == 1 and 0 or i)
        end
        return linear
    end

    local out, count = {}, 1
    for d = 1, rank do count = count * batch[d] end
    local index = {}
    for d = 1, rank do index[d] = 0 end
    for _ = 1, count do
        local base_a = batch_index(batch_a, index) * n * k
        local base_b = batch_index(batch_b, index) * k * m
        for i = 0, n - 1 do
            for j = 0, m - 1 do
                local sum = 0
                for p = 0, k - 1 do
                    sum = sum + flat_a[base_a + i * k + p + 1] * flat_b[base_b + p * m + j + 1]
                end
                out[#out + 1] = sum
            end
        end
        for d = rank, 1, -1 do
            index[d] = index[d] + 1
            if index[d] < batch[d] then break end
            index[d] = 0
        end
    end

    local shape = {}
    for d = 1, rank do shape[d] = batch[d] end
    if not vector_a then shape[#shape + 1] = n end
    if not vector_b then shape[#shape + 1] = m end
    return out, shape
end

-- Checks lunet.matmul(a, b) against the reference, relative to the size of
-- the inputs so long sums get a fair float32 tolerance.
local function check_matmul(a, b)
    local result = lunet.matmul(a, b)
    local expected, shape = reference_matmul(a, b)
    same_list(shape, result:size())
    local actual = result:flat()
    assert.are.equal(#expected, #actual)
    local k = a:size(a:dim())
    for i = 1, #expected do
        local tolerance = 1e-5 * (1 + math.abs(expected[i])) * math.sqrt(k + 1)
        if math.abs(actual[i] - expected[i]) > tolerance then
            error(string.format("element %d: expected %.7g, got %.7g", i, expected[i], actual[i]))
        end
    end
    return result
end

describe("matmul", function()
    before_each(function()
        lunet.manual_seed(42)
    end)

    it("multiplies two small matrices", function()
        local a = lunet.tensor({ { 1, 2 }, { 3, 4 } })
        local b = lunet.tensor({ { 5, 6 }, { 7, 8 } })
        local c = lunet.matmul(a, b)
        same_list({ 2, 2 }, c:size())
        same_list({ 19, 22, 43, 50 }, c:flat())
    end)

    it("is also a method", function()
        local a = lunet.tensor({ { 1, 2 }, { 3, 4 } })
        same_list({ 7, 10, 15, 22 }, a:matmul(a):flat())
    end)

    it("returns a 0-d dot product", function()
        local c = lunet.matmul(lunet.tensor({ 1, 2, 3 }), lunet.tensor({ 4, 5, 6 }))
        assert.are.equal(0, c:dim())
        assert.are.equal(32, c:item())
    end)

    it("multiplies matrix by vector", function()
        local a = lunet.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
        local c = lunet.matmul(a, lunet.tensor({ 1, 0, -1 }))
        same_list({ 2 }, c:size())
        same_list({ -2, -2 }, c:flat())
    end)

    it("multiplies vector by matrix", function()
        local b = lunet.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
        local c = lunet.matmul(lunet.tensor({ 1, -1 }), b)
        same_list({ 3 }, c:size())
        same_list({ -3, -3, -3 }, c:flat())
    end)

    it("matches the reference on random shapes", function()
        local cases = {
            { { 1 }, { 1 } }, { { 7 }, { 7 } }, { { 3, 5 }, { 5 } }, { { 5 }, { 5, 4 } },
            { { 1, 1 }, { 1, 1 } }, { { 1, 6 }, { 6, 1 } }, { { 6, 1 }, { 1, 6 } },
            { { 4, 7 }, { 7, 3 } }, { { 2, 3, 4 }, { 4 } }, { { 4 }, { 2, 4, 3 } },
            { { 2, 3, 4 }, { 2, 4, 5 } }, { { 2, 3, 4 }, { 4, 5 } }, { { 3, 4 }, { 2, 4, 5 } },
            { { 2, 1, 3, 4 }, { 5, 4, 2 } }, { { 1, 3, 2, 4 }, { 2, 1, 4, 3 } },
            { { 2, 2, 1, 4 }, { 4, 1 } }, { { 3, 1, 4 }, { 1, 4, 2 } },
        }
        for _, case in ipairs(cases) do
            check_matmul(lunet.randn(case[1]), lunet.randn(case[2]))
        end
    end)

    it("broadcasts batch dims", function()
        local c = check_matmul(lunet.randn(2, 1, 3, 4), lunet.randn(5, 4, 2))
        same_list({ 2, 5, 3, 2 }, c:size())
    end)

    it("reads transposed operands", function()
        local a, b = lunet.randn(5, 3), lunet.randn(4, 5)
        check_matmul(a:t(), b:t())
        check_matmul(a:t(), lunet.randn(5, 2))
        check_matmul(lunet.randn(2, 5), b:t())
        check_matmul(lunet.randn(3, 6, 4):transpose(2, 3), lunet.randn(3, 6, 5))
        check_matmul(lunet.randn(6, 4), lunet.randn(2, 5, 4):transpose(-1, -2))
    end)

    it("reads narrowed, selected and expanded operands", function()
        local wide = lunet.randn(6, 10)
        check_matmul(wide:narrow(2, 3, 4), lunet.randn(4, 3))
        check_matmul(lunet.randn(2, 6), wide:narrow(2, 2, 5))
        check_matmul(lunet.randn(3, 5, 4):select(2, 2), lunet.randn(4, 2))
        check_matmul(lunet.randn(4, 1):expand(4, 3), lunet.randn(3, 2))
        check_matmul(lunet.randn(3):expand(2, 3), lunet.randn(3, 2))
        check_matmul(lunet.randn(2, 3), lunet.randn(3, 1):expand(3, 4))
        check_matmul(lunet.tensor(2):expand(5), lunet.randn(5))
        check_matmul(lunet.randn(1, 3, 4):expand(6, 3, 4), lunet.randn(6, 4, 2))
        check_matmul(lunet.randn(2, 3, 4):permute(3, 1, 2), lunet.randn(3, 5))
    end)

    it("folds a batch against one matrix", function()
        -- Contiguous 3-d @ 2-d is one GEMM over stacked rows; a narrowed
        -- batch is not, and both must agree with the reference.
        local x = lunet.randn(4, 3, 5)
        check_matmul(x, lunet.randn(5, 2))
        check_matmul(x:narrow(3, 1, 4), lunet.randn(4, 2))
        check_matmul(x:narrow(2, 2, 2), lunet.randn(5, 3))
        check_matmul(x, lunet.randn(5))
    end)

    it("handles zero-size dims", function()
        local empty_rows = lunet.matmul(lunet.randn(0, 3), lunet.randn(3, 4))
        same_list({ 0, 4 }, empty_rows:size())
        local empty_inner = lunet.matmul(lunet.randn(2, 0), lunet.randn(0, 3))
        same_list({ 2, 3 }, empty_inner:size())
        same_list({ 0, 0, 0, 0, 0, 0 }, empty_inner:flat())
        assert.are.equal(0, lunet.matmul(lunet.zeros(0), lunet.zeros(0)):item())
        same_list({ 0, 2, 5 }, lunet.matmul(lunet.randn(0, 2, 3), lunet.randn(3, 5)):size())
    end)

    it("is close on 128x256 @ 256x64", function()
        check_matmul(lunet.randn(128, 256), lunet.randn(256, 64))
    end)

    it("leaves its inputs unchanged", function()
        local a, b = lunet.randn(3, 4), lunet.randn(4, 2)
        local before_a, before_b = a:flat(), b:flat()
        lunet.matmul(a, b)
        same_list(before_a, a:flat())
        same_list(before_b, b:flat())
    end)

    it("rejects 0-d operands", function()
        local message = error_of(lunet.matmul, lunet.tensor(2), lunet.randn(3))
        assert.matches("matmul: both operands need at least 1 dim, got scalar @ 3", message, 1, true)
        message = error_of(lunet.matmul, lunet.randn(3, 2), lunet.tensor(2))
        assert.matches("matmul: both operands need at least 1 dim, got 3x2 @ scalar", message, 1, true)
    end)

    it("rejects mismatched inner sizes", function()
        local message = error_of(lunet.matmul, lunet.randn(2, 3), lunet.randn(4, 5))
        assert.matches("matmul: size mismatch, 2x3 @ 4x5 (inner sizes 3 and 4 differ)", message, 1, true)
        message = error_of(lunet.matmul, lunet.randn(3), lunet.randn(4))
        assert.matches("matmul: size mismatch, 3 @ 4 (inner sizes 3 and 4 differ)", message, 1, true)
        message = error_of(lunet.matmul, lunet.randn(2, 3), lunet.randn(2))
        assert.matches("matmul: size mismatch, 2x3 @ 2 (inner sizes 3 and 2 differ)", message, 1, true)
        message = error_of(lunet.matmul, lunet.randn(3), lunet.randn(2, 4, 3))
        assert.matches("matmul: size mismatch, 3 @ 2x4x3 (inner sizes 3 and 4 differ)", message, 1, true)
    end)

    it("rejects batch dims that do not broadcast", function()
        local message = error_of(lunet.matmul, lunet.randn(2, 3, 4), lunet.randn(5, 4, 2))
        assert.matches("matmul: batch dims of 2x3x4 @ 5x4x2 do not broadcast (size 2 vs 5",
            message, 1, true)
    end)

    it("rejects non-tensor arguments", function()
        local t = lunet.randn(2, 2)
        assert.matches("matmul: bad argument #1 (tensor expected, got nil)",
            error_of(lunet.matmul, nil, t), 1, true)
        assert.matches("matmul: bad argument #2 (tensor expected, got nil)",
            error_of(lunet.matmul, t, nil), 1, true)
        assert.matches("matmul: bad argument #2 (tensor expected, got no value)",
            error_of(lunet.matmul, t), 1, true)
        assert.matches("matmul: bad argument #2 (tensor expected, got number)",
            error_of(lunet.matmul, t, 2), 1, true)
        assert.matches("matmul: bad argument #1 (tensor expected, got table)",
            error_of(lunet.matmul, { { 1 } }, t), 1, true)
    end)

    it("rejects closed tensors", function()
        local a, b = lunet.randn(2, 2), lunet.randn(2, 2)
        b:close()
        assert.matches("matmul: bad argument #2 (the tensor was closed and cannot be used)",
            error_of(lunet.matmul, a, b), 1, true)
        assert.matches("matmul: bad argument #1 (the tensor was closed and cannot be used)",
            error_of(lunet.matmul, b, a), 1, true)
    end)
end)

describe("mm", function()
    it("multiplies two matrices", function()
        local a = lunet.tensor({ { 1, 2 }, { 3, 4 } })
        same_list({ 7, 10, 15, 22 }, lunet.mm(a, a):flat())
        same_list({ 7, 10, 15, 22 }, a:mm(a):flat())
    end)

    it("rejects other ranks", function()
        local message = error_of(lunet.mm, lunet.randn(3), lunet.randn(3, 2))
        assert.matches("mm: expected two 2-d tensors, got 3 @ 3x2", message, 1, true)
        message = error_of(lunet.mm, lunet.randn(2, 3, 4), lunet.randn(4, 2))
        assert.matches("mm: expected two 2-d tensors, got 2x3x4 @ 4x2", message, 1, true)
    end)

    it("rejects mismatched inner sizes", function()
        local message = error_of(lunet.mm, lunet.randn(2, 3), lunet.randn(2, 3))
        assert.matches("mm: size mismatch, 2x3 @ 2x3 (inner sizes 3 and 2 differ)", message, 1, true)
    end)

    it("rejects non-tensor arguments", function()
        assert.matches("mm: bad argument #2 (tensor expected, got string)",
            error_of(lunet.mm, lunet.randn(2, 2), "x"), 1, true)
    end)
end)
