# lunet build. `make deps` installs Debian packages, `make` builds the core
# library, the Lua module and the lunet executable, `make test` runs the specs.

PREFIX   ?= /usr/local
LUA      ?= lua5.4
BUSTED   ?= /usr/bin/busted
CC       ?= gcc
BUILD    ?= build

# The default build runs on any x86-64 machine; NATIVE=1 tunes for this one.
OPTFLAGS ?= -O3
ifeq ($(NATIVE),1)
OPTFLAGS += -march=native
endif

LUA_CFLAGS := $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4)
LUA_LIBS   := $(shell pkg-config --libs lua5.4 2>/dev/null || echo -llua5.4)

CFLAGS  ?= $(OPTFLAGS) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -fPIC -fopenmp -Wall -Wextra -Wno-unused-parameter \
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
                   libstb-dev libreadline-dev pkg-config gcc make dataset-fashion-mnist

.PHONY: all deps test clean install uninstall

all: $(BUILD)/liblunet.a $(BUILD)/lunet/core.so lunet

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
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

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/lua/%.o: CFLAGS += $(LUA_CFLAGS)

$(BUILD)/liblunet.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/lunet/core.so: $(BIND_OBJ) $(BUILD)/liblunet.a
	@mkdir -p $(dir $@)
	$(CC) -shared -o $@ $(BIND_OBJ) $(BUILD)/liblunet.a $(LDLIBS)

lunet: $(MAIN_OBJ) $(BIND_OBJ) $(BUILD)/liblunet.a
	$(CC) -o $@ $(MAIN_OBJ) $(BIND_OBJ) $(BUILD)/liblunet.a $(LUA_LIBS) $(LDLIBS) \
	    -lreadline -Wl,-E -ldl

SPEC_ENV = LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/?.lua;;" \
           LUA_CPATH="$(CURDIR)/$(BUILD)/?.so;;" OMP_WAIT_POLICY=passive

test: deps all
	$(SPEC_ENV) $(LUA) $(BUSTED) --lpath="" -o utfTerminal spec

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
