--- Float32 tensors and neural networks for Lua 5.4.
--
-- `local lunet = require "lunet"` returns this table and sets no global.
-- A tensor is a float32 n-d array; most functions here are also tensor
-- methods, so `lunet.sum(x, 2)` and `x:sum(2)` are the same call (see
-- `lunet.Tensor`).
--
-- Conventions that hold everywhere:
--
-- - Dims and indices are 1-based. A negative dim counts from the end, so -1
--   is the last dim of any tensor. A function whose dim is optional works on
--   the last dim when no dim is given.
-- - Shapes are written N x C x H x W in this reference and printed as
--   `2x3` in messages. `x:size()` returns them as tables such as `{2, 3}`.
-- - Binary operations broadcast as NumPy and PyTorch do: shapes are aligned
--   from the last dim, and a dim of size 1 (or a missing leading dim)
--   stretches to match the other side.
-- - Functions return new tensors unless they say otherwise. Views share
--   storage with their source, and methods whose names end in `_` write
--   into the tensor they are called on.
-- - Every function checks its arguments. A wrong type, a non-integer where
--   an integer is expected, a dim out of range, shapes that do not match or
--   a tensor closed with `close()` raise a Lua error that starts with the
--   function's name, such as
--   `softmax: dim 3 is out of range for a 2-d tensor (expected -2..2, excluding 0)`
--   or `add: shapes 2x3 and 4 do not broadcast (size 3 vs 4 at dim 1 from the end)`.
--   A tensor argument that is not a tensor raises
--   `NAME: bad argument #1 (tensor expected, got string)`.
-- @module lunet
-- @prefix lunet.

--- Creating tensors.
-- @section create

--- Returns a new float32 tensor copied from values.
-- The nesting of a table gives the shape: `{{1, 2, 3}, {4, 5, 6}}` becomes
-- a 2 x 3 tensor. A number gives a 0-d tensor, and a tensor gives a
-- contiguous copy of it.
-- @function tensor
-- @tparam table|number|Tensor values a rectangular nested table of numbers, a number or a tensor
-- @treturn Tensor a new tensor that shares nothing with values
-- @raise when values is another type, or a nested table is not rectangular:
-- `tensor: the nested table is not rectangular: element [2] has length 1, expected 2`.
-- @usage local x = lunet.tensor({{1, 2, 3}, {4, 5, 6}})   -- 2 x 3

--- Returns a new tensor of the given shape filled with 0.
-- @function zeros
-- @param ... the sizes as integers (`zeros(2, 3)`) or one table (`zeros({2, 3})`); no size gives a 0-d tensor
-- @treturn Tensor a new tensor
-- @raise when a size is not an integer or is negative
-- (`zeros: size -1 is negative (expected a size >= 0)`), when more than 8 sizes are
-- given, or when the tensor would not fit in memory.
-- @usage local x = lunet.zeros(2, 3)

--- Returns a new tensor of the given shape filled with 1.
-- @function ones
-- @param ... the sizes as integers or one table, as for `zeros`
-- @treturn Tensor a new tensor
-- @raise as `zeros` does.

--- Returns a new tensor of the given shape with every element set to value.
-- @function full
-- @param ... the sizes as integers or one table, followed by the fill value
-- @treturn Tensor a new tensor
-- @raise when the last argument is not a number
-- (`full: expected sizes (or a shape table) followed by a fill value, got number last`
-- when it is missing), and as `zeros` does for the sizes.
-- @usage local x = lunet.full(2, 2, 0.5)

--- Returns a new tensor of the given shape whose elements are not initialised.
-- Fill it before reading it.
-- @function empty
-- @param ... the sizes as integers or one table, as for `zeros`
-- @treturn Tensor a new tensor
-- @raise as `zeros` does.

--- Returns a new tensor of uniform random numbers in [0, 1).
-- Seed the generator with `manual_seed` to repeat a run.
-- @function rand
-- @param ... the sizes as integers or one table, as for `zeros`
-- @treturn Tensor a new tensor
-- @raise as `zeros` does.

--- Returns a new tensor of normally distributed random numbers (mean 0, standard deviation 1).
-- Seed the generator with `manual_seed` to repeat a run.
-- @function randn
-- @param ... the sizes as integers or one table, as for `zeros`
-- @treturn Tensor a new tensor
-- @raise as `zeros` does.

