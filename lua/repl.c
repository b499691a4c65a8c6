/* The read-eval-print loop of the lunet executable.
 *
 * Each statement is compiled first as `return <line>`, so an expression's
 * values print, and then as a statement. A chunk whose syntax error ends at
 * "<eof>" is incomplete and continues on the ">> " prompt. A top-level
 * `local` declares a global instead, so the name outlives its statement.
 * Results print through lunet.repl.show, and Tab completion calls
 * lunet.repl.complete.
 *
 * Ctrl-C while a statement runs sets a Lua hook that raises "interrupted!"
 * at the next Lua instruction and calls ln_interrupt(), which long C kernels
 * poll. Ctrl-C at the prompt discards the line being typed. */
#include "repl.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include <lauxlib.h>
#include <lualib.h>

#include "parallel.h"

#define PROMPT "> "
#define CONTINUATION_PROMPT ">> "
#define CHUNK_NAME "=stdin"

/* Lua's parser ends the message of a chunk that stops too early with this. */
#define EOF_MARK "<eof>"

#define HISTORY_FILE ".lunet_history"
#define HISTORY_LENGTH 1000

/* Tracebacks longer than this show their first and last frames only. */
#define TRACEBACK_HEAD 6
#define TRACEBACK_TAIL 4

/* The third Ctrl-C during one statement kills the process, for a C call
 * that never polls ln_interrupted(). */
#define SIGINTS_TO_KILL 3

typedef struct repl {
    lua_State *L;
    bool terminal;      /* stdin is a terminal: use readline */
    char *history_path; /* NULL when $HOME is unset */
    int helpers;        /* registry reference to the lunet.repl table */
} repl;

/* Signal handlers and readline callbacks take no context argument, so the
 * running session is global. */
static repl *session;
static pthread_t main_thread;
static volatile sig_atomic_t sigint_count;
static volatile sig_atomic_t prompt_interrupted;
static volatile sig_atomic_t statement_running;

/* Signals ---------------------------------------------------------------- */

/* Raises "interrupted!" at the next Lua instruction or call. Calls into C
 * functions are let through, so a kernel that stopped on ln_interrupted()
 * reports its own error ("BatchNorm2d: interrupted") through the message
 * handler instead of this one replacing it. */
static void stop_hook(lua_State *L, lua_Debug *ar)
{
    lua_getinfo(L, "S", ar);
    if (*ar->what == 'C')
        return;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* Handles SIGINT for the whole session. While a statement runs it requests
 * an interrupt: lua_sethook is safe in a signal handler, and ln_interrupt()
 * stops C kernels. At the prompt it only sets a flag for the read loop.
 * OpenMP and OpenBLAS threads may receive the signal too; they forward it to
 * the thread that runs Lua and reads input. */
static void on_sigint(int signal_number)
{
    int saved_errno = errno;
    if (statement_running)
        ln_interrupt();
    if (!pthread_equal(pthread_self(), main_thread)) {
        pthread_kill(main_thread, signal_number);
    } else if (statement_running) {
        lua_sethook(session->L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
        if (++sigint_count >= SIGINTS_TO_KILL) {
            /* Delivered when this handler returns, as SIGINT is blocked in it. */
            signal(signal_number, SIG_DFL);
            raise(signal_number);
        }
    } else {
        prompt_interrupted = 1;
    }
    errno = saved_errno;
}

static void set_sigint_handler(void (*handler)(int), struct sigaction *previous)
{
    struct sigaction action = {0};
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, previous);
}

/* Reading lines ----------------------------------------------------------- */

typedef enum line_status { LINE_READ, LINE_EOF, LINE_INTERRUPTED } line_status;

static char *received_line;
static bool line_received;

static void on_line(char *line)
{
    received_line = line;
    line_received = true;
    rl_callback_handler_remove();
}

/* Abandons the line being edited after Ctrl-C and moves to a fresh line. */
static void discard_terminal_line(void)
{
    rl_point = rl_end;
    rl_redisplay();
    fputs("^C\n", rl_outstream);
    fflush(rl_outstream);
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_replace_line("", 0);
    rl_callback_handler_remove();
}

/* Reads one line through readline's callback interface. SIGINT stays blocked
 * except inside ppoll, so the handler never interrupts readline itself. */
static line_status read_terminal_line(const char *prompt, char **line)
{
    sigset_t sigint_only, outside, inside;
    sigemptyset(&sigint_only);
    sigaddset(&sigint_only, SIGINT);
    sigprocmask(SIG_BLOCK, &sigint_only, &outside);
    inside = outside;
    sigdelset(&inside, SIGINT);

    prompt_interrupted = 0;
    line_received = false;
    received_line = NULL;
    rl_callback_handler_install(prompt, on_line);

    line_status status = LINE_READ;
    while (!line_received) {
        struct pollfd input = {.fd = fileno(rl_instream), .events = POLLIN};
        int ready = ppoll(&input, 1, NULL, &inside);
        if (prompt_interrupted) {
            discard_terminal_line();
            status = LINE_INTERRUPTED;
            break;
        }
        if (ready > 0) {
            rl_callback_read_char();
        } else if (ready < 0 && errno == EINTR) {
            rl_check_signals(); /* redraws after SIGWINCH */
        } else if (ready < 0) {
            rl_callback_handler_remove();
            break;
        }
    }

    sigprocmask(SIG_SETMASK, &outside, NULL);
    if (status == LINE_READ && received_line == NULL)
        status = LINE_EOF;
    *line = received_line;
    return status;
}

/* Reads one line from a pipe or file, printing the prompt but no echo. */
static line_status read_stream_line(const char *prompt, char **line)
{
    fputs(prompt, stdout);
    fflush(stdout);

    size_t capacity = 0;
    *line = NULL;
    prompt_interrupted = 0;
    ssize_t length = getline(line, &capacity, stdin);
    if (length < 0) {
        free(*line);
        *line = NULL;
        if (prompt_interrupted && !feof(stdin)) {
            clearerr(stdin);
            fputs("\n", stdout);
            return LINE_INTERRUPTED;
        }
        return LINE_EOF;
    }
    if (length > 0 && (*line)[length - 1] == '\n')
        (*line)[--length] = '\0';
    if (length > 0 && (*line)[length - 1] == '\r')
        (*line)[--length] = '\0';
    return LINE_READ;
}

/* Adds a non-empty line to the history unless it repeats the previous one,
 * and appends it to the history file at once so a killed session keeps it. */
static void remember_line(repl *r, const char *line)
{
    if (!r->terminal || line[0] == '\0')
        return;
    HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1) : NULL;
    if (last && strcmp(last->line, line) == 0)
        return;
    add_history(line);
    if (r->history_path)
        append_history(1, r->history_path);
}

