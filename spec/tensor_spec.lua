local lunet = require "lunet"

local function error_of(fn, ...)
    local ok, err = pcall(fn, ...)
    assert.is_false(ok, "expected an error")
    return tostring(err)
end

local function assert_error(expected, fn, ...)
    local err = error_of(fn, ...)
    assert.is_truthy(err:find(expected, 1, true),
        "expected error containing '" .. expected .. "', got '" .. err .. "'")
end

describe("tensor creation", function()
    it("builds from nested tables", function()
        local t = lunet.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
        assert.are.same({ 2, 3 }, t:size())
        assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, t:totable())
    end)

    it("builds a 0-d tensor from a number", function()
        local t = lunet.tensor(2.5)
        assert.are.equal(0, t:dim())
        assert.are.equal(1, t:numel())
        assert.are.equal(2.5, t:item())
        assert.are.same({}, t:size())
    end)

    it("copies a tensor given to tensor()", function()
        local a = lunet.ones(2)
        local b = lunet.tensor(a)
        b[1] = 5
        assert.are.same({ 1, 1 }, a:totable())
    end)

    it("builds empty tensors from empty tables", function()
        local t = lunet.tensor {}
        assert.are.same({ 0 }, t:size())
        assert.are.equal(0, t:numel())
    end)

    it("rejects ragged nested tables", function()
        assert_error("tensor: the nested table is not rectangular: element [2] has length 1, expected 2",
            lunet.tensor, { { 1, 2 }, { 3 } })
        assert_error("is a table where a number was expected", lunet.tensor, { 1, { 2 } })
        assert_error("tensor: element [2] is a string, expected a number", lunet.tensor, { 1, "x" })
    end)

    it("rejects non-table arguments", function()
        assert_error("tensor: bad argument #1 (table, number or tensor expected, got no value)",
            lunet.tensor)
        assert_error("got string", lunet.tensor, "abc")
    end)

    it("makes zeros, ones, full and empty", function()
        assert.are.same({ { 0, 0, 0 }, { 0, 0, 0 } }, lunet.zeros(2, 3):totable())
        assert.are.same({ 1, 1 }, lunet.ones(2):totable())
        assert.are.same({ { 7, 7 } }, lunet.full(1, 2, 7):totable())
        assert.are.same({ { 7, 7 } }, lunet.full({ 1, 2 }, 7):totable())
        assert.are.same({ 4, 5 }, lunet.empty(4, 5):size())
        assert.are.same({ 2, 3 }, lunet.zeros({ 2, 3 }):size())
        assert.are.equal(0, lunet.zeros():dim())
    end)

    it("accepts integral floats as sizes", function()
        assert.are.same({ 2, 3 }, lunet.zeros(2.0, 3.0):size())
    end)

    it("rejects bad sizes", function()
        assert_error("zeros: size -1 is negative (expected a size >= 0)", lunet.zeros, 2, -1)
        assert_error("zeros: size must be an integer, got 2.5", lunet.zeros, 2.5)
        assert_error("zeros: size must be an integer, got string", lunet.zeros, "two")
        assert_error("ones: more than 8 sizes given", lunet.ones, 1, 1, 1, 1, 1, 1, 1, 1, 1)
        assert_error("full: expected sizes (or a shape table) followed by a fill value",
            lunet.full, 2)
    end)

    it("reports element counts that overflow", function()
        assert_error("its element count overflows 64-bit sizes", lunet.zeros, 1e10, 1e10)
        assert_error("overflows", lunet.ones, { 2 ^ 31, 2 ^ 31, 2 ^ 31 })
        assert_error("overflows", lunet.zeros, 0, 2 ^ 40, 2 ^ 40)
    end)

    it("reports the bytes of an allocation that fails", function()
        assert_error("zeros: out of memory: a tensor of shape 1000000x1000000 needs 4000 GB",
            lunet.zeros, 1e6, 1e6)
        -- the interpreter keeps working afterwards
        assert.are.equal(6, lunet.ones(2, 3):numel())
    end)

    it("supports up to 8 dims", function()
        local t = lunet.zeros(1, 2, 1, 2, 1, 2, 1, 2)
        assert.are.equal(8, t:dim())
        assert.are.equal(16, t:numel())
    end)

    it("makes half-open ranges with arange", function()
        assert.are.same({ 0, 1, 2, 3 }, lunet.arange(4):totable())
        assert.are.same({ 2, 4, 6 }, lunet.arange(2, 8, 2):totable())
        assert.are.same({ 1, 0.5 }, lunet.arange(1, 0, -0.5):totable())
        assert.are.equal(0, lunet.arange(0):numel())
    end)

    it("rejects bad arange steps", function()
        assert_error("arange: expected finite start and end and a non-zero step", lunet.arange,
            0, 1, 0)
        assert_error("arange: step 1.0 moves away from end (start=5.0, end=1.0)", lunet.arange, 5, 1, 1)
    end)
