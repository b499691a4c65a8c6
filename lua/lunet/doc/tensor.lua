--- Tensors: float32 n-d arrays and their methods, such as `x:size()` and `x:view(...)`.
--
-- `lunet.Tensor` is the table of methods that every tensor has. Each lunet
-- function that takes a tensor first is also a method, so `x:sum(2)` is
-- `lunet.sum(x, 2)` and `x:softmax()` is `lunet.softmax(x)`. The `lunet`
-- module describes those. This page describes what is mainly
-- written as a method, and the methods that exist only as methods (the
-- in-place forms ending in `_`, `t`, `expand_as` and `close`). The
-- inspecting and view methods here are lunet functions too:
-- `lunet.size(x)` is `x:size()`.
--
-- Besides methods a tensor supports:
--
-- - `x[i]`: with a 1-d tensor the element at the 1-based index i, as a Lua
--   number; otherwise a view of the slice at i along dim 1 (`x:select(1, i)`).
--   Negative indices count from the end. `x[i] = v` assigns a number or
--   tensor to that element or slice.
-- - `#x`: the size of dim 1.
-- - `x + y`, `x - y`, `x * y`, `x / y`, `x ^ y` and `-x`: elementwise,
--   with broadcasting, and with a number on either side.
-- - `x == y`: true only when x and y are the same tensor object; the
--   elementwise comparison is `x:eq(y)`.
-- - `tostring(x)` and `print(x)`: the values in PyTorch's layout, with the
--   shape.
-- - `x.grad`: the gradient that layers accumulate into a parameter during
--   backward, nil until then.
-- - `local x <close> = ...`: frees the storage at the end of the scope, as
--   `x:close()` does.
-- @classmod lunet.Tensor
-- @prefix x:

--- Inspecting tensors.
-- @section inspect

--- Returns the shape as a table of sizes, or the size of one dim.
-- @function size
-- @tparam[opt] int dim a dim, 1-based or negative from the end (-1 is the last)
-- @treturn[1] table the sizes, such as `{2, 3}` (`{}` for a 0-d tensor), without dim
-- @treturn[2] int the size of dim
-- @raise when dim is not an integer or is out of range
-- (`size: dim 3 is out of range for a 2-d tensor (expected -2..2, excluding 0)`).
-- @usage local n, c = x:size(1), x:size(2)

--- Returns the strides in elements, or the stride of one dim.
-- The stride of a dim is how many elements of storage one step along it
-- skips; a contiguous 2 x 3 tensor has strides `{3, 1}`.
-- @function stride
-- @tparam[opt] int dim a dim, 1-based or negative from the end (-1 is the last)
-- @treturn[1] table the strides, without dim
-- @treturn[2] int the stride of dim
-- @raise as `size` does.

--- Returns the number of dims (the rank); 0 for a 0-d tensor.
-- @function dim
-- @treturn int

--- Returns the number of elements.
-- @function numel
-- @treturn int the product of the sizes (1 for a 0-d tensor)

--- Returns true when the elements lie in row-major order without gaps.
-- Views such as `t()`, `transpose` and `narrow` may not be contiguous; call
-- `contiguous()` to get a tensor that is.
-- @function is_contiguous
-- @treturn bool

--- Returns the only element of a one-element tensor as a Lua number.
-- Losses return 0-d tensors, which this reads.
-- @function item
-- @treturn number
-- @raise when the tensor has another number of elements
-- (`item: the tensor has 6 elements (shape 2x3) but item() needs exactly 1`).
-- @usage local value = criterion(logits, targets):item()

--- Returns the elements as nested Lua tables with the tensor's shape.
-- A 0-d tensor gives a number.
-- @function totable
-- @treturn table|number
-- @usage lunet.tensor({{1, 2}, {3, 4}}):totable()   -- {{1, 2}, {3, 4}}

--- Returns the elements as one flat Lua table in row-major order.
-- @function flat
-- @treturn table a list of numel() numbers

--- Frees the tensor's storage now rather than at garbage collection.
-- The tensor cannot be used afterwards: every function raises
-- `NAME: bad argument #1 (the tensor was closed and cannot be used)`. Views
-- keep their shared storage alive. `local x <close> = ...` closes at the end
-- of the scope. Storage of 32 to 256 MiB is kept for the next tensor of the
-- same size, up to 256 MiB in all, until `lunet.empty_cache()`.
-- @function close

--- Views and copies.
-- A view shares storage with its source: writing to one changes the other.
-- @section view

