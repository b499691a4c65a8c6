/* The lunet executable: Lua 5.4 with lunet linked in.
 *
 * `lunet script.lua args...` runs a script with `arg` set as lua.c does;
 * `lunet` alone starts the interactive prompt (lua/repl.c). `require "lunet"`
 * works from any working directory: package.path and package.cpath gain the
 * folders next to the executable (a source checkout) and the installed share/
 * and lib/ folders, and lunet.core is preloaded from the linked library. */
#include <limits.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lunet.h"
#include "repl.h"

int luaopen_lunet_core(lua_State *L);

/* Directory of the running executable, from /proc/self/exe. */
static void executable_dir(char *dir, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    if (n <= 0) {
        snprintf(dir, size, ".");
        return;
    }
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
}

/* Loads an installed model: calls require("lunet.models.X") so that both
 * names share one module table. */
static int load_installed_model(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_call(L, 1, 1);
    return 1;
}

/* A searcher for require "models.X": a checkout keeps models/ beside the
 * executable, but an installation keeps them as lunet/models/X.lua, so
 * scripts written against a checkout run unchanged. Other names and
 * missing models return nothing, leaving the message to the path searcher. */
static int search_installed_model(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (strncmp(name, "models.", strlen("models.")) != 0)
        return 0;

    lua_settop(L, 1);
    lua_pushfstring(L, "lunet.%s", name); /* 2: the installed module name */
    lua_getglobal(L, "package");          /* 3 */
    lua_getfield(L, 3, "searchpath");
    lua_pushvalue(L, 2);
    lua_getfield(L, 3, "path");
    lua_call(L, 2, 2); /* 4: the file name or nil, 5: the message */
    if (lua_isnil(L, 4))
        return 0;

    lua_pushvalue(L, 2);
    lua_pushcclosure(L, load_installed_model, 1);
    lua_pushvalue(L, 4); /* the loader's second argument */
    return 2;
}

static void set_paths(lua_State *L)
{
    char dir[PATH_MAX];
    executable_dir(dir, sizeof dir);

    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    /* A checkout keeps modules in lua/ and models/ beside the executable; an
     * installation keeps them in ../share/lua/5.4. */
    lua_pushfstring(L,
                    "%s/lua/?.lua;%s/lua/?/init.lua;%s/?.lua;"
                    "%s/../share/lua/5.4/?.lua;%s/../share/lua/5.4/?/init.lua;%s",
                    dir, dir, dir, dir, dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 1);

    lua_getfield(L, -1, "searchers");
    lua_pushcfunction(L, search_installed_model);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
    lua_pop(L, 1);

    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_lunet_core);
    lua_setfield(L, -2, "lunet.core");
    lua_pop(L, 2);
}

static int message_handler(lua_State *L)
{
    const char *message = lua_tostring(L, 1);
    if (!message) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, message, 1);
    return 1;
}

static int report(lua_State *L, int status)
{
    if (status != LUA_OK) {
        fprintf(stderr, "lunet: %s\n", lua_tostring(L, -1));
        fflush(stderr);
        lua_pop(L, 1);
    }
    return status;
}

static int call(lua_State *L, int nargs, int nresults)
{
    return lunet_call(L, message_handler, nargs, nresults);
}

static void usage(FILE *stream, const char *program)
{
    fprintf(stream,
            "usage: %s [options] [script [args]]\n"
            "Runs a Lua 5.4 script with lunet available; without a script, -e or -v\n"
            "it starts the interactive prompt (REPL).\n"
            "\n"
            "  script       the Lua file to run after the options; its args are the\n"
            "               strings arg[1], arg[2], ... and the script's ... values,\n"
            "               and arg[0] is the script's path\n"
            "  -e STAT      run the Lua statement STAT before the script (may be repeated);\n"
            "               the globals lunet, nn and help are set, as in the REPL\n"
            "  -i           start the REPL after running the script or -e statements\n"
            "  -v           print the version and lunet.config() first; with no script,\n"
            "               -e or -i, exit after that\n"
            "  -h, --help   print this help and exit\n"
            "  --           stop handling options: the next argument is the script\n"
            "  -            run the script read from standard input\n"
            "\n"
            "Exit status: 1 when an option is invalid or a statement or the script\n"
            "raises an error (with -i, the REPL's status instead), otherwise 0.\n"
            "\n"
            "In the REPL an expression prints its value and a trailing ';' hides it.\n"
            "Tab completes names and methods, help(x) describes a lunet function or\n"
            "layer, Ctrl-C interrupts the running statement (three times: quit) and\n"
            "Ctrl-D exits. History is kept in $HOME/.lunet_history.\n",
            program);
}