end)

describe("random tensors", function()
    it("repeat after manual_seed", function()
        lunet.manual_seed(7)
        local a = lunet.randn(3, 4):totable()
        local u = lunet.rand(5):totable()
        lunet.manual_seed(7)
        assert.are.same(a, lunet.randn(3, 4):totable())
        assert.are.same(u, lunet.rand(5):totable())
    end)

    it("differ between seeds", function()
        lunet.manual_seed(1)
        local a = lunet.rand(4):totable()
        lunet.manual_seed(2)
        assert.are_not.same(a, lunet.rand(4):totable())
    end)

    it("draw uniform values in [0, 1)", function()
        lunet.manual_seed(3)
        local values = lunet.rand(10000):flat()
        local sum = 0
        for _, v in ipairs(values) do
            assert.is_true(v >= 0 and v < 1)
            sum = sum + v
        end
        assert.is_true(math.abs(sum / #values - 0.5) < 0.02)
    end)

    it("draw normal values with mean 0 and std 1", function()
        lunet.manual_seed(4)
        local values = lunet.randn(20000):flat()
        local sum, squares = 0, 0
        for _, v in ipairs(values) do
            sum = sum + v
            squares = squares + v * v
        end
        local mean = sum / #values
        assert.is_true(math.abs(mean) < 0.03)
        assert.is_true(math.abs(squares / #values - mean * mean - 1) < 0.05)
    end)

    it("fill in place with uniform_ and normal_", function()
        local t = lunet.zeros(1000)
        t:uniform_(-2, -1)
        for _, v in ipairs(t:flat()) do
            assert.is_true(v >= -2 and v < -1)
        end
        t:normal_(10, 0)
        assert.are.equal(10, t[1])
        assert_error("uniform_: expected low <= high", t.uniform_, t, 1, 0)
        assert_error("normal_: std must be >= 0", t.normal_, t, 0, -1)
    end)

    it("rejects a non-integer seed", function()
        assert_error("manual_seed: seed must be an integer, got 1.5", lunet.manual_seed, 1.5)
    end)
end)

describe("tensor inspection", function()
    local t = lunet.tensor { { 1, 2, 3 }, { 4, 5, 6 } }

    it("reports size, dim and numel", function()
        assert.are.same({ 2, 3 }, t:size())
        assert.are.equal(2, t:size(1))
        assert.are.equal(3, t:size(-1))
        assert.are.equal(2, t:dim())
        assert.are.equal(6, t:numel())
        assert.are.equal(2, #t)
    end)

    it("reports strides and contiguity", function()
        assert.are.same({ 3, 1 }, t:stride())
        assert.is_true(t:is_contiguous())
        assert.is_false(t:t():is_contiguous())
    end)

    it("rejects a size dim out of range", function()
        assert_error("size: dim 3 is out of range for a 2-d tensor (expected -2..2, excluding 0)",
            t.size, t, 3)
        assert_error("size: dim 0 is out of range", t.size, t, 0)
        assert_error("size: dim must be an integer, got 1.5", t.size, t, 1.5)
    end)

    it("returns item of one-element tensors only", function()
        assert.are.equal(5, lunet.tensor { { 5 } }:item())
        assert_error("item: the tensor has 6 elements (shape 2x3) but item() needs exactly 1",
            t.item, t)
    end)

    it("indexes with 1-based and negative indices", function()
        assert.are.equal(1, t[1][1])
        assert.are.equal(6, t[2][3])
        assert.are.equal(6, t[-1][-1])
        assert.are.equal(4, t[-1][1])
        assert.are.same({ 4, 5, 6 }, t[2]:totable())
    end)

    it("rejects indices out of range", function()
        assert_error("index: index 3 is out of range for dim 1 of size 2 (expected -2..2, excluding 0)",
            function() return t[3] end)
        assert_error("index: index 0 is out of range", function() return t[0] end)
        assert_error("index: index must be an integer, got 1.5", function() return t[1.5] end)
        assert_error("index: a 0-d tensor cannot be indexed",
            function() return lunet.tensor(1)[1] end)
    end)

    it("assigns through indexing", function()
        local m = lunet.zeros(2, 3)
        m[1][2] = 5
        m[2] = 7
        m[-1][-1] = 9
        assert.are.same({ { 0, 5, 0 }, { 7, 7, 9 } }, m:totable())
        m[1] = lunet.tensor { 1, 2, 3 }
        assert.are.same({ 1, 2, 3 }, m[1]:totable())
    end)

    it("rejects bad assignments", function()
        local m = lunet.zeros(2, 3)
        assert_error("newindex: value must be a number or a tensor, got string",
            function() m[1] = "x" end)
        assert_error("newindex: tensors accept only integer indices and the field 'grad', got foo",
            function() m.foo = 1 end)
        assert_error("cannot copy a tensor of shape 2 into one of shape 3",
            function() m[1] = lunet.ones(2) end)
    end)

    it("stores a grad field", function()
        local p = lunet.ones(2)
        assert.is_nil(p.grad)
        p.grad = lunet.zeros(2)
        assert.are.same({ 0, 0 }, p.grad:totable())
        p.grad = nil
        assert.is_nil(p.grad)
        assert_error("grad: bad argument #3 (tensor expected, got number)",
            function() p.grad = 3 end)
    end)

    it("converts to nested tables and flat lists", function()
        assert.are.same({ 1, 2, 3, 4, 5, 6 }, t:flat())
        assert.are.same({ 1, 4, 2, 5, 3, 6 }, t:t():flat())
        assert.are.equal(3, lunet.tensor(3):totable())
    end)

    it("tells tensors from other values", function()
        assert.is_true(lunet.is_tensor(t))
        assert.is_false(lunet.is_tensor({}))
        assert.is_false(lunet.is_tensor(nil))
    end)
end)

describe("tensor views", function()
    it("share storage with view and reshape", function()
        local t = lunet.arange(6)
        local v = t:view(2, 3)
        v[2][1] = 100
        assert.are.equal(100, t[4])
        assert.are.same({ 3, 2 }, t:view(-1, 2):size())
        assert.are.same({ 6 }, v:reshape(-1):size())
        assert.are.same({ 2, 3 }, t:view({ 2, 3 }):size())
    end)

    it("rejects views that do not fit", function()
        local t = lunet.arange(6)
        assert_error("view: shape 4x2 has 8 elements but the tensor has 6", t.view, t, 4, 2)
        assert_error("view: only one size may be -1", t.view, t, -1, -1)
        assert_error("cannot infer the -1 size", t.view, t, -1, 4)
        assert_error("view: size -2 is negative", t.view, t, -2, 3)
    end)

    it("copies in reshape when strides forbid a view", function()
        local t = lunet.arange(6):view(2, 3):t()
        assert_error("view: the tensor's strides do not allow a view of this shape", t.view, t, 6)
        assert.are.same({ 0, 3, 1, 4, 2, 5 }, t:reshape(6):totable())
    end)

    it("views non-contiguous tensors where strides allow", function()
        local t = lunet.arange(24):view(2, 3, 4):narrow(3, 1, 2)
        assert.are.same({ 2, 3, 2 }, t:size())
        local v = t:view(6, 2)
        assert.are.same({ 6, 2 }, v:size())
        assert.are.same(t:flat(), v:flat())
    end)

    it("transposes and permutes", function()
        local t = lunet.arange(6):view(2, 3)
        assert.are.same({ { 0, 3 }, { 1, 4 }, { 2, 5 } }, t:transpose(1, 2):totable())
        assert.are.same({ { 0, 3 }, { 1, 4 }, { 2, 5 } }, t:t():totable())
        local p = lunet.arange(24):view(2, 3, 4):permute(3, 1, 2)
        assert.are.same({ 4, 2, 3 }, p:size())
        assert.are.equal(13, p[2][2][1])
        assert.are.same({ 4, 2, 3 }, lunet.zeros(2, 3, 4):permute({ -1, 1, 2 }):size())
    end)

    it("rejects bad permutations", function()
        local t = lunet.zeros(2, 3)
        assert_error("permute: dim 1 appears twice (expected a permutation of 1..2)", t.permute, t,
            1, 1)
        assert_error("permute: 3 dims given for a 2-d tensor", t.permute, t, 1, 2, 3)
        assert_error("transpose: dim 3 is out of range for a 2-d tensor", t.transpose, t, 1, 3)
        assert_error("transpose: a 3-d tensor needs two dims to swap", function()
            lunet.zeros(1, 2, 3):t()
        end)
    end)

    it("narrows and selects", function()
        local t = lunet.arange(12):view(3, 4)
        assert.are.same({ { 1, 2 }, { 5, 6 }, { 9, 10 } }, t:narrow(2, 2, 2):totable())
        assert.are.same({ 4, 5, 6, 7 }, t:select(1, 2):totable())
        assert.are.same({ 3, 7, 11 }, t:select(2, -1):totable())
        assert.are.same({ 3, 0 }, t:narrow(2, 5, 0):size())
    end)

    it("rejects narrow and select out of range", function()
        local t = lunet.zeros(3, 4)
        assert_error("narrow: start 4 and length 2 do not fit dim 2 of size 4", t.narrow, t, 2, 4, 2)
        assert_error("narrow: dim 3 is out of range", t.narrow, t, 3, 1, 1)
        assert_error("select: index 5 is out of range for dim 2 of size 4", t.select, t, 2, 5)
        assert_error("select: index must be an integer, got string", t.select, t, 1, "a")
    end)

    it("squeezes and unsqueezes", function()
        local t = lunet.zeros(1, 3, 1)
        assert.are.same({ 3 }, t:squeeze():size())
        assert.are.same({ 3, 1 }, t:squeeze(1):size())
        assert.are.same({ 1, 3, 1 }, t:squeeze(2):size())
        assert.are.same({ 1, 1, 3, 1 }, t:unsqueeze(1):size())
        assert.are.same({ 1, 3, 1, 1 }, t:unsqueeze(-1):size())
        assert.are.same({ 1, 3, 1, 1 }, t:unsqueeze(4):size())
        assert_error("unsqueeze: dim 5 is out of range for a 3-d tensor (expected -4..4, excluding 0)",
            t.unsqueeze, t, 5)
        assert_error("a 8-d tensor cannot gain a dim", function()
            lunet.zeros(1, 1, 1, 1, 1, 1, 1, 1):unsqueeze(1)
        end)
    end)

    it("expands size-1 dims without copying", function()
        local t = lunet.tensor { { 1 }, { 2 } }
        local e = t:expand(2, 3)
        assert.are.same({ { 1, 1, 1 }, { 2, 2, 2 } }, e:totable())
        assert.are.same({ 1, 0 }, e:stride())
        assert.are.same({ 4, 2, 3 }, t:expand(4, -1, 3):size())
        t[1][1] = 9
        assert.are.equal(9, e[1][3])
        assert.are.same({ 2, 3 }, t:expand_as(lunet.zeros(2, 3)):size())
    end)

    it("rejects expanding a non-1 size", function()
        local t = lunet.zeros(2, 3)
        assert_error("expand: cannot expand shape 2x3 to 4x3: only size-1 dims can grow",
            t.expand, t, 4, 3)
        assert_error("expand: cannot expand a 2-d tensor to 1 dims", t.expand, t, 6)
    end)

    it("keeps the base alive through a view", function()
        local v
        do
            local base = lunet.arange(1000)
            v = base:narrow(1, 991, 10)
        end
        collectgarbage()
        collectgarbage()
        assert.are.same({ 990, 991, 992, 993, 994, 995, 996, 997, 998, 999 }, v:totable())
    end)
end)

describe("tensor copies and fills", function()
    it("makes contiguous copies", function()
        local t = lunet.arange(6):view(2, 3):t()
        local c = t:contiguous()
        assert.is_true(c:is_contiguous())
        assert.are.same(t:totable(), c:totable())
        local d = lunet.ones(3)
        assert.are.equal(d, d:contiguous())
    end)

    it("clones into new storage", function()
        local t = lunet.ones(3)
        local c = t:clone()
        c[1] = 5
        assert.are.equal(1, t[1])
    end)

    it("copies with broadcasting", function()
        local t = lunet.zeros(2, 3)
        t:copy_(lunet.tensor { 1, 2, 3 })
        assert.are.same({ { 1, 2, 3 }, { 1, 2, 3 } }, t:totable())
        assert_error("copy_: cannot copy a tensor of shape 2 into one of shape 2x3", t.copy_, t,
            lunet.ones(2))
        assert_error("copy_: bad argument #2 (tensor expected, got number)", t.copy_, t, 1)
    end)

    it("copies between overlapping views", function()
        local t = lunet.arange(5)
        t:narrow(1, 2, 4):copy_(t:narrow(1, 1, 4))
        assert.are.same({ 0, 0, 1, 2, 3 }, t:totable())
    end)

    it("fills in place through views", function()
        local t = lunet.zeros(3, 3)
        t:select(2, 2):fill_(4)
        assert.are.same({ { 0, 4, 0 }, { 0, 4, 0 }, { 0, 4, 0 } }, t:totable())
        t:zero_()
        assert.are.same({ 0, 0, 0 }, t[2]:totable())
    end)
end)

describe("tensor lifetime", function()
    it("releases storage on close", function()
        local t = lunet.ones(4)
        do
            local c <close> = lunet.ones(1000)
            assert.are.equal(1000, c:numel())
            t = c
        end
        assert_error("numel: bad argument #1 (the tensor was closed and cannot be used)",
            t.numel, t)
        assert_error("the tensor was closed", lunet.softmax or t.size, t)
    end)

    it("allows closing twice", function()
        local t = lunet.ones(2)
        t:close()
        t:close()
        assert_error("the tensor was closed", function() return t[1] end)
        assert_error("the tensor was closed", tostring, t)
    end)

    it("keeps a view usable after its base closes", function()
        local base = lunet.arange(4)
        local v = base:view(2, 2)
        base:close()
        assert.are.same({ { 0, 1 }, { 2, 3 } }, v:totable())
    end)

    it("lets the collector bound memory in a loop", function()
        local function rss_mb()
            for line in io.lines("/proc/self/status") do
                local kb = line:match("^VmRSS:%s+(%d+)")
                if kb then
                    return tonumber(kb) / 1024
                end
            end
        end
        collectgarbage()
        local before = rss_mb()
        for _ = 1, 200 do
            local t = lunet.zeros(1024, 1024)  -- 4 MB each, 800 MB in all
            t:fill_(1)                          -- touch the pages
        end
        -- The collector sees only small userdata; without being told about
        -- tensor bytes it would keep all 800 MB alive.
        assert.is_true(rss_mb() - before < 300, "RSS grew by " .. (rss_mb() - before) .. " MB")
    end)

    it("zeroes large storage reused after a close", function()
        -- 40 MB blocks are kept for reuse instead of being unmapped.
        local size = 10 * 1024 * 1024
        for _ = 1, 3 do
            local used <close> = lunet.full({ size }, 7)
        end
        local zeros = lunet.zeros(size)
        assert.are.equal(0, zeros:abs():max())
        local empty = lunet.empty(size)
        assert.are.equal(size, empty:numel())
    end)

    it("gives kept storage back on empty_cache", function()
        local function rss_mb()
            local status = io.open("/proc/self/status"):read("a")
            return tonumber(status:match("VmRSS:%s+(%d+)")) / 1024
        end
        -- Two 40 MB blocks of different sizes, touched so that they count
        -- in RSS, then closed: the cache keeps both.
        for i = 1, 2 do
            local t <close> = lunet.full({ 10 * 1024 * 1024 + i }, 1)
        end
        local before_clear = rss_mb()
        lunet.empty_cache()
        local after_clear = rss_mb()
        assert.is_true(before_clear - after_clear >= 60,
            string.format("RSS went from %.0f to %.0f MB", before_clear, after_clear))
    end)
end)

describe("printing", function()
    it("prints integral values with a trailing point", function()
        assert.are.equal("tensor([[1., 2., 3.],\n        [4., 5., 6.]], size=2x3)",
            tostring(lunet.tensor { { 1, 2, 3 }, { 4, 5, 6 } }))
    end)

    it("aligns fixed-point values", function()
        assert.are.equal("tensor([ 0.5000, -1.2500], size=2)",
            tostring(lunet.tensor { 0.5, -1.25 }))
    end)

    it("switches to scientific notation for wide ranges", function()
        assert.are.equal("tensor([1.0000e-05, 1.0000e+03], size=2)",
            tostring(lunet.tensor { 1e-5, 1000 }))
    end)

    it("prints nan and inf", function()
        assert.are.equal("tensor([ nan,  inf, -inf,   1.], size=4)",
            tostring(lunet.tensor { 0 / 0, math.huge, -math.huge, 1 }))
    end)

    it("summarises past 1000 elements", function()
        local text = tostring(lunet.arange(1001))
        assert.are.equal("tensor([   0.,    1.,    2., ...,  998.,  999., 1000.], size=1001)", text)
    end)

    it("prints 0-d and empty tensors", function()
        assert.are.equal("tensor(3.5000)", tostring(lunet.tensor(3.5)))
        assert.are.equal("tensor(2.)", tostring(lunet.tensor(2)))
        assert.are.equal("tensor([], size=0x3)", tostring(lunet.zeros(0, 3)))
    end)

    it("separates 3-d blocks with blank lines", function()
        assert.are.equal("tensor([[[0., 1.]],\n\n        [[2., 3.]]], size=2x1x2)",
            tostring(lunet.arange(4):view(2, 1, 2)))
    end)
end)

describe("threads and configuration", function()
    it("sets and gets the thread count", function()
        local before = lunet.get_num_threads()
        lunet.set_num_threads(1)
        assert.are.equal(1, lunet.get_num_threads())
        lunet.set_num_threads(before)
        assert.are.equal(before, lunet.get_num_threads())
    end)

    it("rejects bad thread counts", function()
        assert_error("set_num_threads: thread count 0 is out of range (expected 1..1024)",
            lunet.set_num_threads, 0)
        assert_error("set_num_threads: thread count must be an integer", lunet.set_num_threads, "x")
    end)

    it("reports version, threads and BLAS", function()
        local config = lunet.config()
        assert.is_string(config.version)
        assert.is_number(config.num_threads)
        assert.matches("OpenBLAS", config.blas_config)
        assert.is_string(config.blas_core)
    end)

    it("sets no global", function()
        assert.is_nil(rawget(_G, "lunet"))
    end)
end)