--- Returns a 1-d tensor of the half-open range from start up to, but excluding, end.
-- The elements are start, start + step, start + 2 * step and so on, as in
-- `torch.arange`. `arange(n)` gives 0, 1, ..., n - 1: values, not indices,
-- so they start at 0.
-- @function arange
-- @tparam number start the first value; with one argument it is end and start is 0
-- @tparam[opt] number end the bound, not included
-- @tparam[opt=1] number step the distance between values, negative to count down
-- @treturn Tensor a new 1-d tensor of ceil((end - start) / step) elements
-- @raise when an argument is not a number, step is 0, a value is not finite,
-- or step moves away from end (`arange: step -1.0 moves away from end (start=0.0, end=5.0)`).
-- @usage lunet.arange(5)          -- 0 1 2 3 4
-- lunet.arange(1, 2, 0.25)        -- 1 1.25 1.5 1.75

--- Seeds the random number generator, so that runs repeat exactly.
-- The generator is behind `rand`, `randn`, `uniform_`, `normal_`, layer
-- initialisation, dropout and unseeded shuffles in `lunet.data.batches`.
-- @function manual_seed
-- @int seed any integer
-- @raise when seed is not an integer (`manual_seed: seed must be an integer, got 1.5`).

--- Inspecting tensors.
-- @section inspect

--- Returns true when value is a lunet tensor, open or closed.
-- @function is_tensor
-- @param value any Lua value
-- @treturn bool

--- Elementwise math with broadcasting.
-- The binary functions take a tensor or a number on either side and
-- broadcast their shapes. Each has an in-place method form (`x:add_(y)`)
-- that writes into x, whose shape must be the broadcast shape.
-- @section math

--- Returns a + alpha * b elementwise.
-- `x + y` is the same with alpha 1, and `x:add_(y)` adds in place.
-- @function add
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @tparam[opt=1] number alpha the factor of b
-- @treturn Tensor a new tensor of the broadcast shape (0-d when both operands are numbers)
-- @raise when an operand is neither a tensor nor a number
-- (`add: bad argument #2 (tensor or number expected, got string)`) or the shapes do not
-- broadcast (`add: shapes 2x3 and 4 do not broadcast (size 3 vs 4 at dim 1 from the end)`).
-- @usage local y = lunet.add(x, 1)         -- x + 1
-- local z = lunet.add(x, y, -0.5)         -- x - 0.5 * y

--- Returns a - alpha * b elementwise.
-- `x - y` is the same with alpha 1, and `x:sub_(y)` subtracts in place.
-- @function sub
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @tparam[opt=1] number alpha the factor of b
-- @treturn Tensor a new tensor of the broadcast shape
-- @raise as `add` does.

--- Returns the elementwise product a * b.
-- `x * y` is the same; it is not a matrix product (see `matmul`). `x:mul_(y)`
-- multiplies in place.
-- @function mul
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @treturn Tensor a new tensor of the broadcast shape
-- @raise as `add` does.

--- Returns the elementwise quotient a / b.
-- `x / y` is the same, and `x:div_(y)` divides in place. Division by 0 gives
-- inf or NaN as IEEE arithmetic does.
-- @function div
-- @tparam Tensor|number a the dividend
-- @tparam Tensor|number b the divisor; its shape broadcasts with a's
-- @treturn Tensor a new tensor of the broadcast shape
-- @raise as `add` does.

--- Returns a raised to the power b elementwise.
-- `x ^ y` is the same, and `x:pow_(y)` works in place.
-- @function pow
-- @tparam Tensor|number a the base
-- @tparam Tensor|number b the exponent; its shape broadcasts with a's
-- @treturn Tensor a new tensor of the broadcast shape
-- @raise as `add` does.

--- Returns -x elementwise.
-- `-x` is the same, and `x:neg_()` negates in place.
-- @function neg
-- @tparam Tensor x the input, of any shape
-- @treturn Tensor a new tensor of x's shape
-- @raise when x is not an open tensor.

--- Returns e raised to the power x, elementwise.
-- @function exp
-- @tparam Tensor x the input, of any shape
-- @treturn Tensor a new tensor of x's shape
-- @raise when x is not an open tensor.