static int run_script(lua_State *L, int argc, char **argv, int script)
{
    /* arg[0] is the script, arg[1..] its arguments, arg[-1] the program. */
    lua_createtable(L, argc - script - 1, script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    lua_setglobal(L, "arg");

    int status = luaL_loadfile(L, strcmp(argv[script], "-") == 0 ? NULL : argv[script]);
    if (status != LUA_OK)
        return report(L, status);
    int nargs = argc - script - 1;
    luaL_checkstack(L, nargs, "too many arguments to script");
    for (int i = script + 1; i < argc; i++)
        lua_pushstring(L, argv[i]);
    return report(L, call(L, nargs, 0));
}

static int print_version(lua_State *L)
{
    const char *code = "local lunet = require 'lunet'\n"
                       "local c = lunet.config()\n"
                       "print('lunet ' .. c.version .. ' (' .. _VERSION .. ')')\n"
                       "local keys = {}\n"
                       "for k in pairs(c) do keys[#keys + 1] = k end\n"
                       "table.sort(keys)\n"
                       "for _, k in ipairs(keys) do print(k .. ': ' .. tostring(c[k])) end\n";
    int status = luaL_loadstring(L, code);
    if (status == LUA_OK)
        status = call(L, 0, 0);
    return report(L, status);
}

/* Options come first; the first other argument is the script. */
typedef struct options {
    bool interactive; /* -i */
    bool version;     /* -v */
    bool help;        /* -h, --help */
    bool statements;  /* at least one -e */
    int script;       /* index of the script in argv, or argc when none */
} options;

/* Reads the options, returning false (after printing why) when they are
 * invalid. */
static bool parse_options(int argc, char **argv, options *opts)
{
    *opts = (options){.script = argc};
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "-e") == 0) {
            if (++i >= argc) {
                fprintf(stderr, "lunet: option '-e' needs a statement\n");
                return false;
            }
            opts->statements = true;
        } else if (strcmp(argv[i], "-i") == 0) {
            opts->interactive = true;
        } else if (strcmp(argv[i], "-v") == 0) {
            opts->version = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            opts->help = true;
        } else {
            fprintf(stderr, "lunet: unrecognized option '%s'\n", argv[i]);
            return false;
        }
    }
    opts->script = i;
    return true;
}

/* Runs the -e statements in order, stopping at the first error. They see
 * the REPL's globals (lunet, nn, help), so a one-liner needs no require. */
static int run_statements(lua_State *L, int argc, char **argv, int script)
{
    bool has_statements = false;
    for (int i = 1; i < script; i++)
        has_statements = has_statements || strcmp(argv[i], "-e") == 0;
    if (has_statements) {
        int status = luaL_loadstring(L, "require('lunet.repl').setup(false)");
        if (status == LUA_OK)
            status = call(L, 0, 0);
        if (report(L, status) != LUA_OK)
            return status;
    }
    for (int i = 1; i < script; i++) {
        if (strcmp(argv[i], "-e") != 0)
            continue;
        i++;
        int status = luaL_loadstring(L, argv[i]);
        if (status == LUA_OK)
            status = call(L, 0, 0);
        if (report(L, status) != LUA_OK)
            return status;
    }
    return LUA_OK;
}

/* glibc trims the top of its heap as soon as more than its trim threshold
 * is free there: 128 KiB, or twice the mmap threshold once that has risen
 * (mallopt(3)). Tensors of a few hundred KiB to a few MiB, which the
 * collector frees in batches, then came back as fresh pages on almost every
 * call: softmax over 64x1000 took three times as long. So this program
 * serves blocks up to 32 MiB from the heap and keeps up to 64 MiB free at
 * its top, unless GLIBC_TUNABLES sets that threshold itself. */
static void tune_malloc(void)
{
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (!tunables || !strstr(tunables, "glibc.malloc.mmap_threshold"))
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
    if (!tunables || !strstr(tunables, "glibc.malloc.trim_threshold"))
        mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

int main(int argc, char **argv)
{
    tune_malloc();

    options opts;
    if (!parse_options(argc, argv, &opts)) {
        usage(stderr, argv[0]);
        return EXIT_FAILURE;
    }
    if (opts.help) {
        usage(stdout, argv[0]);
        return EXIT_SUCCESS;
    }

    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "lunet: cannot create a Lua state: not enough memory\n");
        return EXIT_FAILURE;
    }
    luaL_openlibs(L);
    set_paths(L);

    int status = LUA_OK;
    if (opts.version)
        status = print_version(L);
    if (status == LUA_OK)
        status = run_statements(L, argc, argv, opts.script);
    bool has_script = opts.script < argc;
    if (status == LUA_OK && has_script)
        status = run_script(L, argc, argv, opts.script);

    /* With -i the REPL starts even after an error, to inspect what the
     * script left behind; its exit status is then the REPL's. */
    if (opts.interactive || !(opts.version || opts.statements || has_script))
        status = lunet_repl(L) == EXIT_SUCCESS ? LUA_OK : LUA_ERRRUN;

    lua_close(L);
    return status == LUA_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}