--- Returns a view with a new shape and the same elements.
-- One size may be -1, to be computed from the number of elements.
-- @function view
-- @param ... the new sizes as integers or one table
-- @treturn Tensor a view of x
-- @raise when the number of elements differs (`view: shape 4 has 4 elements but the tensor
-- has 6`), more than one size is -1, or the strides do not allow a view (`view: the tensor's
-- strides do not allow a view of this shape; call contiguous() first or use reshape()`).
-- @usage local flat = images:view(images:size(1), -1)    -- N x (C*H*W)

--- Returns x with a new shape: a view when the strides allow it, otherwise a copy.
-- One size may be -1, to be computed from the number of elements.
-- @function reshape
-- @param ... the new sizes as integers or one table
-- @treturn Tensor a view of x or a new tensor
-- @raise when the number of elements differs or the -1 size cannot be computed
-- (`reshape: cannot infer the -1 size: 6 elements do not divide into parts of 4`).

--- Returns a view with two dims swapped.
-- Without dims it transposes a matrix (2-d) or returns a 1-d tensor as it is.
-- @function transpose
-- @tparam[opt] int dim0 a dim, 1-based or negative from the end
-- @tparam[opt] int dim1 the other dim
-- @treturn Tensor a view of x
-- @raise when only one dim is given, a dim is out of range, or no dims are given for a
-- tensor of more than 2 dims (`transpose: a 3-d tensor needs two dims to swap`).

--- Returns the transpose of a matrix as a view.
-- It is `x:transpose()`.
-- @function t
-- @treturn Tensor a view of x
-- @raise as `transpose` does.

--- Returns a view whose dims are x's dims in the given order.
-- @function permute
-- @param ... a permutation of the dims as integers or one table, such as `permute(3, 1, 2)`
-- @treturn Tensor a view of x
-- @raise when the dims are not a permutation (`permute: dim 1 appears twice (expected a
-- permutation of 1..2)`) or a dim is out of range.
-- @usage local hwc = chw:permute(2, 3, 1)

--- Returns a view of length elements along dim, starting at the 1-based index start.
-- @function narrow
-- @int dim the dim to narrow, 1-based or negative from the end
-- @int start the first index kept, 1-based
-- @int length how many indices to keep
-- @treturn Tensor a view of x, with size length at dim
-- @raise when the range does not fit (`narrow: start 3 and length 2 do not fit dim 2 of size 3
-- (expected 1 <= start and start + length - 1 <= 3)`) or dim is out of range.
-- @usage local first_ten = images:narrow(1, 1, 10)

--- Returns a view of the slice at index along dim, with that dim removed.
-- @function select
-- @int dim the dim to index, 1-based or negative from the end
-- @int index the 1-based index, or negative to count from the end
-- @treturn Tensor a view of x with one dim fewer
-- @raise when index is out of range (`select: index 3 is out of range for dim 1 of size 2
-- (expected -2..2, excluding 0)`) or dim is out of range.

--- Returns a view without size-1 dims: all of them, or only dim.
-- A dim whose size is not 1 is left as it is.
-- @function squeeze
-- @tparam[opt] int dim the dim to remove, 1-based or negative from the end (-1 is the last);
-- without it every size-1 dim goes
-- @treturn Tensor a view of x
-- @raise when dim is out of range.

--- Returns a view with a new size-1 dim inserted at position dim.
-- For a tensor of n dims, dim goes from 1 to n + 1 (or -(n + 1) to -1).
-- @function unsqueeze
-- @int dim the position of the new dim in the result, 1-based or negative from the end
-- @treturn Tensor a view of x with one more dim
-- @raise when dim is out of range (`unsqueeze: dim 4 is out of range for a 2-d tensor
-- (expected -3..3, excluding 0)`).
-- @usage local batch = image:unsqueeze(1)    -- C x H x W -> 1 x C x H x W

--- Returns a view that repeats size-1 dims to the given sizes without copying.
-- -1 keeps a size, and new leading dims may be added.
-- @function expand
-- @param ... the new sizes as integers or one table
-- @treturn Tensor a view of x whose repeated dims have stride 0
-- @raise when a dim whose size is not 1 would change (`expand: cannot expand shape 2x3 to
-- 4x3: only size-1 dims can grow`).

--- Returns `x:expand(other:size())`.
-- @function expand_as
-- @tparam Tensor other the tensor whose shape to take
-- @treturn Tensor a view of x
-- @raise as `expand` does.