/* Returns a malloc'd line in *line when the status is LINE_READ. */
static line_status read_line(repl *r, const char *prompt, char **line)
{
    line_status status =
        r->terminal ? read_terminal_line(prompt, line) : read_stream_line(prompt, line);
    if (status == LINE_READ)
        remember_line(r, *line);
    return status;
}

/* Compiling statements ---------------------------------------------------- */

static bool is_incomplete(lua_State *L, int status)
{
    if (status != LUA_ERRSYNTAX)
        return false;
    size_t length;
    const char *message = lua_tolstring(L, -1, &length);
    size_t mark = sizeof EOF_MARK - 1;
    return length >= mark && strcmp(message + length - mark, EOF_MARK) == 0;
}

/* Length of code without trailing blanks and one trailing ';', which
 * silences the result as it does in IPython. */
static size_t expression_length(const char *code, size_t length, bool *silenced)
{
    while (length > 0 && strchr(" \t\r\n", code[length - 1]))
        length--;
    *silenced = length > 0 && code[length - 1] == ';';
    return *silenced ? length - 1 : length;
}

/* Each statement is its own chunk, so a top-level `local x = 1` would be
 * gone by the next prompt. Compiles code without its leading `local`, which
 * makes x a global that later statements see. Pushes the function when that
 * compiles and nothing otherwise, so `local x <const> = 1` stays local. */
static int load_as_global(lua_State *L, const char *code, size_t length)
{
    size_t start = 0;
    /* Only blanks, so line numbers in messages stay right. */
    while (start < length && (code[start] == ' ' || code[start] == '\t'))
        start++;
    size_t keyword = sizeof "local" - 1;
    if (length - start <= keyword || strncmp(code + start, "local", keyword) != 0 ||
        !isspace((unsigned char)code[start + keyword]))
        return LUA_ERRSYNTAX;
    int status = luaL_loadbuffer(L, code + start + keyword, length - start - keyword, CHUNK_NAME);
    if (status != LUA_OK)
        lua_pop(L, 1);
    return status;
}

typedef enum chunk_status { CHUNK_READY, CHUNK_INCOMPLETE, CHUNK_ERROR } chunk_status;

/* `return f(x)` tail-calls f, which drops the statement's frame and f's name
 * from a traceback. Replaces the compiled function on top of the stack with
 * one that passes the values through an inner function instead, keeping the
 * original when that does not compile. The ")" goes on a new line only when
 * the expression may end in a comment. Lua reports an error inside the
 * expression on the line where the call closes, which should be line 1. */
