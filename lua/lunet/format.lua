--- Tensor printing in PyTorch's layout: aligned values, `...` past 1000
-- elements, and a footer with the shape.
local format = {}

-- Tensors with more elements than this print only the first and last
-- `EDGE_ITEMS` entries of each dim, as PyTorch's default print options do.
local SUMMARY_THRESHOLD = 1000
local EDGE_ITEMS = 3

local function is_integral(values)
    for _, v in ipairs(values) do
        if v ~= v or v == math.huge or v == -math.huge then
            -- NaN and inf print as words and do not decide the style.
        elseif v ~= math.floor(v) then
            return false
        end
    end
    return true
end

local function format_number(v, style)
    if v ~= v then
        return "nan"
    elseif v == math.huge then
        return "inf"
    elseif v == -math.huge then
        return "-inf"
    elseif style == "integer" then
        return string.format("%.0f.", v)
    elseif style == "scientific" then
        return string.format("%.4e", v)
    end
    return string.format("%.4f", v)
end

-- Chooses one style for all shown values, as PyTorch does: integers print
-- as "3.", moderate values with four decimals, and a wide range switches to
-- scientific notation.
local function choose_style(values)
    if is_integral(values) then
        local max = 0
        for _, v in ipairs(values) do
            if v == v and math.abs(v) ~= math.huge then
                max = math.max(max, math.abs(v))
            end
        end
        return max < 1e8 and "integer" or "scientific"
    end
    local min, max = math.huge, 0
    for _, v in ipairs(values) do
        local a = math.abs(v)
        if v == v and a ~= math.huge and a ~= 0 then
            min = math.min(min, a)
            max = math.max(max, a)
        end
    end
    if max >= 1e8 or (min < 1e-4) or (max / min > 1000) then
        return "scientific"
    end
    return "fixed"
end

-- Indices shown along a dim of the given size.
local function shown_indices(size, summarise)
    local indices = {}
    if summarise and size > 2 * EDGE_ITEMS then
        for i = 1, EDGE_ITEMS do
            indices[#indices + 1] = i
        end
        indices[#indices + 1] = false -- the "..." marker
        for i = size - EDGE_ITEMS + 1, size do
            indices[#indices + 1] = i
        end
    else
        for i = 1, size do
            indices[i] = i
        end
    end
    return indices
end

local function collect(values, t, summarise)
    if t:dim() == 0 then
        values[#values + 1] = t:item()
        return
    end
    for _, i in ipairs(shown_indices(t:size(1), summarise)) do
        if i then
            if t:dim() == 1 then
                values[#values + 1] = t[i]
            else
                collect(values, t[i], summarise)
            end
        end
    end
end

local function render(t, summarise, cell, width, indent)
    if t:dim() == 1 then
        local parts = {}
        for _, i in ipairs(shown_indices(t:size(1), summarise)) do
            if i then
                parts[#parts + 1] = string.format("%" .. width .. "s", cell(t[i]))
            else
                parts[#parts + 1] = "..."
            end
        end
        return "[" .. table.concat(parts, ", ") .. "]"
    end
    local rows = {}
    local separator = ",\n" .. string.rep("\n", t:dim() - 2) .. string.rep(" ", indent + 1)
    for _, i in ipairs(shown_indices(t:size(1), summarise)) do
        if i then
            rows[#rows + 1] = render(t[i], summarise, cell, width, indent + 1)
        else
            rows[#rows + 1] = "..."
        end
    end
    return "[" .. table.concat(rows, separator) .. "]"
end

--- Formats a tensor as text, the same for the same values every time.
function format.tostring(t)
    local shape = table.concat(t:size(), "x")
    if t:dim() == 0 then
        local style = choose_style({ t:item() })
        return string.format("tensor(%s)", format_number(t:item(), style))
    end
    if t:numel() == 0 then
        return string.format("tensor([], size=%s)", shape)
    end
    local summarise = t:numel() > SUMMARY_THRESHOLD
    local values = {}
    collect(values, t, summarise)
    local style = choose_style(values)
    local width = 0
    for _, v in ipairs(values) do
        width = math.max(width, #format_number(v, style))
    end
    local cell = function(v)
        return format_number(v, style)
    end
    local body = render(t, summarise, cell, width, #"tensor(")
    return string.format("tensor(%s, size=%s)", body, shape)
end

function format.install(lunet, metatable, methods)
    metatable.__tostring = format.tostring
end

return format