--- Returns the natural logarithm elementwise.
-- log(0) is -inf and the log of a negative number is NaN.
-- @function log
-- @tparam Tensor x the input, of any shape
-- @treturn Tensor a new tensor of x's shape
-- @raise when x is not an open tensor.

--- Returns the square root elementwise.
-- The square root of a negative number is NaN.
-- @function sqrt
-- @tparam Tensor x the input, of any shape
-- @treturn Tensor a new tensor of x's shape
-- @raise when x is not an open tensor.

--- Returns the absolute value elementwise.
-- @function abs
-- @tparam Tensor x the input, of any shape
-- @treturn Tensor a new tensor of x's shape
-- @raise when x is not an open tensor.

--- Returns the hyperbolic tangent elementwise.
-- @function tanh
-- @tparam Tensor x the input, of any shape
-- @treturn Tensor a new tensor of x's shape
-- @raise when x is not an open tensor.

--- Returns 1 / (1 + exp(-x)) elementwise.
-- @function sigmoid
-- @tparam Tensor x the input, of any shape
-- @treturn Tensor a new tensor of x's shape
-- @raise when x is not an open tensor.

--- Returns max(x, 0) elementwise.
-- @function relu
-- @tparam Tensor x the input, of any shape
-- @treturn Tensor a new tensor of x's shape
-- @raise when x is not an open tensor.

--- Returns x with every element limited to the range [min, max].
-- NaN stays NaN. `x:clamp_(min, max)` works in place.
-- @function clamp
-- @tparam Tensor x the input, of any shape
-- @tparam number|nil min the lower bound, or nil for none
-- @tparam[opt] number max the upper bound, or nil for none
-- @treturn Tensor a new tensor of x's shape
-- @raise when both bounds are nil (`clamp: min and max are both nil (expected at least one
-- bound)`) or a bound is not a number.
-- @usage local y = lunet.clamp(x, 0, 1)
-- local z = lunet.clamp(x, nil, 6)      -- only an upper bound

--- Returns the elementwise maximum of a and b.
-- For the largest element of one tensor, see `max`.
-- @function maximum
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @treturn Tensor a new tensor of the broadcast shape
-- @raise as `add` does.

--- Returns the elementwise minimum of a and b.
-- For the smallest element of one tensor, see `min`.
-- @function minimum
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @treturn Tensor a new tensor of the broadcast shape
-- @raise as `add` does.

--- Returns 1 where a == b and 0 elsewhere, elementwise.
-- Lua's `x == y` on two tensors is different: it tests whether they are the
-- same object and returns a boolean.
-- @function eq
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @treturn Tensor a new tensor of 0s and 1s of the broadcast shape
-- @raise as `add` does.

--- Returns 1 where a ~= b and 0 elsewhere, elementwise.
-- @function ne
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @treturn Tensor a new tensor of 0s and 1s of the broadcast shape
-- @raise as `add` does.

--- Returns 1 where a < b and 0 elsewhere, elementwise.
-- @function lt
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @treturn Tensor a new tensor of 0s and 1s of the broadcast shape
-- @raise as `add` does.

--- Returns 1 where a <= b and 0 elsewhere, elementwise.
-- @function le
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @treturn Tensor a new tensor of 0s and 1s of the broadcast shape
-- @raise as `add` does.

--- Returns 1 where a > b and 0 elsewhere, elementwise.
-- @function gt
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @treturn Tensor a new tensor of 0s and 1s of the broadcast shape
-- @raise as `add` does.

--- Returns 1 where a >= b and 0 elsewhere, elementwise.
-- @function ge
-- @tparam Tensor|number a the first operand
-- @tparam Tensor|number b the second operand; its shape broadcasts with a's
-- @treturn Tensor a new tensor of 0s and 1s of the broadcast shape
-- @raise as `add` does.

--- Reductions, sorting and softmax.
-- Each takes an optional dim: 1-based, or negative to count from the end.
-- @section reduce