static void load_without_tail_call(lua_State *L, const char *expression, size_t length)
{
    bool comment = false;
    for (size_t i = 0; i + 1 < length && !comment; i++)
        comment = expression[i] == '-' && expression[i + 1] == '-';

    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    luaL_addstring(&buffer, "return (function(...) return ... end)(");
    luaL_addlstring(&buffer, expression, length);
    luaL_addstring(&buffer, comment ? "\n)" : ")");
    luaL_pushresult(&buffer);
    size_t wrapped_length;
    const char *wrapped = lua_tolstring(L, -1, &wrapped_length);
    int status = luaL_loadbuffer(L, wrapped, wrapped_length, CHUNK_NAME);
    lua_remove(L, -2);
    if (status == LUA_OK)
        lua_remove(L, -2);
    else
        lua_pop(L, 1);
}

/* Compiles code as an expression, then as a statement. Pushes the function,
 * or the statement's syntax error, and sets *print when the values of an
 * expression should print. */
static chunk_status compile(lua_State *L, const char *code, size_t length, bool *print)
{
    bool silenced;
    size_t expression = expression_length(code, length, &silenced);
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    luaL_addstring(&buffer, "return ");
    luaL_addlstring(&buffer, code, expression);
    luaL_pushresult(&buffer);
    size_t return_length;
    const char *return_code = lua_tolstring(L, -1, &return_length);
    int status = luaL_loadbuffer(L, return_code, return_length, CHUNK_NAME);
    lua_remove(L, -2);
    if (status == LUA_OK) {
        *print = !silenced;
        load_without_tail_call(L, code, expression);
        return CHUNK_READY;
    }
    bool expression_incomplete = is_incomplete(L, status);
    lua_pop(L, 1);

    *print = false;
    if (load_as_global(L, code, length) == LUA_OK)
        return CHUNK_READY;
    status = luaL_loadbuffer(L, code, length, CHUNK_NAME);
    if (status == LUA_OK)
        return CHUNK_READY;
    /* "{1," is an incomplete expression but a finished (wrong) statement. */
    if (is_incomplete(L, status) || expression_incomplete)
        return CHUNK_INCOMPLETE;
    return CHUNK_ERROR;
}

typedef enum statement_status {
    STATEMENT_READY,     /* the compiled function is on the stack */
    STATEMENT_ERROR,     /* the syntax error message is on the stack */
    STATEMENT_CANCELLED, /* Ctrl-C discarded it; nothing on the stack */
    STATEMENT_EOF        /* end of input before a statement began */
} statement_status;

/* Reads lines until they form a complete chunk. */
static statement_status read_statement(repl *r, bool *print)
{
    lua_State *L = r->L;
    char *line;
    line_status got = read_line(r, PROMPT, &line);
    if (got == LINE_EOF)
        return STATEMENT_EOF;
    if (got == LINE_INTERRUPTED)
        return STATEMENT_CANCELLED;
    lua_pushstring(L, line);
    free(line);

    for (;;) {
        size_t length;
        const char *code = lua_tolstring(L, -1, &length);
        chunk_status compiled = compile(L, code, length, print);
        if (compiled != CHUNK_INCOMPLETE) {
            lua_remove(L, -2);
            return compiled == CHUNK_READY ? STATEMENT_READY : STATEMENT_ERROR;
        }

        got = read_line(r, CONTINUATION_PROMPT, &line);
        if (got == LINE_EOF) {
            lua_remove(L, -2);
            return STATEMENT_ERROR;
        }
        lua_pop(L, 1);
        if (got == LINE_INTERRUPTED) {
            lua_pop(L, 1);
            return STATEMENT_CANCELLED;
        }
        lua_pushliteral(L, "\n");
        lua_pushstring(L, line);
        free(line);
        lua_concat(L, 3);
    }
}

/* Running statements ------------------------------------------------------ */

static void add_frame(luaL_Buffer *buffer, lua_State *L, lua_Debug *ar)
{
    lua_getinfo(L, "Slnt", ar);
    lua_pushfstring(L, "\n\t%s:", ar->short_src);
    luaL_addvalue(buffer);
    if (ar->currentline > 0) {
        lua_pushfstring(L, "%d:", ar->currentline);
        luaL_addvalue(buffer);
    }
    if (*ar->namewhat != '\0') {
        const char *kind = strcmp(ar->namewhat, "global") == 0 ? "function" : ar->namewhat;
        lua_pushfstring(L, " in %s '%s'", kind, ar->name);
    } else if (*ar->what == 'm') {
        lua_pushliteral(L, " in main chunk");
    } else if (*ar->what == 'C') {
        lua_pushliteral(L, " in ?");
    } else {
        lua_pushfstring(L, " in function <%s:%d>", ar->short_src, ar->linedefined);
    }
    luaL_addvalue(buffer);
    /* The caller's frame is gone when it ended in a tail call (`return g(x)`). */
    if (ar->istailcall)
        luaL_addstring(buffer, "\n\t(...tail calls...)");
}

