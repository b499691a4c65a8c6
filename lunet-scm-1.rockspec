-- Builds lunet from a checkout with the Makefile:
--
--     luarocks --lua-version=5.4 make --tree DIR    (or: luarocks-5.4 make --tree DIR)
--
-- The build needs Debian's libopenblas-dev, zlib1g-dev, libstb-dev and
-- libreadline-dev (`make deps` installs them). The core is compiled with
-- -fopenmp and links OpenBLAS and zlib; stb is header-only.
rockspec_format = "3.0"
package = "lunet"
version = "scm-1"

-- NOTE: `luarocks make` builds the checkout it runs in and never fetches
-- this URL. `luarocks build` and `luarocks pack` would clone it, so it must
-- name the public repository before the rock is published.
source = {
    url = "git+file:///work/main",
    branch = "main",
}

description = {
    summary = "Neural-network toolkit for Lua 5.4 with a C core",
    detailed = [[
Float32 n-d tensors with views and broadcasting, layers such as Conv2d,
BatchNorm2d and Linear as C kernels (GEMM through OpenBLAS), containers,
losses and optimizers in Lua, safetensors input and output, and VGG models
whose parameter names match torchvision's. Dims are 1-based.]],
}

dependencies = {
    "lua >= 5.4, < 5.5",
}

-- luarocks checks these before the build, so a missing package is named
-- up front rather than by a compiler error.
external_dependencies = {
    OPENBLAS = { library = "openblas" },
    ZLIB = { header = "zlib.h", library = "z" },
    STB = { header = "stb/stb_image.h" },
    READLINE = { header = "readline/readline.h", library = "readline" },
}

build = {
    type = "make",
    build_target = "all",
    -- CFLAGS stays unset, so luarocks warns that it was not passed: the
    -- Makefile appends what the core needs (-fopenmp, the OpenBLAS include
    -- path) to CFLAGS, and a CFLAGS on make's command line would replace it.
    build_variables = {
        LUA_CFLAGS = "-I$(LUA_INCDIR)",
    },
    install_target = "install",
    install_variables = {
        PREFIX = "$(PREFIX)",
        BINDIR = "$(BINDIR)",
        LIBDIR = "$(LIBDIR)",
        LUADIR = "$(LUADIR)",
    },
    copy_directories = { "docs" },
}
