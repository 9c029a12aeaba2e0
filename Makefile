# memlimit: `make` builds build/libmemlimit.so. See README.md.
PREFIX  ?= /usr/local
DESTDIR ?=
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
PCDIR   ?= $(LIBDIR)/pkgconfig
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR  ?= $(PREFIX)/share/man
VERSION := 0.1.0
SOMAJOR := 0

CC      ?= cc
CXX     ?= c++
B       := build
WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
BASE    := -std=gnu11 $(WARN) -D_GNU_SOURCE -fPIC -fvisibility=hidden
# the interposed entry points must not be "optimised" into calls to themselves,
# and C++ exceptions must unwind through them
PRELOAD_FLAGS := -fno-builtin -fexceptions -ftls-model=initial-exec

CORE_SRC    := $(wildcard src/*.c)
PRELOAD_SRC := $(wildcard preload/*.c)
CORE_OBJ    := $(CORE_SRC:%.c=$(B)/%.o)
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(B)/%.o)
LIB         := $(B)/libmemlimit.so
SHOW        := $(B)/memlimit-show

UNIT_SRC  := $(wildcard tests/unit/*.c)
WORK_C    := $(wildcard tests/work/*.c)
WORK_CXX  := $(wildcard tests/work/*.cpp)
WORK_BIN  := $(WORK_C:tests/work/%.c=$(B)/work/%) $(WORK_CXX:tests/work/%.cpp=$(B)/work/%)

.PHONY: all test unit integration check-symbols demo deps install uninstall bench clean format check-real check-v2 sanitize fuzz bindings
all: $(LIB) $(SHOW)

$(B)/src/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) -ftls-model=initial-exec -c $< -o $@

$(B)/preload/%.o: preload/%.c $(wildcard src/*.h preload/*.h)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(CFLAGS) $(PRELOAD_FLAGS) -c $< -o $@

# -z nodelete: dlclose must never unmap code the memlimit thread is running.
# No -lm: every preloaded process would load libm.so.6 (src/fmath.c instead); -z defs
# makes a symbol left for the program to provide (a libm call, say) a link error.
$(LIB): $(CORE_OBJ) $(PRELOAD_OBJ) preload/exports.map
	$(CC) -shared -Wl,-soname,libmemlimit.so.$(SOMAJOR) -Wl,--version-script=preload/exports.map \
	  -Wl,-z,now -Wl,-z,relro -Wl,-z,nodelete -Wl,-z,defs -o $@ $(CORE_OBJ) $(PRELOAD_OBJ) -ldl -lpthread
	ln -sf libmemlimit.so $(B)/libmemlimit.so.$(SOMAJOR)

# memlimit-run --show: the core's own discovery and derivation, in a program
$(SHOW): scripts/memlimit-show.c $(CORE_SRC) $(wildcard src/*.h)
	$(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE $(CFLAGS) -Isrc -o $@ $< $(CORE_SRC) -ldl -lpthread

# unit tests: the core alone, no interposition (-lm: test_fmath compares with libm)
$(B)/unit-tests: $(UNIT_SRC) $(CORE_SRC) $(wildcard src/*.h)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE $(CFLAGS) -Isrc -o $@ $(UNIT_SRC) $(CORE_SRC) \
	  -lcriterion -ldl -lpthread -lm

# workloads call the allocator for real: no builtin folding of malloc/free pairs
$(B)/work/%: tests/work/%.c tests/work/check.h $(LIB)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE -O2 -g -fno-builtin -Isrc -rdynamic -o $@ $< -lpthread -ldl

$(B)/work/%: tests/work/%.cpp tests/work/check.h $(LIB)
	@mkdir -p $(@D)
	$(CXX) -std=gnu++17 $(WARN) -O2 -g -fno-builtin -Isrc -rdynamic -o $@ $< -lpthread -ldl

deps:
	@scripts/deps

unit: deps $(B)/unit-tests
	$(B)/unit-tests --jobs 2

integration: deps $(LIB) $(SHOW) $(WORK_BIN)
	tests/integration/run

# the exports against preload/exports.map and cxx_names.h; no src/ -> preload/ call
check-symbols: $(LIB)
	scripts/check-symbols

# the Python, Rust and Go bindings alone (tests/integration/t_bind_*.sh; part of make test)
bindings: deps $(LIB)
	ONLY=t_bind tests/integration/run

test: deps
	$(MAKE) --no-print-directory check-symbols
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration

# unmodified Debian programs, with and without the library (tests/real/run)
check-real: deps $(LIB)
	@scripts/deps real
	tests/real/run

# the protection cases on a real cgroup v2 kernel under QEMU, per THP mode (scripts/check-v2)
$(B)/v2/nsrun: tests/v2/nsrun.c
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -O2 -o $@ $<

check-v2: deps $(LIB) $(SHOW) $(WORK_BIN) $(B)/v2/nsrun
	@scripts/deps v2
	scripts/check-v2

# ASan+UBSan and TSan on the unit tests, valgrind on workloads (scripts/sanitize)
sanitize: deps $(LIB) $(WORK_BIN)
	scripts/sanitize

# libFuzzer targets for the parsers, FUZZ_SECONDS each (default 60; scripts/fuzz)
fuzz: deps
	scripts/fuzz

demo: deps $(LIB) $(SHOW) $(WORK_BIN)
	scripts/demo

bench: deps $(LIB) $(WORK_BIN)
	scripts/bench

SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCDIR@|$(INCDIR)|g' \
	  -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@VERSION@|$(VERSION)|g'
INSTALLED = $(LIBDIR)/libmemlimit.so.$(VERSION) $(LIBDIR)/libmemlimit.so.$(SOMAJOR) \
	  $(LIBDIR)/libmemlimit.so $(INCDIR)/memlimit.h $(PCDIR)/memlimit.pc $(BINDIR)/memlimit-run \
	  $(BINDIR)/memlimit-plot $(LIBEXECDIR)/memlimit/memlimit-show $(MANDIR)/man7/memlimit.7 \
	  $(MANDIR)/man1/memlimit-run.1 $(MANDIR)/man1/memlimit-plot.1

install: $(LIB) $(SHOW)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PCDIR) \
	  $(DESTDIR)$(LIBEXECDIR)/memlimit $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(LIB) $(DESTDIR)$(LIBDIR)/libmemlimit.so.$(VERSION)
	ln -sf libmemlimit.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmemlimit.so.$(SOMAJOR)
	ln -sf libmemlimit.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libmemlimit.so
	install -m 0644 src/memlimit.h $(DESTDIR)$(INCDIR)/memlimit.h
	$(SUBST) memlimit.pc.in > $(DESTDIR)$(PCDIR)/memlimit.pc
	$(SUBST) scripts/memlimit-run > $(DESTDIR)$(BINDIR)/memlimit-run
	chmod 0755 $(DESTDIR)$(BINDIR)/memlimit-run
	install -m 0755 scripts/memlimit-plot $(DESTDIR)$(BINDIR)/memlimit-plot
	install -m 0755 $(SHOW) $(DESTDIR)$(LIBEXECDIR)/memlimit/memlimit-show
	install -m 0644 man/memlimit.7 $(DESTDIR)$(MANDIR)/man7/memlimit.7
	install -m 0644 man/memlimit-run.1 man/memlimit-plot.1 $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(LIBEXECDIR)/memlimit 2>/dev/null

format:
	clang-format -i src/*.[ch] preload/*.[ch] scripts/*.c tests/unit/*.c tests/unit/shim/*.c tests/unit/shim/criterion/*.h tests/fuzz/*.[ch] tests/work/*.c tests/work/*.cpp

clean:
	rm -rf $(B)
