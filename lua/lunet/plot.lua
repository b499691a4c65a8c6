--- Training curves: `lunet.plot`.
--
--     require("lunet.plot").training_curves("examples/out/fashion_vgg.csv", "curves.png")
--
-- Draws with gnuplot (Debian's gnuplot-nox), which runs as a separate
-- program on a script written to a temporary file.
local plot = {}

local GNUPLOT_MISSING = "plot: gnuplot is not installed; install it with: apt-get install gnuplot-nox"

local COLUMNS = { "epoch", "step", "train_loss", "test_accuracy" }

local function shell_quote(text)
    return "'" .. text:gsub("'", "'\\''") .. "'"
end

-- A gnuplot string literal: inside single quotes only '' needs escaping.
local function gnuplot_quote(text)
    return "'" .. text:gsub("'", "''") .. "'"
end

local function split_fields(line)
    local fields = {}
    for field in (line .. ","):gmatch("([^,]*),") do
        fields[#fields + 1] = field
    end
    return fields
end

local function number_field(text, csv_path, line_number, column)
    local value = tonumber(text)
    if value == nil or value ~= value then
        error(string.format("plot: %s line %d: %s must be a number, got '%s'", csv_path,
            line_number, column, text), 4)
    end
    return value
end

-- Reads the CSV that examples/train_fashion_mnist.lua writes. Rows with an
-- empty test_accuracy are running losses every few steps, with a fractional
-- epoch; rows with both values close an epoch. Returns the two lists.
local function read_log(csv_path)
    local file, message = io.open(csv_path, "r")
    if not file then
        error("plot: cannot read the training log: " .. message, 3)
    end
    local text = file:read("a")
    file:close()

    local step_rows, epoch_rows = {}, {}
    local line_number = 0
    for line in text:gmatch("[^\r\n]+") do
        line_number = line_number + 1
        local fields = split_fields(line)
        if line_number == 1 then
            if table.concat(fields, ",") ~= table.concat(COLUMNS, ",") then
                error(string.format("plot: %s starts with '%s', expected the header '%s'",
                    csv_path, line, table.concat(COLUMNS, ",")), 3)
            end
        elseif #fields ~= #COLUMNS then
            error(string.format("plot: %s line %d has %d fields, expected %d", csv_path,
                line_number, #fields, #COLUMNS), 3)
        else
            local row = {
                epoch = number_field(fields[1], csv_path, line_number, "epoch"),
                loss = number_field(fields[3], csv_path, line_number, "train_loss"),
            }
            if fields[4] == "" then
                step_rows[#step_rows + 1] = row
            else
                row.accuracy = number_field(fields[4], csv_path, line_number, "test_accuracy")
                epoch_rows[#epoch_rows + 1] = row
            end
        end
    end
    if line_number == 0 then
        error("plot: " .. csv_path .. " is empty, expected the header '"
            .. table.concat(COLUMNS, ",") .. "' and data rows", 3)
    end
    if #step_rows + #epoch_rows == 0 then
        error("plot: " .. csv_path .. " has no data rows", 3)
    end
    return step_rows, epoch_rows
end

-- An inline gnuplot data block ($name << EOD ... EOD) of x, y pairs.
local function data_block(name, rows, y)
    local lines = { "$" .. name .. " << EOD" }
    for _, row in ipairs(rows) do
        lines[#lines + 1] = string.format("%.17g %.17g", row.epoch, y(row))
    end
    lines[#lines + 1] = "EOD"
    return table.concat(lines, "\n")
end

-- The loss goes on the left axis and the accuracy, in percent, on the right.
local function gnuplot_script(png_path, step_rows, epoch_rows)
    local x_max = 0
    for _, rows in ipairs({ step_rows, epoch_rows }) do
        for _, row in ipairs(rows) do
            x_max = math.max(x_max, row.epoch)
        end
    end
    if x_max <= 0 then
        x_max = 1
    end
    local lines = {
        "set terminal pngcairo size 960,600 enhanced font 'DejaVu Sans,11'",
        "set output " .. gnuplot_quote(png_path),
        "set title 'Training curves'",
        "set xlabel 'epoch'",
        "set ylabel 'train loss' textcolor rgb '#4c72b0'",
        "set y2label 'test accuracy (%)' textcolor rgb '#dd8452'",
        "set ytics nomirror",
        "set y2tics",
        "set yrange [0:*]",
        string.format("set xrange [0:%.17g]", x_max * 1.04),
        "set grid xtics ytics",
        "set bmargin 6",
        "set key at screen 0.5, screen 0.04 center horizontal",
        "set style line 1 linecolor rgb '#4c72b0' linewidth 1.5",
        "set style line 2 linecolor rgb '#4c72b0' pointtype 7 pointsize 1.2",
        "set style line 3 linecolor rgb '#dd8452' linewidth 2 pointtype 5 pointsize 1.2",
        data_block("steps", step_rows, function(row) return row.loss end),
        data_block("epochs", epoch_rows, function(row) return row.loss end),
        data_block("accuracy", epoch_rows, function(row) return 100 * row.accuracy end),
    }
    local series = {}
    if #step_rows > 0 then
        series[#series + 1] = "$steps using 1:2 axes x1y1 with lines linestyle 1 "
            .. "title 'train loss (running mean)'"
    end
    if #epoch_rows > 0 then
        series[#series + 1] = "$epochs using 1:2 axes x1y1 with points linestyle 2 "
            .. "title 'train loss (epoch mean)'"
        series[#series + 1] = "$accuracy using 1:2 axes x1y2 with linespoints linestyle 3 "
            .. "title 'test accuracy'"
    else
        -- Without an epoch row there is no accuracy; the right axis stays empty.
        lines[#lines + 1] = "unset y2tics"
        lines[#lines + 1] = "unset y2label"
    end
    lines[#lines + 1] = "plot " .. table.concat(series, ", \\\n     ")
    return table.concat(lines, "\n") .. "\n"
end

local function gnuplot_installed()
    local ok = os.execute("command -v gnuplot >/dev/null 2>&1")
    return ok == true
end

local function read_all(path)
    local file = io.open(path, "r")
    if not file then
        return ""
    end
    local text = file:read("a")
    file:close()
    return text
end

-- The message of a gnuplot error: gnuplot echoes the failing script line
-- and a caret before "SCRIPT line N: message", and may add a system error.
local function gnuplot_message(errors)
    local lines = {}
    local found = false
    for line in errors:gmatch("[^\n]+") do
        local message = line:match("line %d+: (.*)")
        if message then
            found = true
            lines = { message }
        elseif found and line:find("%S") then
            lines[#lines + 1] = line
        end
    end
    if not found then
        for line in errors:gmatch("[^\n]*%S[^\n]*") do
            lines[#lines + 1] = line
        end
    end
    return #lines > 0 and table.concat(lines, "; ") or "no message"
end

-- Reports a failure that leaves the caller's work intact: the training
-- script calls this after saving its weights.
local function warn(message)
    io.stderr:write(message, "\n")
    return nil, message
end

--- Draws the training loss (left axis) and the test accuracy (right axis)
-- against epochs from the CSV log of examples/train_fashion_mnist.lua into a
-- PNG image. See lua/lunet/doc/plot.lua for the full description.
function plot.training_curves(csv_path, png_path)
    if type(csv_path) ~= "string" then
        error("plot: bad argument #1 to 'training_curves' (CSV path string expected, got "
            .. type(csv_path) .. ")", 2)
    end
    if type(png_path) ~= "string" or png_path == "" then
        error("plot: bad argument #2 to 'training_curves' (PNG path string expected, got "
            .. (png_path == "" and "an empty string" or type(png_path)) .. ")", 2)
    end
    -- io.open and the shell stop at a NUL byte, so such a path would name
    -- another file.
    for position, path in ipairs({ csv_path, png_path }) do
        if path:find("\0", 1, true) then
            error(string.format("plot: bad argument #%d to 'training_curves' (the path "
                .. "contains a NUL byte)", position), 2)
        end
    end
    local step_rows, epoch_rows = read_log(csv_path)

    if not gnuplot_installed() then
        return warn(GNUPLOT_MISSING)
    end

    local script_path = os.tmpname()
    local errors_path = os.tmpname()
    local script = assert(io.open(script_path, "w"))
    script:write(gnuplot_script(png_path, step_rows, epoch_rows))
    script:close()

    local ok = os.execute(string.format("gnuplot %s 2>%s", shell_quote(script_path),
        shell_quote(errors_path)))
    local gnuplot_errors = read_all(errors_path)
    os.remove(script_path)
    os.remove(errors_path)
    if ok ~= true then
        return warn("plot: gnuplot failed to write " .. png_path .. ": "
            .. gnuplot_message(gnuplot_errors))
    end
    return png_path
end

return plot
