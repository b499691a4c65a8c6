-- A VGG's last Linear layer emits raw scores (logits). They are not
-- probabilities: they can be negative and do not sum to 1.
--
--     ./lunet examples/raw_output.lua
local lunet = require "lunet"
local simple_vgg = require "models.simple_vgg"

lunet.manual_seed(42)
local model = simple_vgg({ num_classes = 3 })
model:evaluate()

local image = lunet.rand(1, 3, 32, 32)
local logits = model(image)

print("raw scores for one 3x32x32 image, 3 classes:")
print(logits)
print(string.format("sum of the scores: %.6f (not 1, so not a probability distribution)",
    logits:sum()))
