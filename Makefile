# lunet build. `make deps` installs Debian packages, `make` builds the core
# library, the Lua module and the lunet executable, `make test` runs the specs.

PREFIX   ?= /usr/local
LUA      ?= lua5.4
BUSTED   ?= /usr/bin/busted
CC       ?= gcc
BUILD    ?= build
# Where the executable goes; the sanitizer build puts its own elsewhere.
LUNET_EXE ?= lunet

# The default build runs on any x86-64 machine; NATIVE=1 tunes for this one.
OPTFLAGS ?= -O3
ifeq ($(NATIVE),1)
OPTFLAGS += -march=native
endif

LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIBS   := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)

CFLAGS  ?= $(OPTFLAGS) -g
# SANITIZE=1 instruments everything built here with AddressSanitizer and
# UndefinedBehaviorSanitizer (see test-sanitize below).
SANITIZE_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
                  -fno-sanitize-recover=undefined
ifeq ($(SANITIZE),1)
CFLAGS  += $(SANITIZE_FLAGS)
LDLIBS  += $(SANITIZE_FLAGS)
endif
CFLAGS  += -std=c11 -D_GNU_SOURCE -fPIC -fopenmp -Wall -Wextra -Wno-unused-parameter -Wno-psabi \
           -I/usr/include/x86_64-linux-gnu/openblas-pthread -Icore
LDLIBS  += -lopenblas -lz -lm -fopenmp

