-- Trains the small VGG-style network of models/fashion_vgg.lua on
-- Fashion-MNIST from Debian's dataset-fashion-mnist package, prints the test
-- accuracy after each epoch and saves the weights.
--
--     ./lunet examples/train_fashion_mnist.lua [options]
--
-- Progress (batches per second, running loss, time left) goes to stderr;
-- results go to stdout.
local lunet = require "lunet"
local fashion_vgg = require "models.fashion_vgg"
local nn, optim, data = lunet.nn, lunet.optim, lunet.data

local defaults = {
    epochs = 5,
    batch_size = 64,
    lr = 2e-3,
    weight_decay = 1e-4,
    width = 32,
    seed = 1,
    threads = nil,
    limit = nil,
    data = "/usr/share/datasets/fashion-mnist",
    save = "examples/out/fashion_vgg.safetensors",
    csv = "examples/out/fashion_vgg.csv",
    log_every = 100,
    plot = nil,
}

local usage = [[
usage: ./lunet examples/train_fashion_mnist.lua [options]
  --epochs N        passes over the 60,000 training images (default 5)
  --batch-size N    images per step (default 64)
  --lr X            peak learning rate of AdamW, annealed by a cosine schedule (default 0.002)
  --weight-decay X  AdamW's decoupled weight decay (default 0.0001)
  --width N         channels of the first block; the second has twice as many (default 32)
  --seed N          seed for initialisation, shuffling and dropout (default 1)
  --threads N       threads for lunet and OpenBLAS (default: all cores)
  --limit N         train on the first N images only, for quick trials
  --data DIR        folder with the IDX files (default /usr/share/datasets/fashion-mnist)
  --save FILE       where to write the trained weights (default examples/out/fashion_vgg.safetensors)
  --csv FILE        where to write loss and accuracy per epoch and every --log-every steps
                    (default examples/out/fashion_vgg.csv)
  --log-every N     steps between CSV rows of the running loss (default 100)
  --plot FILE.png   draw loss and test accuracy against epochs with gnuplot
  --help            print this help]]

local function parse_arguments(argv)
    local options = {}
    for k, v in pairs(defaults) do
        options[k] = v
    end
    local numeric = { epochs = "integer", batch_size = "integer", lr = "number",
        weight_decay = "number", width = "integer", seed = "integer", threads = "integer",
        limit = "integer", log_every = "integer" }
    local i = 1
    while i <= #argv do
        local flag = argv[i]
        if flag == "--help" or flag == "-h" then
            print(usage)
            os.exit(0)
        end
        local name = flag:match("^%-%-([%w%-]+)$")
        local key = name and name:gsub("%-", "_")
        if not key or defaults[key] == nil and key ~= "threads" and key ~= "limit" and
            key ~= "plot" then
            io.stderr:write("train_fashion_mnist: unknown option '", flag, "'\n", usage, "\n")
            os.exit(2)
        end
        local value = argv[i + 1]
        if value == nil then
            io.stderr:write("train_fashion_mnist: option ", flag, " needs a value\n")
            os.exit(2)
        end
        if numeric[key] then
            local number = tonumber(value)
            if number == nil or (numeric[key] == "integer" and math.type(number) ~= "integer")
                or number <= 0 then
                io.stderr:write(string.format("train_fashion_mnist: %s must be a positive %s, " ..
                    "got '%s'\n", flag, numeric[key], value))
                os.exit(2)
            end
            value = number
        end
        options[key] = value
        i = i + 2
    end
    return options
end

