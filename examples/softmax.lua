-- Softmax along the class dim turns raw scores into probabilities:
-- non-negative and summing to 1 within float precision.
--
--     ./lunet examples/softmax.lua
local lunet = require "lunet"
local simple_vgg = require "models.simple_vgg"

lunet.manual_seed(42)
local model = simple_vgg({ num_classes = 3 })
model:evaluate()

local image = lunet.rand(1, 3, 32, 32)
local logits = model(image)
local probs = lunet.softmax(logits, 2)   -- dim 2 is the class dim of (N, classes)

print("raw scores:")
print(logits)
print("softmax along the class dim:")
print(probs)
print(string.format("sum of the probabilities: %.6f", probs:sum()))
