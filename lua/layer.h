/* Native layers as Lua userdata.
 *
 * Every native layer (Linear, Conv2d, ...) is one userdata type named
 * "lunet.nn.<Class>" holding an lb_layer: a pointer to its class, the
 * training flag and a class-specific config struct. Tensors the layer owns
 * (parameters such as weight and bias, buffers such as running_mean) live in
 * a fields table stored as the userdata's user value, so a script can read
 * and replace them (`conv.weight`, `conv.weight:copy_(w)`) and the collector
 * keeps them alive. A parameter's gradient is the tensor's `grad` field.
 *
 * Indexing a layer looks in its fields table, then the class's methods, then
 * the methods every layer shares (forward, backward, parameters, train,
 * evaluate, and the Lua-side helpers that lunet.nn installs). */
#ifndef LUNET_LAYER_H
#define LUNET_LAYER_H

#include "binding.h"

typedef struct lb_layer lb_layer;

typedef struct lb_layer_class {
    const char *name;                 /* "Conv2d"; also the prefix of errors */
    const char *const *parameters;    /* NULL-terminated, in state_dict order */
    const char *const *buffers;       /* NULL-terminated or NULL */
    size_t config_size;               /* bytes of class config after lb_layer */

    /* Computes the output of input (stack slot 2) and pushes it; the layer
     * is at slot 1. Returns the number of results (1). */
    int (*forward)(lua_State *L, lb_layer *layer);

    /* Pushes grad_input for input (slot 2) and grad_output (slot 3), and
     * adds parameter gradients into each parameter's `grad` (created as
     * zeros when absent). NULL when the class has no backward yet. */
    int (*backward)(lua_State *L, lb_layer *layer);

    /* Appends the text between the parentheses of tostring, e.g.
     * "3, 64, kernel_size=3, padding=1". */
    void (*describe)(lb_layer *layer, luaL_Buffer *buffer);

    const luaL_Reg *methods;          /* class-specific methods, may be NULL */
} lb_layer_class;

struct lb_layer {
    const lb_layer_class *cls;
    int training;
    /* Lua aligns userdata to 8 bytes (LUAI_MAXALIGN), enough for the int64_t
     * and double fields of every config. */
    _Alignas(8) unsigned char config[];
};

/* The class config, as the class's own struct type. */
#define LB_LAYER_CONFIG(layer, type) ((type *)(void *)(layer)->config)

/* Pushes a new layer of cls (training mode, zeroed config, empty fields). */
lb_layer *lb_new_layer(lua_State *L, const lb_layer_class *cls);

/* Checks that arg is a native layer of cls (or any native layer when cls is
 * NULL). */
lb_layer *lb_check_layer(lua_State *L, int arg, const lb_layer_class *cls);

/* Sets field name of the layer at index from the value on top of the stack,
 * popping it. */
void lb_layer_set(lua_State *L, int layer_index, const char *name);

/* Returns the tensor in field name, or NULL when the field is nil (e.g. a
 * bias switched off). A field of another type raises. The tensor stays
 * valid while the layer keeps it, and nothing is left on the stack. */
ln_tensor *lb_layer_tensor(lua_State *L, int layer_index, const char *name);

/* Returns the gradient tensor of parameter name, creating it as zeros of the
 * parameter's shape when absent or of the wrong shape. */
ln_tensor *lb_layer_grad(lua_State *L, int layer_index, const char *name);

/* Pushes a new tensor of shape filled U(-bound, bound) and stores it as field
 * name: PyTorch's default init for weights and biases. */
ln_tensor *lb_layer_init_uniform(lua_State *L, int layer_index, const char *name, int ndim,
                                 const int64_t *shape, float bound);

/* Options tables: constructors take `{stride = 2, bias = false}` at arg. An
 * absent table or key gives fallback; a value of the wrong type raises
 * "fname: option 'stride' must be ...". Pairs accept n or {h, w}. */
/* Raises "fname: unknown option 'strid' (expected stride, padding or bias)"
 * on a key of the options table at arg that is not in the NULL-terminated
 * names, so a misspelt option does not pass silently. */
void lb_check_option_names(lua_State *L, int arg, const char *const *names, const char *fname);

int lb_option_boolean(lua_State *L, int arg, const char *name, int fallback, const char *fname);
lua_Number lb_option_number(lua_State *L, int arg, const char *name, lua_Number fallback,
                            const char *fname);
void lb_option_pair(lua_State *L, int arg, const char *name, int64_t fallback, int64_t *pair,
                    const char *fname);

/* Reads a positional n or {h, w} at arg (e.g. kernel_size) into pair. */
void lb_check_pair(lua_State *L, int arg, const char *what, int64_t *pair, const char *fname);

/* Registers the constructors in `functions` into the table on top of the
 * stack (lunet.core.nn). */
void lb_register_layers(lua_State *L, const luaL_Reg *functions);

/* Layer families; each adds its constructors to the nn table on top. */
void lb_open_linear(lua_State *L);
void lb_open_conv(lua_State *L);
void lb_open_activation(lua_State *L);
void lb_open_pool(lua_State *L);
void lb_open_batchnorm(lua_State *L);
void lb_open_loss(lua_State *L);

#endif
