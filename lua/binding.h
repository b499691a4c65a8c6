/* Shared helpers of the Lua binding.
 *
 * The binding is the one place where Lua's conventions meet the core's: it
 * turns 1-based and negative dims and indices into 0-based ones, checks every
 * argument before the core sees it, and turns a core failure into a Lua error
 * prefixed with the Lua-facing function name. A tensor userdata embeds its
 * ln_tensor directly; the userdata is created before any storage is
 * allocated, so an error raised afterwards leaves nothing unowned. */
#ifndef LUNET_BINDING_H
#define LUNET_BINDING_H

#include <lauxlib.h>
#include <lua.h>

#include "lunet.h"

#define LB_TENSOR "lunet.Tensor"

/* Registry key of the tensor method table, which module files extend. */
#define LB_TENSOR_METHODS "lunet.Tensor.methods"

/* Returns the tensor at arg or raises "fname: bad argument #arg (tensor
 * expected, got T)"; a closed tensor raises too. */
ln_tensor *lb_check_tensor(lua_State *L, int arg, const char *fname);
ln_tensor *lb_test_tensor(lua_State *L, int arg);

/* Pushes a new tensor userdata whose ln_tensor is empty, for the caller to
 * fill (allocate or make a view). */
ln_tensor *lb_push_tensor(lua_State *L);

/* Allocates storage of shape for a tensor made by lb_push_tensor, raising on
 * failure, and reports the bytes to the garbage collector. */
void lb_alloc(lua_State *L, ln_tensor *t, int ndim, const int64_t *shape, const char *fname);
void lb_alloc_zeros(lua_State *L, ln_tensor *t, int ndim, const int64_t *shape,
                    const char *fname);

/* Pushes a new tensor with the given shape (uninitialised) and returns it. */
ln_tensor *lb_new(lua_State *L, int ndim, const int64_t *shape, const char *fname);

/* Reports that a tensor now owns bytes of storage, so Lua's collector runs
 * in proportion to tensor memory rather than to the small userdata size. */
void lb_account(lua_State *L, int64_t bytes);

/* Raises "fname: <core message>" when status is not LN_OK. */
void lb_check_status(lua_State *L, ln_status status, const char *fname);

/* Converts the 1-based (or negative) dim at arg for a tensor of rank ndim to
 * 0-based, raising "fname: dim 3 is out of range for a 2-d tensor (expected
 * -2..2)". A rank-0 tensor accepts dims 1 and -1 as its only dim, as PyTorch
 * accepts 0 and -1. lb_opt_dim returns the last dim when arg is none or nil.
 * `extra` widens the range for functions like unsqueeze that address
 * ndim + 1 positions. */
int lb_check_dim(lua_State *L, int arg, int ndim, const char *fname);
int lb_opt_dim(lua_State *L, int arg, int ndim, const char *fname);
int lb_check_dim_extra(lua_State *L, int arg, int ndim, int extra, const char *fname);

/* Converts a Lua integer dim value (not a stack slot) the same way. */
int lb_dim_value(lua_State *L, lua_Integer dim, int ndim, int extra, const char *fname);

/* Returns the integer at arg, raising "fname: <what> must be an integer, got
 * 2.5" for non-integers. */
lua_Integer lb_check_integer(lua_State *L, int arg, const char *what, const char *fname);

/* Reads a shape given as sizes from arg onwards (zeros(2, 3)) or as one table
 * (zeros({2, 3})). Sizes must be non-negative integers (allow_infer admits
 * one -1). Returns the rank. */
int lb_check_shape(lua_State *L, int arg, int64_t *shape, int allow_infer, const char *fname);

/* Reads a tensor or a number at arg. A number is replaced, in its stack
 * slot, by a new rank-0 tensor, so the collector owns it on every path. */
ln_tensor *lb_check_operand(lua_State *L, int arg, const char *fname);

/* Registers functions as lunet.<name> and, where method is set, as tensor
 * methods too (LB_METHOD_ONLY: only as methods). Expects the module table at
 * the top of the stack. */
#define LB_METHOD_ONLY 2
typedef struct lb_function {
    const char *name;
    lua_CFunction fn;
    int method;
} lb_function;
void lb_register(lua_State *L, const lb_function *functions);

/* Module parts; each adds its functions to the module table on top. */
void lb_open_tensor(lua_State *L);
void lb_open_elementwise(lua_State *L);
void lb_open_matmul(lua_State *L);
void lb_open_reduce(lua_State *L);
void lb_open_softmax(lua_State *L);
void lb_open_topk(lua_State *L);
void lb_open_nn(lua_State *L);
void lb_open_io(lua_State *L);
void lb_open_image(lua_State *L);

#endif