/* Turns an error into its message plus a short traceback. The traceback is
 * left out when the error comes straight from the statement (or a C function
 * it called), where the message already gives the line. */
static int message_handler(lua_State *L)
{
    const char *message = lua_tostring(L, 1);
    if (!message) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            message = lua_tostring(L, -1);
        else
            message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }

    lua_Debug ar;
    int levels = 1;
    bool in_function = false;
    while (lua_getstack(L, levels, &ar)) {
        lua_getinfo(L, "S", &ar);
        if (*ar.what == 'L')
            in_function = true;
        levels++;
    }
    if (!in_function) {
        lua_pushstring(L, message);
        return 1;
    }

    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    luaL_addstring(&buffer, message);
    luaL_addstring(&buffer, "\nstack traceback:");
    for (int level = 1; level < levels; level++) {
        if (levels - 1 > TRACEBACK_HEAD + TRACEBACK_TAIL && level == TRACEBACK_HEAD + 1) {
            int skipped = levels - 1 - TRACEBACK_HEAD - TRACEBACK_TAIL;
            lua_pushfstring(L, "\n\t...\t(skipping %d levels)", skipped);
            luaL_addvalue(&buffer);
            level += skipped - 1;
            continue;
        }
        lua_getstack(L, level, &ar);
        add_frame(&buffer, L, &ar);
    }
    luaL_pushresult(&buffer);
    return 1;
}

