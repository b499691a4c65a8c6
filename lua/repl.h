/* The interactive prompt of the lunet executable.
 *
 * On a terminal the prompt reads lines through GNU readline (editing, Tab
 * completion, history in $HOME/.lunet_history). On a pipe it reads plain
 * lines and prints the same prompts and results, so tests can drive it. */
#ifndef LUNET_REPL_H
#define LUNET_REPL_H

#include <lua.h>

/* Runs the read-eval-print loop on L until end of input (Ctrl-D) and returns
 * the process exit status. */
int lunet_repl(lua_State *L);

/* Calls the function below nargs arguments in protected mode with handler
 * as the message handler, like lua_pcall, and returns lua_pcall's status. */
int lunet_call(lua_State *L, lua_CFunction handler, int nargs, int nresults);

#endif
