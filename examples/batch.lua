-- For a batch, softmax normalises each row on its own: every sample gets
-- its own distribution over the classes, and each row sums to 1.
--
--     ./lunet examples/batch.lua
local lunet = require "lunet"
local simple_vgg = require "models.simple_vgg"

lunet.manual_seed(42)
local model = simple_vgg({ num_classes = 3 })
model:evaluate()

local batch = lunet.rand(10, 3, 32, 32)
local probs = lunet.softmax(model(batch))   -- no dim: the last dim, the classes

print("probabilities for a batch of 10 images:")
print(probs)
local sums = probs:sum(2)
for i = 1, batch:size(1) do
    print(string.format("row %2d sums to %.6f", i, sums[i]))
end