int lunet_call(lua_State *L, lua_CFunction handler, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, handler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

/* Calls the function below nargs arguments with the REPL's message handler,
 * keeping all results. */
static int protected_call(lua_State *L, int nargs)
{
    return lunet_call(L, message_handler, nargs, LUA_MULTRET);
}

static void print_error(lua_State *L)
{
    const char *message = lua_tostring(L, -1);
    fprintf(stderr, "%s\n", message ? message : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
}

/* Prints the values above base with lunet.repl.show, or with tostring when
 * lunet.repl could not be loaded. */
static int print_values(repl *r, int base)
{
    lua_State *L = r->L;
    int count = lua_gettop(L) - base;
    if (r->helpers != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->helpers);
        lua_getfield(L, -1, "show");
        lua_remove(L, -2);
        lua_insert(L, base + 1);
        return protected_call(L, count);
    }
    for (int i = base + 1; i <= base + count; i++) {
        fputs(luaL_tolstring(L, i, NULL), stdout);
        fputs(i < base + count ? "\t" : "\n", stdout);
        lua_pop(L, 1);
    }
    fflush(stdout);
    return LUA_OK;
}

/* Runs the compiled statement on top of the stack and prints its values or
 * its error, then leaves the stack as it was before the statement. */
static void run_statement(repl *r, bool print)
{
    lua_State *L = r->L;
    int base = lua_gettop(L) - 1;

    ln_clear_interrupt();
    sigint_count = 0;
    set_sigint_handler(on_sigint, NULL);
    statement_running = 1;

    int status = protected_call(L, 0);
    if (status == LUA_OK && print && lua_gettop(L) > base)
        status = print_values(r, base);
    fflush(stdout);

    statement_running = 0;
    lua_sethook(L, NULL, 0, 0);
    ln_clear_interrupt();
    /* The terminal echoed "^C" without a newline. */
    if (r->terminal && sigint_count > 0)
        fputs("\n", stderr);
    if (status != LUA_OK)
        print_error(L);
    lua_settop(L, base);
}

/* Completion -------------------------------------------------------------- */

static char **candidates;
static int candidate_count;

static void free_candidates(void)
{
    for (int i = 0; i < candidate_count; i++)
        free(candidates[i]);
    free(candidates);
    candidates = NULL;
    candidate_count = 0;
}

/* Fills candidates with lunet.repl.complete(text). */
static void find_candidates(const char *text)
{
    free_candidates();
    lua_State *L = session->L;
    if (session->helpers == LUA_NOREF)
        return;
    int top = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, session->helpers);
    lua_getfield(L, -1, "complete");
    lua_pushstring(L, text);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_istable(L, -1)) {
        int count = (int)luaL_len(L, -1);
        candidates = calloc((size_t)count, sizeof *candidates);
        for (int i = 1; candidates && i <= count; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TSTRING)
                candidates[candidate_count++] = strdup(lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_settop(L, top);
}

static char *next_candidate(const char *text, int state)
{
    static int index;
    (void)text;
    if (state == 0)
        index = 0;
    return index < candidate_count ? strdup(candidates[index++]) : NULL;
}

static char **complete(const char *text, int start, int end)
{
    (void)start;
    (void)end;
    rl_attempted_completion_over = 1; /* no file names */
    rl_completion_append_character = '\0';
    find_candidates(text);
    return rl_completion_matches(text, next_candidate);
}

/* Lists matches by their last name only: "softmax" rather than "t:softmax". */
static void display_matches(char **matches, int count, int max_length)
{
    (void)max_length;
    char **names = malloc((size_t)(count + 2) * sizeof *names);
    if (!names)
        return;
    names[0] = matches[0];
    int longest = 0;
    for (int i = 1; i <= count; i++) {
        const char *name = matches[i] + strlen(matches[i]);
        while (name > matches[i] && !strchr(".:", name[-1]))
            name--;
        names[i] = (char *)name;
        int length = (int)strlen(name);
        if (length > longest)
            longest = length;
    }
    names[count + 1] = NULL;
    rl_display_match_list(names, count, longest);
    rl_forced_update_display();
    free(names);
}

/* Session ----------------------------------------------------------------- */

static void setup_readline(repl *r)
{
    rl_readline_name = "lunet";
    rl_catch_signals = 0;
    rl_attempted_completion_function = complete;
    rl_completion_display_matches_hook = display_matches;
    /* '.' and ':' stay inside a word so "lunet.so" and "t:so" complete. */
    rl_completer_word_break_characters = " \t\n\"\\'`@$><=;|&{(}[])+-*/%^#~,";

    using_history();
    stifle_history(HISTORY_LENGTH);
    const char *home = getenv("HOME");
    if (!home || home[0] == '\0')
        return;
    size_t size = strlen(home) + sizeof "/" HISTORY_FILE;
    r->history_path = malloc(size);
    if (!r->history_path)
        return;
    snprintf(r->history_path, size, "%s/%s", home, HISTORY_FILE);
    if (read_history(r->history_path) == ENOENT)
        write_history(r->history_path);
}

static void close_readline(repl *r)
{
    if (r->history_path)
        history_truncate_file(r->history_path, HISTORY_LENGTH);
    free(r->history_path);
    free_candidates();
    rl_callback_handler_remove();
}

/* Loads lunet.repl and runs its setup (globals lunet, nn, help). A failure
 * is reported and leaves a plain Lua prompt. */
static void load_helpers(repl *r)
{
    lua_State *L = r->L;
    int base = lua_gettop(L);
    r->helpers = LUA_NOREF;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lunet.repl");
    if (protected_call(L, 1) != LUA_OK) {
        fprintf(stderr, "lunet: cannot load the REPL helpers: %s\n", lua_tostring(L, -1));
        lua_settop(L, base);
        return;
    }
    lua_settop(L, base + 1);
    if (!lua_istable(L, -1)) {
        lua_settop(L, base);
        return;
    }
    r->helpers = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_rawgeti(L, LUA_REGISTRYINDEX, r->helpers);
    lua_getfield(L, -1, "setup");
    lua_remove(L, -2);
    lua_pushboolean(L, r->terminal);
    if (protected_call(L, 1) != LUA_OK)
        print_error(L);
}

int lunet_repl(lua_State *L)
{
    repl r = {.L = L, .terminal = isatty(STDIN_FILENO), .helpers = LUA_NOREF};
    session = &r;
    main_thread = pthread_self();
    lua_settop(L, 0);

    load_helpers(&r);
    lua_settop(L, 0);
    if (r.terminal)
        setup_readline(&r);
    struct sigaction previous_sigint;
    set_sigint_handler(on_sigint, &previous_sigint);

    for (;;) {
        bool print = false;
        statement_status status = read_statement(&r, &print);
        if (status == STATEMENT_EOF)
            break;
        if (status == STATEMENT_READY)
            run_statement(&r, print);
        else if (status == STATEMENT_ERROR)
            print_error(L);
    }
    fputs("\n", stdout);
    fflush(stdout);

    sigaction(SIGINT, &previous_sigint, NULL);
    if (r.terminal)
        close_readline(&r);
    if (r.helpers != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, r.helpers);
    session = NULL;
    return EXIT_SUCCESS;
}
