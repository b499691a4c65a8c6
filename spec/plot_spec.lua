-- lunet.plot: training curves drawn with gnuplot from the training log.
local plot = require "lunet.plot"
local shell = require "spec.helpers.shell"

local HEADER = "epoch,step,train_loss,test_accuracy\n"
local PNG_MAGIC = "\137PNG\r\n\26\n"

-- A log as examples/train_fashion_mnist.lua writes it: 3 epochs of 50 steps
-- with a running loss every 10 steps and a closing row per epoch.
local function synthetic_log()
    local rows = { HEADER }
    local step = 0
    for epoch = 1, 3 do
        for _ = 1, 5 do
            step = step + 10
            rows[#rows + 1] = string.format("%.4f,%d,%.6f,\n", step / 50, step,
                2.3 * math.exp(-step / 60) + 0.2)
        end
        rows[#rows + 1] = string.format("%d,%d,%.6f,%.6f\n", epoch, step,
            2.3 * math.exp(-step / 90) + 0.2, 0.6 + 0.1 * epoch)
    end
    return table.concat(rows)
end

-- Calls training_curves with io.stderr captured; returns its results and
-- what it wrote to stderr.
local function call_capturing_stderr(...)
    local written = {}
    local original = io.stderr
    io.stderr = {
        write = function(self, ...)
            for i = 1, select("#", ...) do
                written[#written + 1] = tostring((select(i, ...)))
            end
            return self
        end,
    }
    local results = table.pack(pcall(plot.training_curves, ...))
    io.stderr = original
    assert(results[1], results[2])
    return results[2], results[3], table.concat(written)
end

local function expect_error(pattern, ...)
    local ok, err = pcall(plot.training_curves, ...)
    assert.is_false(ok)
    assert.matches(pattern, err, 1, true)
end

describe("plot.training_curves", function()
    local dir

    before_each(function()
        dir = shell.temp_dir()
    end)

    after_each(function()
        shell.remove_tree(dir)
    end)

    local function write_log(name, text)
        local path = dir .. "/" .. name
        shell.write_file(path, text)
        return path
    end

    it("draws a PNG image", function()
        local csv = write_log("log.csv", synthetic_log())
        local png = dir .. "/curves.png"
        assert.equals(png, plot.training_curves(csv, png))
        local image = shell.read_file(png)
        assert.is_not_nil(image)
        assert.equals(PNG_MAGIC, image:sub(1, 8))
        -- Axes, labels and three series take well over 10 kB; an empty
        -- canvas of this size compresses to about 3 kB.
        assert.is_true(#image > 10000, "PNG of " .. #image .. " bytes")
    end)

    it("draws a log without step rows", function()
        local csv = write_log("log.csv", HEADER .. "1,16,1.2,0.55\n")
        local png = dir .. "/one.png"
        assert.equals(png, plot.training_curves(csv, png))
        assert.equals(PNG_MAGIC, shell.read_file(png):sub(1, 8))
    end)

    it("draws a log without epoch rows", function()
        local csv = write_log("log.csv", HEADER .. "0.5,10,2.0,\n1.0,20,1.5,\n")
        local png = dir .. "/steps.png"
        assert.equals(png, plot.training_curves(csv, png))
        assert.equals(PNG_MAGIC, shell.read_file(png):sub(1, 8))
    end)

    it("writes a path with a quote", function()
        local csv = write_log("log.csv", synthetic_log())
        local png = dir .. "/it's.png"
        assert.equals(png, plot.training_curves(csv, png))
        assert.equals(PNG_MAGIC, shell.read_file(png):sub(1, 8))
    end)

    it("rejects a missing log", function()
        expect_error("plot: cannot read the training log: " .. dir .. "/none.csv",
            dir .. "/none.csv", dir .. "/x.png")
    end)

    it("rejects a wrong header", function()
        local csv = write_log("log.csv", "epoch,loss\n1,2\n")
        expect_error("starts with 'epoch,loss', expected the header "
            .. "'epoch,step,train_loss,test_accuracy'", csv, dir .. "/x.png")
    end)

    it("rejects an empty log", function()
        local csv = write_log("log.csv", "")
        expect_error("log.csv is empty", csv, dir .. "/x.png")
    end)

    it("rejects a log without rows", function()
        local csv = write_log("log.csv", HEADER)
        expect_error("log.csv has no data rows", csv, dir .. "/x.png")
    end)

    it("rejects a short row", function()
        local csv = write_log("log.csv", HEADER .. "1,10,0.5,0.9\n2,20\n")
        expect_error("log.csv line 3 has 2 fields, expected 4", csv, dir .. "/x.png")
    end)

    it("rejects a non-numeric loss", function()
        local csv = write_log("log.csv", HEADER .. "1,10,nan,0.9\n")
        expect_error("log.csv line 2: train_loss must be a number, got 'nan'", csv,
            dir .. "/x.png")
        csv = write_log("log.csv", HEADER .. "1,10,abc,0.9\n")
        expect_error("log.csv line 2: train_loss must be a number, got 'abc'", csv,
            dir .. "/x.png")
    end)

    it("rejects bad argument types", function()
        expect_error("plot: bad argument #1 to 'training_curves' (CSV path string expected, "
            .. "got nil)")
        expect_error("plot: bad argument #2 to 'training_curves' (PNG path string expected, "
            .. "got number)", "log.csv", 3)
        expect_error("(PNG path string expected, got an empty string)", "log.csv", "")
    end)

    it("reports an unwritable image", function()
        local csv = write_log("log.csv", synthetic_log())
        local png = dir .. "/missing/curves.png"
        local result, message, stderr = call_capturing_stderr(csv, png)
        assert.is_nil(result)
        assert.matches("plot: gnuplot failed to write " .. png .. ": cannot open file", message,
            1, true)
        assert.equals(message .. "\n", stderr)
    end)

    it("reports a missing gnuplot", function()
        local csv = write_log("log.csv", synthetic_log())
        local png = dir .. "/curves.png"
        -- The program keeps running after the message, as the training
        -- script must; no folder on PATH has gnuplot.
        local script = string.format(
            "local result, message = require('lunet.plot').training_curves(%q, %q) "
                .. "print('returned', result, message)", csv, png)
        local output, code = shell.run(string.format("%s PATH=/nonexistent /usr/bin/lua5.4 -e %s",
            shell.checkout_env(), shell.quote(script)))
        assert.equals(0, code)
        local message = "plot: gnuplot is not installed; install it with: "
            .. "apt-get install gnuplot-nox"
        assert.matches(message .. "\n", output, 1, true)
        assert.matches("returned\tnil\t" .. message, output, 1, true)
        assert.is_false(shell.exists(png))
    end)
end)
