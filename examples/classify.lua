-- Runs a VGG written in Lua on images and prints, for each image, the
-- top-K classes with their probabilities and the sum of the full
-- distribution.
--
--     ./lunet examples/classify.lua                     -- the shipped default
--     ./lunet examples/classify.lua --model vgg16 --weights vgg16.safetensors \
--         --labels /usr/share/darknet/data/imagenet.shortnames.list \
--         /usr/share/darknet/data/dog.jpg
--
-- With no images it runs the shipped Fashion-MNIST network
-- (models/weights/fashion_vgg.safetensors, trained by
-- examples/train_fashion_mnist.lua) on the Fashion-MNIST test set from
-- Debian's dataset-fashion-mnist package: the top-3 for a few images, then
-- the accuracy over all 10,000.
local lunet = require "lunet"
local models = {
    vgg = require "models.vgg",
    simple_vgg = require "models.simple_vgg",
    fashion_vgg = require "models.fashion_vgg",
}

local SCRIPT_DIR = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
local DEFAULT_WEIGHTS = SCRIPT_DIR .. "/../models/weights/fashion_vgg.safetensors"

-- ImageNet statistics that torchvision's pretrained weights expect.
local IMAGENET_MEAN = { 0.485, 0.456, 0.406 }
local IMAGENET_STD = { 0.229, 0.224, 0.225 }

local usage = [[
usage: ./lunet examples/classify.lua [options] [IMAGE...]
  --model NAME     fashion_vgg (default), vgg11, vgg13, vgg16, vgg19 or their _bn variants
  --weights FILE   safetensors weights for the model (default for fashion_vgg:
                   models/weights/fashion_vgg.safetensors)
  --labels FILE    class names, one per line, in the model's class order
  --top K          how many classes to print per image (default 5, or 3 without images)
  --count N        without images: how many test images to print (default 5)
  --help           print this help
Without IMAGE arguments, classifies the Fashion-MNIST test set.]]

local function fail(message)
    io.stderr:write("classify: ", message, "\n")
    os.exit(1)
end