--- Returns the sum of all elements, or the sums along dim.
-- Sums accumulate in double precision.
-- @function sum
-- @tparam Tensor x the input, of any shape
-- @tparam[opt] int dim the dim to sum over, 1-based or negative from the end (-1 is the last)
-- @tparam[opt=false] bool keepdim keep dim as size 1 instead of removing it
-- @treturn[1] number the sum of all elements, without dim
-- @treturn[2] Tensor the sums along dim: x's shape without dim (or with size 1 there when keepdim is true)
-- @raise when dim is not an integer or is out of range
-- (`sum: dim 3 is out of range for a 2-d tensor (expected -2..2, excluding 0)`).
-- @usage lunet.sum(x)         -- a Lua number
-- x:sum(2)                    -- the sum of each row of a matrix

--- Returns the mean of all elements, or the means along dim.
-- @function mean
-- @tparam Tensor x the input, of any shape
-- @tparam[opt] int dim the dim to average over, 1-based or negative from the end (-1 is the last)
-- @tparam[opt=false] bool keepdim keep dim as size 1 instead of removing it
-- @treturn[1] number the mean of all elements, without dim
-- @treturn[2] Tensor the means along dim, of x's shape without dim (or with size 1 there when keepdim is true)
-- @raise as `sum` does.

--- Returns the largest element, or the maxima along dim with their indices.
-- NaN counts as larger than every number, and among equal maxima the first
-- index wins.
-- @function max
-- @tparam Tensor x the input, of any shape
-- @tparam[opt] int dim the dim to reduce, 1-based or negative from the end (-1 is the last)
-- @tparam[opt=false] bool keepdim keep dim as size 1 instead of removing it
-- @treturn[1] number the largest element, without dim
-- @treturn[2] Tensor the maxima along dim
-- @treturn[2] Tensor their 1-based indices along dim, stored as floats
-- @raise when x has no elements (`max: cannot reduce a tensor with no elements (shape 0)`),
-- and as `sum` does for dim.
-- @usage local values, indices = x:max(2)

--- Returns the smallest element, or the minima along dim with their indices.
-- @function min
-- @tparam Tensor x the input, of any shape
-- @tparam[opt] int dim the dim to reduce, 1-based or negative from the end (-1 is the last)
-- @tparam[opt=false] bool keepdim keep dim as size 1 instead of removing it
-- @treturn[1] number the smallest element, without dim
-- @treturn[2] Tensor the minima along dim
-- @treturn[2] Tensor their 1-based indices along dim, stored as floats
-- @raise as `max` does.

--- Returns the 1-based index of the largest element, or of the maxima along dim.
-- Without dim the index is flat, counting elements in row-major order. To
-- pick classes from a batch of logits of shape N x C, use `argmax(logits, 2)`.
-- @function argmax
-- @tparam Tensor x the input, of any shape
-- @tparam[opt] int dim the dim to reduce, 1-based or negative from the end (-1 is the last)
-- @tparam[opt=false] bool keepdim keep dim as size 1 instead of removing it
-- @treturn[1] int the flat 1-based index, without dim
-- @treturn[2] Tensor the 1-based indices along dim, stored as floats
-- @raise as `max` does.
-- @usage local predicted = logits:argmax(2)    -- N class numbers in 1..C

--- Returns the 1-based index of the smallest element, or of the minima along dim.
-- @function argmin
-- @tparam Tensor x the input, of any shape
-- @tparam[opt] int dim the dim to reduce, 1-based or negative from the end (-1 is the last)
-- @tparam[opt=false] bool keepdim keep dim as size 1 instead of removing it
-- @treturn[1] int the flat 1-based index, without dim
-- @treturn[2] Tensor the 1-based indices along dim, stored as floats
-- @raise as `max` does.

--- Returns log(sum(exp(x))) along dim, computed without overflow.
-- The maximum is subtracted before exponentiating and added back after.
-- @function logsumexp
-- @tparam Tensor x the input, of any shape
-- @tparam[opt] int dim the dim to reduce, 1-based or negative from the end; the last by default
-- @tparam[opt=false] bool keepdim keep dim as size 1 instead of removing it
-- @treturn Tensor x's shape without dim (or with size 1 there when keepdim is true)
-- @raise as `sum` does.

