--- Tensor assertions for busted specs: `lunet.assertions`.
--
-- `require "lunet.assertions"` registers these assertions with luassert,
-- the `assert` of busted, and returns it. Each also works negated, as
-- `assert.is_not.distribution(...)` or `assert.is_not_distribution(...)`.
-- A trailing message argument, when given, is printed above the
-- assertion's own message. When an assertion fails its message names the
-- first bad slice or element, its 1-based index and its values. A wrong
-- argument fails the assertion, negated or not, with a message that names
-- the argument. docs/testing.md shows a complete spec.
-- @module lunet.assertions
-- @prefix assert.

--- Assertions.
-- @section assertions

--- Passes when every slice of probs along dim is a probability distribution.
-- Each slice must be non-negative, finite and sum to 1 within tol. Use it
-- on the output of softmax; raw scores (logits) fail it.
-- @function is_distribution
-- @tparam Tensor probs the probabilities, of any shape
-- @tparam[opt] int dim the dim that sums to 1, 1-based or negative from the end; the last by default
-- @tparam[opt=1e-5] number tol the tolerance of the sum
-- @usage assert.is_distribution(lunet.softmax(logits, 2), 2)

--- Passes when the shapes are equal and every element is near its expected value.
-- An element passes when |actual - expected| <= atol + rtol * |expected|,
-- as in torch.allclose. expected may be a tensor, a nested table of numbers
-- or one number that every element is compared with.
-- @function tensor_near
-- @tparam Tensor actual the tensor to check
-- @tparam Tensor|table|number expected the expected values
-- @tparam[opt] table options `{rtol = 1e-5, atol = 1e-8, equal_nan = false}`
-- @usage assert.tensor_near(lunet.softmax(lunet.zeros(2)), {0.5, 0.5})

--- Passes when the tensor's shape equals shape.
-- @function has_shape
-- @tparam Tensor t the tensor to check
-- @tab shape the expected sizes, such as `{8, 4}`
-- @usage assert.has_shape(model(x), {8, 10})

--- Passes when no element is NaN, inf or -inf.
-- @function is_finite
-- @tparam Tensor t the tensor to check
