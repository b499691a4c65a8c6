--- The workloads' sizes and FLOP counts, shared by bench/run.lua and
-- bench/bench.lua. bench/peer_torch.py repeats these numbers for PyTorch;
-- change both together.
local shapes = {}

-- torchvision's VGG16 ("D") configuration: channels per 3x3 convolution
-- with padding 1, "M" for 2x2 max pooling with stride 2.
shapes.vgg16_config = { 64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
    512, 512, 512, "M" }
shapes.vgg16_input = 224
shapes.vgg16_parameters = 138357544
shapes.vgg16_classifier = { { 512 * 7 * 7, 4096 }, { 4096, 4096 }, { 4096, 1000 } }

--- Returns VGG16's convolutions in order: name (torchvision's
-- `features.<index>`), index (0-based position in features), in_channels,
-- out_channels, size (input height = width) and flops (2 * MACs at batch 1).
function shapes.vgg16_convs()
    local convs = {}
    local index, channels, size = 0, 3, shapes.vgg16_input
    for _, v in ipairs(shapes.vgg16_config) do
        if v == "M" then
            size = size // 2
            index = index + 1
        else
            convs[#convs + 1] = {
                name = "features." .. index,
                index = index,
                in_channels = channels,
                out_channels = v,
                size = size,
                flops = 2 * size * size * v * channels * 9,
            }
            channels = v
            index = index + 2 -- the convolution and its ReLU
        end
    end
    return convs
end

--- Returns 2 * MACs of VGG16's convolutions and linear layers for one image.
function shapes.vgg16_flops()
    local flops = 0
    for _, conv in ipairs(shapes.vgg16_convs()) do
        flops = flops + conv.flops
    end
    for _, linear in ipairs(shapes.vgg16_classifier) do
        flops = flops + 2 * linear[1] * linear[2]
    end
    return flops
end

shapes.row_operations = { "softmax", "log_softmax", "sum" }
shapes.row_sizes = { { 64, 1000 }, { 4096, 10 }, { 16, 1000000 } }

--- Bytes read plus bytes written by one call of op over rows x columns.
function shapes.row_bytes(op, rows, columns)
    local output = op == "sum" and rows or rows * columns
    return 4 * (rows * columns + output)
end

-- 64 MiB of float32; a copy reads and writes that much.
shapes.copy_elements = 16 * 2 ^ 20 // 1
shapes.copy_bytes = 2 * 4 * shapes.copy_elements

shapes.train_batch = 64
shapes.train_images = 60000
shapes.adamw = { lr = 2e-3, weight_decay = 1e-4 }

return shapes
