/* The lunet executable: Lua 5.4 with lunet linked in.
 *
 * `lunet script.lua args...` runs a script with `arg` set as lua.c does, and
 * `require "lunet"` works from any working directory: package.path and
 * package.cpath gain the folders next to the executable (a source checkout)
 * and the installed share/ and lib/ folders, and lunet.core is preloaded
 * from the linked library. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lunet.h"

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
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, message_handler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

static void usage(const char *program)
{
    fprintf(stderr,
            "usage: %s [options] [script [args]]\n"
            "  -e STAT   run the statement STAT\n"
            "  -v        print the version and lunet.config()\n"
            "  -h        print this help\n",
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

int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "lunet: cannot create a Lua state: not enough memory\n");
        return EXIT_FAILURE;
    }
    luaL_openlibs(L);
    set_paths(L);

    int status = LUA_OK;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "-e") == 0) {
            if (++i >= argc) {
                usage(argv[0]);
                lua_close(L);
                return EXIT_FAILURE;
            }
            status = luaL_loadstring(L, argv[i]);
            if (status == LUA_OK)
                status = call(L, 0, 0);
            if (report(L, status) != LUA_OK)
                break;
        } else if (strcmp(argv[i], "-v") == 0) {
            status = print_version(L);
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(argv[0]);
        } else {
            fprintf(stderr, "lunet: unrecognized option '%s'\n", argv[i]);
            usage(argv[0]);
            lua_close(L);
            return EXIT_FAILURE;
        }
    }
    if (status == LUA_OK && i < argc)
        status = run_script(L, argc, argv, i);

    lua_close(L);
    return status == LUA_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}