--- Returns x when it is contiguous, otherwise a contiguous copy.
-- @function contiguous
-- @treturn Tensor x or a new tensor

--- Returns a contiguous copy of x that shares nothing with it.
-- @function clone
-- @treturn Tensor a new tensor of x's shape

--- Fills and copies in place.
-- Each writes into x and returns x, so calls chain.
-- @section fill

--- Copies the elements of src into x and returns x.
-- src broadcasts to x's shape.
-- @function copy_
-- @tparam Tensor src the source
-- @treturn Tensor x
-- @raise when src is not a tensor or does not broadcast to x's shape
-- (`copy_: cannot copy a tensor of shape 4 into one of shape 2x3`).

--- Sets every element of x to value and returns x.
-- @function fill_
-- @number value the new value
-- @treturn Tensor x
-- @raise when value is not a number (`fill_: value must be a number, got string`).

--- Sets every element of x to 0 and returns x.
-- @function zero_
-- @treturn Tensor x

--- Fills x with uniform random numbers in [low, high) and returns x.
-- @function uniform_
-- @tparam[opt=0] number low the lower bound
-- @tparam[opt=1] number high the upper bound
-- @treturn Tensor x
-- @raise when a bound is not a number or low > high.

--- Fills x with normal random numbers and returns x.
-- @function normal_
-- @tparam[opt=0] number mean the mean
-- @tparam[opt=1] number std the standard deviation, at least 0
-- @treturn Tensor x
-- @raise when an argument is not a number or std is negative.

--- Elementwise math in place.
-- These are the in-place forms of the lunet functions of the same name
-- without the trailing `_`. The other operand broadcasts to x's shape.
-- @section inplace

--- Adds alpha * b to x and returns x: the in-place form of `lunet.add`.
-- @function add_
-- @tparam Tensor|number b the operand, broadcast to x's shape
-- @tparam[opt=1] number alpha the factor of b
-- @treturn Tensor x
-- @raise when b is neither a tensor nor a number, or does not broadcast to x's shape.
-- @usage param:add_(grad, -lr)    -- a gradient step

--- Subtracts alpha * b from x and returns x: the in-place form of `lunet.sub`.
-- @function sub_
-- @tparam Tensor|number b the operand, broadcast to x's shape
-- @tparam[opt=1] number alpha the factor of b
-- @treturn Tensor x
-- @raise as `add_` does.

--- Multiplies x by b elementwise and returns x: the in-place form of `lunet.mul`.
-- @function mul_
-- @tparam Tensor|number b the operand, broadcast to x's shape
-- @treturn Tensor x
-- @raise as `add_` does.

--- Divides x by b elementwise and returns x: the in-place form of `lunet.div`.
-- @function div_
-- @tparam Tensor|number b the divisor, broadcast to x's shape
-- @treturn Tensor x
-- @raise as `add_` does.

--- Raises x to the power b elementwise and returns x: the in-place form of `lunet.pow`.
-- @function pow_
-- @tparam Tensor|number b the exponent, broadcast to x's shape
-- @treturn Tensor x
-- @raise as `add_` does.

--- Negates x and returns x: the in-place form of `lunet.neg`.
-- @function neg_
-- @treturn Tensor x

--- Sets x to exp(x) and returns x: the in-place form of `lunet.exp`.
-- @function exp_
-- @treturn Tensor x

--- Sets x to log(x) and returns x: the in-place form of `lunet.log`.
-- @function log_
-- @treturn Tensor x

--- Sets x to sqrt(x) and returns x: the in-place form of `lunet.sqrt`.
-- @function sqrt_
-- @treturn Tensor x

--- Sets x to abs(x) and returns x: the in-place form of `lunet.abs`.
-- @function abs_
-- @treturn Tensor x

--- Sets x to tanh(x) and returns x: the in-place form of `lunet.tanh`.
-- @function tanh_
-- @treturn Tensor x

--- Sets x to sigmoid(x) and returns x: the in-place form of `lunet.sigmoid`.
-- @function sigmoid_
-- @treturn Tensor x

--- Sets x to max(x, 0) and returns x: the in-place form of `lunet.relu`.
-- @function relu_
-- @treturn Tensor x

--- Limits x to [min, max] and returns x: the in-place form of `lunet.clamp`.
-- @function clamp_
-- @tparam number|nil min the lower bound, or nil for none
-- @tparam[opt] number max the upper bound, or nil for none
-- @treturn Tensor x
-- @raise when both bounds are nil or a bound is not a number.
