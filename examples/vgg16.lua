-- A full VGG16 (torchvision's layout, 138M parameters) on one 224x224 image.
-- Without pretrained weights the classes mean nothing, but the output is
-- still a distribution over 1000 classes after softmax.
--
--     ./lunet examples/vgg16.lua [--weights vgg16.safetensors]
local lunet = require "lunet"
local vgg = require "models.vgg"

local weights
for i = 1, #arg do
    if arg[i] == "--weights" then
        weights = arg[i + 1]
    end
end

lunet.manual_seed(0)
local model = vgg.vgg16({ init = weights == nil })
if weights then
    model:load_state_dict(lunet.load(weights))
end
model:evaluate()
print(string.format("vgg16: %d parameters", model:num_parameters()))

local image = lunet.rand(1, 3, 224, 224)
local start = lunet.time()
local logits = model(image)
local probs = lunet.softmax(logits, 2)
local elapsed = lunet.time() - start

print("output shape: " .. table.concat(probs:size(), "x"))
local values, indices = lunet.topk(probs[1], 5)
print("top-5 classes:")
for k = 1, 5 do
    print(string.format("  class %4d  p = %.6f", indices[k], values[k]))
end
print(string.format("sum of the distribution: %.6f", probs:sum()))
print(string.format("forward and softmax took %.1f ms", elapsed * 1000))