--- Returns the k largest elements along dim and their indices.
-- The values come in descending order (ascending with largest = false).
-- @function topk
-- @tparam Tensor x the input, of at least 1 dim
-- @int k how many elements to take, from 0 to the size of dim
-- @tparam[opt] int dim the dim to select along, 1-based or negative from the end; the last by default
-- @tparam[opt=true] bool largest false takes the k smallest instead
-- @treturn Tensor the values: x's shape with size k at dim
-- @treturn Tensor their 1-based indices along dim, stored as floats
-- @raise when k is out of range (`topk: k 4 is out of range for dim 2 of size 3 (expected 0..3)`),
-- largest is not a boolean, or as `sum` does for dim.
-- @usage local probs, classes = lunet.softmax(logits):topk(5)

--- Returns the elements sorted along dim and the indices they came from.
-- @function sort
-- @tparam Tensor x the input, of any shape
-- @tparam[opt] int dim the dim to sort along, 1-based or negative from the end; the last by default
-- @tparam[opt=false] bool descending sort from largest to smallest
-- @treturn Tensor the sorted values, of x's shape
-- @treturn Tensor their original 1-based indices along dim, stored as floats
-- @raise when descending is not a boolean, or as `sum` does for dim.

--- Returns exp(x) / sum(exp(x)) along dim, so that each slice along dim is a probability distribution.
-- Every slice is non-negative and sums to 1. The maximum of each slice is
-- subtracted first, so large logits do not overflow. The raw scores of a
-- classifier (its logits) are not probabilities until they pass through
-- softmax.
-- @function softmax
-- @tparam Tensor x the input, of any shape (a 0-d tensor counts as one slice of one element)
-- @tparam[opt] int dim the dim to normalise, 1-based or negative from the end; the last by default
-- @treturn Tensor a new tensor of x's shape
-- @raise when dim is not an integer or is out of range
-- (`softmax: dim 3 is out of range for a 2-d tensor (expected -2..2, excluding 0)`).
-- @usage local probs = lunet.softmax(logits, 2)   -- logits of shape N x C: one distribution per row

--- Returns log(softmax(x)) along dim, computed without underflow.
-- It is x - max - log(sum(exp(x - max))), which stays accurate where
-- softmax itself rounds to 0.
-- @function log_softmax
-- @tparam Tensor x the input, of any shape
-- @tparam[opt] int dim the dim to normalise, 1-based or negative from the end; the last by default
-- @treturn Tensor a new tensor of x's shape
-- @raise as `softmax` does.

--- Returns the gradient of softmax with respect to its input.
-- With y the output of softmax, it is
-- y * (grad_output - sum(grad_output * y)) along dim.
-- @function softmax_backward
-- @tparam Tensor grad_output the gradient of the loss with respect to softmax's output
-- @tparam Tensor output softmax's output y, of grad_output's shape
-- @tparam[opt] int dim the dim softmax normalised, 1-based or negative from the end; the last by default
-- @treturn Tensor a new tensor of output's shape
-- @raise when the shapes differ
-- (`softmax_backward: grad_output has shape 2x3 but output has shape 3`), or as `softmax`
-- does for dim.

--- Returns the gradient of log_softmax with respect to its input.
-- With y the output of log_softmax, it is
-- grad_output - exp(y) * sum(grad_output) along dim.
-- @function log_softmax_backward
-- @tparam Tensor grad_output the gradient of the loss with respect to log_softmax's output
-- @tparam Tensor output log_softmax's output y, of grad_output's shape
-- @tparam[opt] int dim the dim log_softmax normalised, 1-based or negative from the end; the last by default
-- @treturn Tensor a new tensor of output's shape
-- @raise as `softmax_backward` does.

--- Matrix products.
-- @section linalg

--- Returns the matrix product of a and b with the rank rules of torch.matmul.
-- 1-d x 1-d is a dot product (a 0-d tensor), 2-d x 2-d a matrix product, a
-- 1-d operand gains a dim for the product and loses it afterwards, and
-- higher ranks are batches of matrices whose batch dims broadcast. The work
-- runs in OpenBLAS.
-- @function matmul
-- @tparam Tensor a the left operand, of shape ... x n x k (or k)
-- @tparam Tensor b the right operand, of shape ... x k x m (or k)
-- @treturn Tensor the product, of shape ... x n x m
-- @raise when an operand is 0-d, or the inner sizes differ
-- (`matmul: size mismatch, 2x3 @ 2x3 (inner sizes 3 and 2 differ)`), or the batch dims do
-- not broadcast.
-- @usage local y = lunet.matmul(x, w:t())    -- N x in @ in x out -> N x out