local function format_duration(seconds)
    seconds = math.max(0, math.floor(seconds + 0.5))
    if seconds >= 3600 then
        return string.format("%dh%02dm", seconds // 3600, seconds % 3600 // 60)
    end
    return string.format("%dm%02ds", seconds // 60, seconds % 60)
end

local function ensure_parent_dir(path)
    local dir = path:match("^(.*)/[^/]*$")
    if dir and dir ~= "" then
        os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
    end
end

-- Returns the fraction of images whose argmax matches the label.
local function evaluate(model, images, labels, batch_size)
    model:evaluate()
    local correct = 0
    for inputs, targets in data.batches(images, labels, batch_size or 500) do
        local predicted = model(inputs):argmax(2)
        correct = correct + predicted:eq(targets):sum()
    end
    model:train()
    return correct / images:size(1)
end

local function main(argv)
    local options = parse_arguments(argv)
    if options.threads then
        lunet.set_num_threads(options.threads)
    end
    lunet.manual_seed(options.seed)

    local train_images, train_labels = data.fashion_mnist("train", options.data)
    local test_images, test_labels = data.fashion_mnist("test", options.data)
    if options.limit and options.limit < train_images:size(1) then
        train_images = train_images:narrow(1, 1, options.limit)
        train_labels = train_labels:narrow(1, 1, options.limit)
    end

    local model = fashion_vgg({ width = options.width })
    local criterion = nn.CrossEntropyLoss()
    local optimizer = optim.AdamW(model:parameters(),
        { lr = options.lr, weight_decay = options.weight_decay })
    local steps_per_epoch = math.ceil(train_images:size(1) / options.batch_size)
    local total_steps = steps_per_epoch * options.epochs
    local schedule = optim.CosineAnnealingLR(optimizer, { T_max = total_steps })

    io.stderr:write(string.format("training %d parameters on %d images, %d epoch(s) of %d " ..
        "steps, %d threads\n", model:num_parameters(), train_images:size(1), options.epochs,
        steps_per_epoch, lunet.get_num_threads()))

    ensure_parent_dir(options.csv)
    local csv = assert(io.open(options.csv, "w"))
    csv:write("epoch,step,train_loss,test_accuracy\n")

    local start = lunet.time()
    local step = 0
    local history = {}
    for epoch = 1, options.epochs do
        local running, count, epoch_loss, epoch_count = 0, 0, 0, 0
        local epoch_start = lunet.time()
        for inputs, targets in data.batches(train_images, train_labels, options.batch_size,
            { shuffle = true, seed = options.seed * 1000 + epoch }) do
            local logits = model(inputs)
            local loss = criterion(logits, targets):item()
            model:zero_grad()
            model:backward(inputs, criterion:backward(logits, targets))
            optimizer:step()
            schedule:step()

            step = step + 1
            running, count = running + loss, count + 1
            epoch_loss, epoch_count = epoch_loss + loss, epoch_count + 1
            if step % options.log_every == 0 then
                csv:write(string.format("%.4f,%d,%.6f,\n", step / steps_per_epoch, step,
                    running / count))
                csv:flush()
            end
            if step % 10 == 0 or step == total_steps then
                local elapsed = lunet.time() - start
                local rate = step / elapsed
                io.stderr:write(string.format("\repoch %d/%d  step %d/%d  %.1f batches/s  " ..
                    "loss %.4f  left %s   ", epoch, options.epochs, step - (epoch - 1) *
                    steps_per_epoch, steps_per_epoch, rate, running / count,
                    format_duration((total_steps - step) / rate)))
            end
            if step % options.log_every == 0 then
                running, count = 0, 0
            end
        end
        io.stderr:write("\n")

        local accuracy = evaluate(model, test_images, test_labels)
        local mean_loss = epoch_loss / math.max(1, epoch_count)
        history[#history + 1] = { epoch = epoch, loss = mean_loss, accuracy = accuracy }
        csv:write(string.format("%d,%d,%.6f,%.6f\n", epoch, step, mean_loss, accuracy))
        csv:flush()
        print(string.format("epoch %d: train loss %.4f, test accuracy %.2f%% (%s)", epoch,
            mean_loss, accuracy * 100, format_duration(lunet.time() - epoch_start)))
    end
    csv:close()

    ensure_parent_dir(options.save)
    lunet.save(options.save, model:state_dict(), {
        model = "fashion_vgg",
        width = tostring(options.width),
        test_accuracy = string.format("%.4f", history[#history].accuracy),
    })
    print("saved weights to " .. options.save)
    print("wrote the training log to " .. options.csv)

    if options.plot and require("lunet.plot").training_curves(options.csv, options.plot) then
        print("drew the training curves to " .. options.plot)
    end
end

main(arg)