local function parse_arguments(argv)
    local options = { model = "fashion_vgg", images = {} }
    local i = 1
    while i <= #argv do
        local a = argv[i]
        if a == "--help" or a == "-h" then
            print(usage)
            os.exit(0)
        elseif a == "--model" or a == "--weights" or a == "--labels" or a == "--top" or
            a == "--count" then
            local value = argv[i + 1]
            if value == nil then
                fail(a .. " needs a value")
            end
            local key = a:sub(3)
            if key == "top" or key == "count" then
                value = tonumber(value)
                if math.type(value) ~= "integer" or value < 1 then
                    fail(a .. " must be a positive integer, got '" .. argv[i + 1] .. "'")
                end
            end
            options[key] = value
            i = i + 2
        elseif a:sub(1, 2) == "--" then
            fail("unknown option '" .. a .. "'\n" .. usage)
        else
            options.images[#options.images + 1] = a
            i = i + 1
        end
    end
    return options
end

local function read_lines(path)
    local file, err = io.open(path, "r")
    if not file then
        fail("cannot read labels: " .. tostring(err))
    end
    local lines = {}
    for line in file:lines() do
        lines[#lines + 1] = line
    end
    file:close()
    return lines
end

-- Class names for an ImageNet model. darknet's imagenet.shortnames.list
-- starts with the 1000 ImageNet-1k classes in its own order; torchvision
-- numbers them by sorted WordNet id, which imagenet.labels.list beside it
-- gives, so that pair is reordered. Any other file is taken as it is.
local function load_labels(path)
    local names = read_lines(path)
    local ids_path = path:gsub("shortnames%.list$", "labels.list")
    local ids_file = ids_path ~= path and io.open(ids_path, "r")
    if not ids_file then
        return names
    end
    ids_file:close()
    local ids = read_lines(ids_path)
    local pairs_list = {}
    for k = 1, math.min(1000, #ids, #names) do
        pairs_list[k] = { id = ids[k], name = names[k] }
    end
    table.sort(pairs_list, function(a, b) return a.id < b.id end)
    local ordered = {}
    for k, p in ipairs(pairs_list) do
        ordered[k] = p.name
    end
    return ordered
end

-- Reads a safetensors file, ending the run with a one-line message when it
-- is unreadable.
local function read_weights(path)
    local ok, tensors, metadata = pcall(lunet.load, path)
    if not ok then
        fail(tostring(tensors))
    end
    return tensors, metadata
end

-- Copies tensors into model, ending the run with a one-line message when
-- they do not fit it.
local function load_weights(model, tensors, path, name)
    local ok, report = pcall(model.load_state_dict, model, tensors, { strict = false })
    if not ok then
        fail(tostring(report))
    end
    local faults = #report.missing + #report.unexpected + #report.mismatched
    if faults > 0 then
        fail(string.format("%s does not hold %s weights: %d missing, %d unexpected and %d " ..
            "mismatched tensors (first missing: %s)", path, name, #report.missing,
            #report.unexpected, #report.mismatched, report.missing[1] or "none"))
    end
end

local function build_model(name, weights)
    local model, metadata
    if name == "fashion_vgg" then
        local path = weights or DEFAULT_WEIGHTS
        local tensors
        tensors, metadata = read_weights(path)
        model = models.fashion_vgg({ width = tonumber(metadata.width) or 32 })
        load_weights(model, tensors, path, name)
    elseif models.vgg[name] then
        model = models.vgg[name]({ init = weights == nil })
        if weights then
            load_weights(model, read_weights(weights), weights, name)
        else
            io.stderr:write("classify: no --weights given, so ", name,
                " runs with random weights and its classes mean nothing\n")
        end
    else
        fail("unknown model '" .. name .. "' (expected fashion_vgg, vgg11, vgg13, vgg16, " ..
            "vgg19 or a _bn variant)")
    end
    model:evaluate()
    return model, metadata
end

local function print_top(title, probs, labels, k)
    local values, indices = lunet.topk(probs, k)
    print(title)
    for j = 1, k do
        local class = math.tointeger(indices[j])
        print(string.format("  %-24s %.4f", labels and labels[class] or ("class " .. class),
            values[j]))
    end
    print(string.format("  sum of all %d probabilities: %.6f", probs:numel(), probs:sum()))
end

local function classify_fashion_mnist(model, options)
    local images, labels = lunet.data.fashion_mnist("test")
    local names = lunet.data.fashion_mnist_classes
    local top = options.top or 3

    local count = math.min(options.count or 5, images:size(1))
    local probs = lunet.softmax(model(images:narrow(1, 1, count)), 2)
    for i = 1, count do
        print_top(string.format("test image %d (true class: %s)", i, names[labels[i]]), probs[i],
            names, top)
    end

    local correct = 0
    for inputs, targets in lunet.data.batches(images, labels, 500) do
        correct = correct + lunet.argmax(model(inputs), 2):eq(targets):sum()
    end
    print(string.format("accuracy on the %d Fashion-MNIST test images: %.2f%%", images:size(1),
        100 * correct / images:size(1)))
end

local function classify_images(model, options)
    local labels = options.labels and load_labels(options.labels)
    local classes = model.classifier[#model.classifier].weight:size(1)
    if labels and #labels < classes then
        fail(string.format("%s has %d class names but %s has %d classes", options.labels,
            #labels, options.model, classes))
    end
    local top = options.top or 5
    for _, path in ipairs(options.images) do
        local ok, image = pcall(lunet.image.load, path)
        if not ok then
            fail(tostring(image))
        end
        image = lunet.image.resize(image, 256)
        image = lunet.image.center_crop(image, 224)
        image = lunet.image.normalize(image, IMAGENET_MEAN, IMAGENET_STD)
        local probs = lunet.softmax(model(image:unsqueeze(1)), 2)[1]
        print_top(path, probs, labels, math.min(top, probs:numel()))
    end
end

local options = parse_arguments(arg)
local model = build_model(options.model, options.weights)
if #options.images == 0 then
    if options.model ~= "fashion_vgg" then
        fail("give image files to classify with " .. options.model)
    end
    classify_fashion_mnist(model, options)
else
    if options.model == "fashion_vgg" then
        fail("fashion_vgg classifies 28x28 Fashion-MNIST images; use --model vgg16 for photos")
    end
    classify_images(model, options)
end