CORE_SRC := $(wildcard core/*.c core/*/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
# The executable's own sources (option handling and the REPL) stay out of
# core.so, which must not depend on readline.
MAIN_SRC := lua/main.c lua/repl.c
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/%.o)
BIND_SRC := $(filter-out $(MAIN_SRC),$(wildcard lua/*.c))
BIND_OBJ := $(BIND_SRC:%.c=$(BUILD)/%.o)

DEBIAN_PACKAGES := lua5.4 liblua5.4-dev libopenblas-dev lua-busted zlib1g-dev \
                   libstb-dev libreadline-dev pkg-config gcc make dataset-fashion-mnist \
                   lua-ldoc lua-discount luarocks gnuplot-nox

.PHONY: all deps test demo clean install uninstall

all: $(BUILD)/liblunet.a $(BUILD)/lunet/core.so $(LUNET_EXE)

# Installs the Debian packages named in $(1) that are missing when run as
# root, and otherwise prints the apt-get line and fails.
define install_packages
	@missing=""; for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
	    echo "missing Debian packages; run as root:"; \
	    echo "  apt-get install$$missing"; exit 1; \
	fi
endef

deps:
	$(call install_packages,$(DEBIAN_PACKAGES))

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/lua/%.o: CFLAGS += $(LUA_CFLAGS)

$(BUILD)/liblunet.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# -z nodelete keeps core.so and so libgomp mapped when lua_close unloads the
# module: OpenMP worker threads outlive it, and a stock lua5.4 would crash at
# exit running their unmapped code.
$(BUILD)/lunet/core.so: $(BIND_OBJ) $(BUILD)/liblunet.a
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-z,nodelete -o $@ $(BIND_OBJ) $(BUILD)/liblunet.a $(LDLIBS)

$(LUNET_EXE): $(MAIN_OBJ) $(BIND_OBJ) $(BUILD)/liblunet.a
	@mkdir -p $(dir $@)
	$(CC) -o $@ $(MAIN_OBJ) $(BIND_OBJ) $(BUILD)/liblunet.a $(LUA_LIBS) $(LDLIBS) \
	    -lreadline -Wl,-E -ldl

SPEC_ENV = LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/?.lua;;" \
           LUA_CPATH="$(CURDIR)/$(BUILD)/?.so;;" OMP_WAIT_POLICY=passive

test: deps all
	$(SPEC_ENV) $(LUA) $(BUSTED) --lpath="" -o utfTerminal spec

# The main job: the shipped Fashion-MNIST network classifies test images
# from Debian's dataset-fashion-mnist package.
demo: deps all
	./lunet examples/classify.lua

# Installation -----------------------------------------------------------------
# `make install PREFIX=DIR` puts the module where a stock lua5.4 finds it:
# core.so under DIR/lib/lua/5.4/lunet, the Lua files (with the models as
# lunet.models.X and the reference text that help() reads) under
# DIR/share/lua/5.4/lunet, and the executable in DIR/bin. LUADIR, LIBDIR and
# BINDIR move one of those folders, as the rockspec does for a luarocks
# tree; DESTDIR stages the whole layout under another root for packaging.
# `make uninstall` with the same variables removes those files again.
LUA_VERSION := 5.4
BINDIR      ?= $(PREFIX)/bin
LUADIR      ?= $(PREFIX)/share/lua/$(LUA_VERSION)
LIBDIR      ?= $(PREFIX)/lib/lua/$(LUA_VERSION)

LUA_SOURCES   := $(sort $(shell find lua/lunet -name '*.lua'))
MODEL_SOURCES := $(sort $(wildcard models/*.lua))
# Installed paths relative to LUADIR, in the order of the sources above.
LUA_INSTALLED := $(LUA_SOURCES:lua/%=%) $(MODEL_SOURCES:models/%=lunet/models/%)

install: $(BUILD)/lunet/core.so $(LUNET_EXE)
	install -d "$(DESTDIR)$(LIBDIR)/lunet" "$(DESTDIR)$(BINDIR)"
	install -m 755 $(BUILD)/lunet/core.so "$(DESTDIR)$(LIBDIR)/lunet/core.so"
	install -m 755 $(LUNET_EXE) "$(DESTDIR)$(BINDIR)/lunet"
	@set -e; for source in $(LUA_SOURCES) $(MODEL_SOURCES); do \
	    case $$source in \
	        lua/*) target=$${source#lua/} ;; \
	        models/*) target=lunet/$$source ;; \
	    esac; \
	    install -D -m 644 $$source "$(DESTDIR)$(LUADIR)/$$target"; \
	done
	@echo "installed lunet under $(DESTDIR)$(LUADIR), $(DESTDIR)$(LIBDIR) and $(DESTDIR)$(BINDIR)"

# Removes the files that install writes, then the folders under lunet/ that
# are left empty; files that someone else put there stay.
uninstall:
	rm -f "$(DESTDIR)$(LIBDIR)/lunet/core.so" "$(DESTDIR)$(BINDIR)/lunet"
	@set -e; for target in $(LUA_INSTALLED); do rm -f "$(DESTDIR)$(LUADIR)/$$target"; done
	@for dir in $(sort $(dir $(LUA_INSTALLED:%=$(DESTDIR)$(LUADIR)/%))) \
	            $(DESTDIR)$(LIBDIR)/lunet/; do echo $$dir; done | sort -r | \
	    while read -r dir; do rmdir "$$dir" 2>/dev/null || true; done

# API reference -----------------------------------------------------------------
# `make docs` writes the HTML reference to docs/api/ (or API_DIR) with LDoc
# and config.ld. Its source is lua/lunet/doc/*.lua, the text that help()
# prints in the REPL. A warning, such as a broken reference, fails the run.
LDOC    ?= ldoc
API_DIR ?= docs/api

.PHONY: docs

# LDoc names its template directory after $HOME and fails when it is unset.
docs:
	HOME="$${HOME:-/tmp}" $(LDOC) --fatalwarnings --dir "$(API_DIR)" .

# Sanitizers -------------------------------------------------------------------
# `make test-sanitize` runs every spec under AddressSanitizer and
# UndefinedBehaviorSanitizer; `make test-leaks` runs them again with
# LeakSanitizer on. Both use one instrumented build in $(SAN_BUILD).
#
# busted runs inside the instrumented lunet executable rather than lua5.4:
# the executable links the core statically, so the ASan runtime is there
# from the start (no LD_PRELOAD) and nothing is dlclosed at exit, which
# would unmap the code of OpenMP worker threads that are still alive. The
# executable cannot sit at $(SAN_BUILD)/lunet, the folder of core.so.
# allocator_may_return_null lets the specs that ask for terabytes see a
# failed malloc, as in a normal build, instead of an ASan abort (ASan still
# prints a warning for each). Specs that start the executable read its path
# from LUNET_EXE, so those runs are instrumented too.
SAN_BUILD := $(BUILD)/sanitize
SAN_EXE   := $(SAN_BUILD)/bin/lunet
SAN_SPEC_ENV = LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/?.lua;;" \
               LUA_CPATH="$(CURDIR)/$(SAN_BUILD)/?.so;;" OMP_WAIT_POLICY=passive \
               UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 LUNET_EXE=$(CURDIR)/$(SAN_EXE)
SAN_ASAN  := allocator_may_return_null=1:check_initialization_order=1
SAN_BUSTED = $(SAN_EXE) $(BUSTED) --lpath="" -o utfTerminal spec

.PHONY: sanitize test-sanitize test-leaks

# The links let the instrumented executable find lua/ and models/ beside
# itself, as ./lunet does, so it runs scripts and the REPL from anywhere.
sanitize:
	$(MAKE) --no-print-directory SANITIZE=1 OPTFLAGS=-O1 BUILD=$(SAN_BUILD) \
	    LUNET_EXE=$(SAN_EXE) $(SAN_BUILD)/lunet/core.so $(SAN_EXE)
	ln -sfn $(CURDIR)/lua $(dir $(SAN_EXE))lua
	ln -sfn $(CURDIR)/models $(dir $(SAN_EXE))models

test-sanitize: deps all sanitize
	$(SAN_SPEC_ENV) ASAN_OPTIONS=$(SAN_ASAN):detect_leaks=0 $(SAN_BUSTED)

# The suppressions name third-party allocations only; see the file.
test-leaks: deps all sanitize
	$(SAN_SPEC_ENV) ASAN_OPTIONS=$(SAN_ASAN):detect_leaks=1 \
	    LSAN_OPTIONS=suppressions=$(CURDIR)/.ci/lsan.supp:print_suppressions=0 $(SAN_BUSTED)

clean:
	rm -rf $(BUILD) lunet

-include $(CORE_OBJ:.o=.d) $(BIND_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)

# Benchmark -------------------------------------------------------------------
# `make bench` times lunet against PyTorch (where /usr/bin/python3 imports
# torch) on BENCH_THREADS threads and prints one table; bench/RESULTS.md
# records a run.
BENCH_THREADS ?= 2

.PHONY: bench

$(BUILD)/bench/fma_peak: bench/fma_peak.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c11 -Wall -Wextra -fopenmp $< -o $@

bench: all $(BUILD)/bench/fma_peak
	BENCH_THREADS=$(BENCH_THREADS) ./lunet bench/bench.lua $(BUILD)/bench/fma_peak

# Fuzzing ---------------------------------------------------------------------
# libFuzzer targets for the readers of outside data, built with clang and
# Debian's libclang-rt-14-dev (and libomp-dev for the OpenMP in the core).
# `make fuzz` fuzzes each target for FUZZ_SECONDS seconds; `make fuzz-replay`
# only runs each over its committed corpus in fuzz/corpus/, which is fast.
# The fuzz build lowers the image pixel limit to stay under libFuzzer's
# 2 GB memory limit.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := safetensors json idx image
FUZZ_CFLAGS  := -g -O1 -std=c11 -D_GNU_SOURCE -fopenmp -Icore \
                -I/usr/include/x86_64-linux-gnu/openblas-pthread \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -DLN_IMAGE_MAX_PIXELS=4194304
FUZZ_SRC     := core/status.c core/tensor.c core/storage_cache.c core/apply.c core/parallel.c \
                $(wildcard core/io/*.c)
FUZZ_OBJ     := $(FUZZ_SRC:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

FUZZ_PACKAGES := clang libclang-rt-14-dev libomp-dev

.PHONY: fuzz fuzz-replay fuzz-deps

fuzz-deps:
	$(call install_packages,$(FUZZ_PACKAGES))

# Three faults of stb_image are undefined in C but harmless on the machines
# lunet runs on, so their checks are off for that file only: for an empty
# first PNG IDAT chunk it adds 0 to a NULL pointer and passes it to memcpy
# with size 0, and on corrupt JPEG data its bit count goes negative, so a
# shift count exceeds 31 (x86-64 and AArch64 take the count modulo 32, and
# the wrong bits then decode as wrong but range-checked symbols).
$(BUILD)/fuzz/obj/core/io/stb_image_impl.o: FUZZ_CFLAGS += \
    -fno-sanitize=pointer-overflow,nonnull-attribute,shift-exponent

$(FUZZ_OBJ): Makefile

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FUZZ_OBJ) -o $@ -lopenblas -lz -lm

fuzz: fuzz-deps
	$(MAKE) $(FUZZ_BIN)
	sh fuzz/run.sh fuzz $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-replay: fuzz-deps
	$(MAKE) $(FUZZ_BIN)
	sh fuzz/run.sh replay $(BUILD)/fuzz $(FUZZ_TARGETS)

-include $(FUZZ_OBJ:.o=.d)