--- Returns the product of two matrices.
-- Only 2-d tensors are accepted; `matmul` handles other ranks.
-- @function mm
-- @tparam Tensor a an n x k matrix
-- @tparam Tensor b a k x m matrix
-- @treturn Tensor a new n x m matrix
-- @raise when an operand is not 2-d (`mm: expected two 2-d tensors, got 2x3 @ 3 (matmul
-- accepts other ranks)`) or the inner sizes differ.

--- Indexing and gathering.
-- @section gather

--- Returns the slices of x along dim at the given 1-based indices, in that order.
-- Repeats are allowed. `lunet.data.batches` gathers shuffled mini-batches
-- this way.
-- @function index_select
-- @tparam Tensor x the input, of at least 1 dim
-- @int dim the dim to select along, 1-based or negative from the end
-- @tparam table|Tensor indices a list of integers or a 1-d tensor of integral values
-- @treturn Tensor a new tensor: x's shape with dim resized to the number of indices
-- @raise when an index is out of range (`index_select: index 3 is out of range for dim 1
-- of size 2 (expected 1..2)`) or not an integer, or as `sum` does for dim.
-- @usage local batch = lunet.index_select(images, 1, {5, 2, 9})

--- Files.
-- @section io

--- Writes tensors to a file in the safetensors format.
-- The file loads in PyTorch with the safetensors package, and `load` reads
-- it back. The data is written to a temporary file beside path first and
-- renamed, so a failed save leaves no half-written file.
-- @function save
-- @string path the file to write
-- @tab tensors a table of name -> tensor, such as `model:state_dict()`
-- @tab[opt] metadata a table of string -> string stored in the file's header
-- @raise when path is not a string, the folder does not exist or is not writable
-- (`save: /x/y.safetensors: cannot create a temporary file beside it (No such file or directory)`),
-- or a value is not a tensor (`save: tensors['a'] is a number, expected a tensor`).
-- @usage lunet.save("model.safetensors", model:state_dict(), {epochs = "5"})

--- Reads a safetensors file and returns its tensors and metadata.
-- float16, bfloat16 and float64 data convert to float32; PyTorch's
-- `safetensors.torch.save_file` writes such files, and so does
-- tools/export_torch.py.
-- @function load
-- @string path the file to read
-- @treturn table name -> tensor
-- @treturn table the metadata, string -> string (empty when the file has none)
-- @raise when the file cannot be opened (`load: /x/y.safetensors: cannot open (No such file
-- or directory)`) or is not a valid safetensors file; the message names the problem.
-- @usage local tensors = lunet.load("spec/fixtures/vgg_small.safetensors")

--- Threads, timing and the build.
-- @section runtime

--- Returns a table that describes the build.
-- The fields are `version`, `num_threads`, `blas_config` (OpenBLAS's
-- configuration string) and `blas_core` (the CPU kernel OpenBLAS chose).
-- `lunet -v` prints them.
-- @function config
-- @treturn table

--- Returns seconds from a monotonic wall clock, for timing code.
-- `os.clock` is no substitute: it adds up the CPU time of every thread.
-- @function time
-- @treturn number seconds since an arbitrary start

--- Sets the number of OpenMP threads that all of lunet's kernels use.
-- Matrix products share out their output among the same threads, each
-- calling OpenBLAS with one thread, so no second pool competes for cores.
-- @function set_num_threads
-- @int n the thread count, from 1 to 1024
-- @raise when n is not an integer or is out of range
-- (`set_num_threads: thread count 0 is out of range (expected 1..1024)`).

--- Returns the number of threads that lunet's kernels use.
-- @function get_num_threads
-- @treturn int

--- Gives back to the system the memory of freed tensors kept for reuse.
-- Freed storage of 32 to 256 MiB, up to 256 MiB in all, is kept so that the
-- next tensor of the same size comes without page faults. `empty_cache`
-- frees it now.
-- @function empty_cache
