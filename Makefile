# SPDX-License-Identifier: MIT
# memlimit: `make` builds build/libmemlimit.so. See README.md.
PREFIX  ?= /usr/local
DESTDIR ?=
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
PCDIR   ?= $(LIBDIR)/pkgconfig
LIBEXECDIR ?= $(PREFIX)/libexec
MANDIR  ?= $(PREFIX)/share/man
# the release: the VERSION file alone (soname, file names, memlimit_version(), the
# metrics' build_info, memlimit.pc, memlimit-run --version, the Debian packages)
VERSION := $(shell cat VERSION)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))

CC      ?= cc
CXX     ?= c++
B       := build
WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
# CPPFLAGS and LDFLAGS as the distributions pass them (dpkg-buildflags: fortify, relro)
CPPFLAGS ?=
LDFLAGS  ?=
VERDEF  := -DML_VERSION='"$(VERSION)"'
BASE    := -std=gnu11 $(WARN) -D_GNU_SOURCE $(VERDEF) -fPIC -fvisibility=hidden
# the interposed entry points must not be "optimised" into calls to themselves,
# and C++ exceptions must unwind through them
PRELOAD_FLAGS := -fno-builtin -fexceptions -ftls-model=initial-exec
# the glibc floor (make check-abi): no symbol version past GLIBC_2.17 in the library or
# memlimit-show, whatever glibc builds them (src/glibc_floor.h says how). The old
# versions of pthread_* and dl* live in libpthread.so.0 and libdl.so.2 before glibc
# 2.34, and in libc.so.6 too from then on. memlimit-show names both (-ldl finds only
# an empty libdl.a from 2.34 on); the library, built on 2.34 or later, names neither:
# every exec would load the two stubs (its references to them are weak).
FLOOR      := -include src/glibc_floor.h
FLOOR_LIBS := -Wl,--no-as-needed -l:libdl.so.2 -l:libpthread.so.0 -Wl,--as-needed
GLIBC_APART := $(shell printf '\043include <features.h>\n\043if defined __GLIBC__ && __GLIBC_MINOR__ < 34\napart\n\043endif\n' | $(CC) -E -P -x c - 2> /dev/null | grep -c apart)
LIB_LIBS   := $(if $(filter 0,$(GLIBC_APART)),,$(FLOOR_LIBS))
FLOOR_START := -Wl,--wrap=__libc_start_main

.DEFAULT_GOAL := all

# make MUSL=1: the library and memlimit-show for musl (Alpine) with Debian's musl-gcc,
# in build-musl/ (docs/musl.md). A compiler that targets musl itself (Alpine's cc) is
# taken as it is. musl has no symbol versions: no floor to keep.
NATIVE_MUSL := $(findstring musl,$(shell $(CC) -dumpmachine 2> /dev/null))
ifeq ($(MUSL),1)
B           := build-musl
ifeq ($(NATIVE_MUSL),)
CC          := musl-gcc
# musl-gcc leaves /usr/include out; the kernel's own headers (linux/futex.h) are
# libc-neutral, so they come from there
MUSL_KH     := $(B)/kernel-headers
MULTIARCH   := $(shell gcc -dumpmachine)
BASE        += -isystem $(MUSL_KH)
$(MUSL_KH):
	mkdir -p $@
	ln -sfn /usr/include/linux $@/linux
	ln -sfn /usr/include/asm-generic $@/asm-generic
	ln -sfn /usr/include/$(MULTIARCH)/asm $@/asm
endif
endif
ifneq ($(MUSL)$(NATIVE_MUSL),)
FLOOR_LIBS  :=
LIB_LIBS    :=
FLOOR_START :=
endif

CORE_SRC    := $(wildcard src/*.c)
PRELOAD_SRC := $(wildcard preload/*.c)
CORE_OBJ    := $(CORE_SRC:%.c=$(B)/%.o)
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(B)/%.o)
LIB         := $(B)/libmemlimit.so
LIBFILE     := $(B)/libmemlimit.so.$(VERSION)
PC          := $(B)/memlimit.pc
SHOW        := $(B)/memlimit-show

UNIT_SRC  := $(wildcard tests/unit/*.c)
WORK_C    := $(wildcard tests/work/*.c)
WORK_CXX  := $(wildcard tests/work/*.cpp)
WORK_BIN  := $(WORK_C:tests/work/%.c=$(B)/work/%) $(WORK_CXX:tests/work/%.cpp=$(B)/work/%) \
  $(B)/work/profsites-plain

.PHONY: all test unit integration check-symbols check-docs check-abi deb check-deb check-container check-oldglibc demo deps install uninstall bench bench-protect clean format check-real check-apps check-v2 sanitize fuzz bindings
all: $(LIB) $(SHOW) $(PC)

$(B)/src/%.o: src/%.c $(wildcard src/*.h) VERSION | $(MUSL_KH)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(FLOOR) $(CFLAGS) $(CPPFLAGS) -ftls-model=initial-exec -c $< -o $@

$(B)/preload/%.o: preload/%.c $(wildcard src/*.h preload/*.h) | $(MUSL_KH)
	@mkdir -p $(@D)
	$(CC) $(BASE) $(FLOOR) $(CFLAGS) $(CPPFLAGS) $(PRELOAD_FLAGS) -c $< -o $@

# -z nodelete: dlclose must never unmap code the memlimit thread is running.
# preload/cold.ld: the large buffers after the small variables (src/cold.h).
# No -lm: every preloaded process would load libm.so.6 (src/fmath.c instead); -z defs
# makes a symbol left for the program to provide (a libm call, say) a link error.
# The file is libmemlimit.so.VERSION; build/libmemlimit.so (what the tests and docs
# preload) and the soname are links to it, as installed.
$(LIB): $(CORE_OBJ) $(PRELOAD_OBJ) preload/exports.map preload/cold.ld
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libmemlimit.so.$(SOMAJOR) -Wl,--version-script=preload/exports.map \
	  -Wl,-T,preload/cold.ld \
	  -Wl,-z,now -Wl,-z,relro -Wl,-z,nodelete -Wl,-z,defs -o $(LIBFILE) $(CORE_OBJ) $(PRELOAD_OBJ) \
	  $(LIB_LIBS)
	ln -sf libmemlimit.so.$(VERSION) $(B)/libmemlimit.so.$(SOMAJOR)
	ln -sf libmemlimit.so.$(VERSION) $@

# memlimit-run --show: the core's own discovery and derivation, in a program
$(SHOW): scripts/memlimit-show.c scripts/glibc_start.c scripts/preflight.c scripts/preflight.h \
	  $(CORE_SRC) $(wildcard src/*.h) VERSION | $(MUSL_KH)
	$(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE $(VERDEF) $(FLOOR) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) -Isrc \
	  $(if $(MUSL_KH),-isystem $(MUSL_KH)) \
	  -o $@ $< scripts/glibc_start.c scripts/preflight.c \
	  $(CORE_SRC) $(FLOOR_START) $(FLOOR_LIBS)

# unit tests: the core alone, no interposition (-lm: test_fmath compares with libm)
$(B)/unit-tests: $(UNIT_SRC) $(CORE_SRC) $(wildcard src/*.h) VERSION
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE $(VERDEF) $(FLOOR) $(CFLAGS) -Isrc -o $@ $(UNIT_SRC) $(CORE_SRC) \
	  -lcriterion -ldl -lpthread -lm

# workloads call the allocator for real: no builtin folding of malloc/free pairs
$(B)/work/%: tests/work/%.c tests/work/check.h tests/work/logwait.h $(LIB)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE -O2 -g -fno-builtin -Isrc -rdynamic -o $@ $< -lpthread -ldl

# profsites as most programs are linked, without -rdynamic: its sites are named from
# its .symtab (t_profile_names)
$(B)/work/profsites-plain: tests/work/profsites.c $(LIB)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE -O2 -g -fno-builtin -Isrc -o $@ $< -lpthread -ldl

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

# the options, metrics, functions and memlimit-run options against the man pages, the
# docs/configuration.md and docs/operators.md, both ways; the man pages render without warnings
check-docs:
	scripts/check-docs

# no glibc symbol version past 2.17 in the library or memlimit-show (src/glibc_floor.h)
check-abi: $(LIB) $(SHOW)
	scripts/check-abi

# the Python, Rust and Go bindings alone (tests/integration/t_bind_*.sh; part of make test)
bindings: deps $(LIB)
	ONLY=t_bind tests/integration/run

test: deps
	$(MAKE) --no-print-directory check-symbols
	$(MAKE) --no-print-directory check-docs
	$(MAKE) --no-print-directory check-abi
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration

# unmodified Debian programs, with and without the library (tests/real/run)
check-real: deps $(LIB)
	@scripts/deps real
	tests/real/run

# real programs (tests/apps) bare, with MALLOC_ARENA_MAX=2 and with the library's
# defaults, in memory limits; table in build/apps/table.md (docs/real-programs.md)
check-apps: deps $(LIB) $(WORK_BIN)
	@scripts/deps real
	tests/apps/run

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

# Debian packages libmemlimit0, libmemlimit-dev, memlimit-tools under build/deb/
# (scripts/deb: dpkg-buildpackage, then lintian); check-deb installs, tries and
# purges them (scripts/check-deb; in CI)
deb: deps
	scripts/deb

# a skip (not root, or the packages already installed here) fails only in CI
check-deb: deb
	scripts/check-deb || { rc=$$?; [ $$rc = 77 ] && [ "$${CI:-}" != true ]; }

# the glibc floor at run time: the library and memlimit-show in a Debian 11 chroot
# (glibc 2.31; scripts/check-oldglibc)
check-oldglibc: deps $(LIB) $(SHOW)
	scripts/check-oldglibc

# docs/operators.md's Dockerfile, its steps run in debootstrap chroots (no container
# engine here; scripts/check-container says what is and is not emulated)
check-container: deps
	scripts/check-container

# three workloads without memlimit, with MALLOC_ARENA_MAX=2 and with memlimit, in a
# 192 MiB cgroup (scripts/demo, docs/demo.md); installs gnuplot for its charts, nothing
# else (no compiler, Go or Rust: scripts/deps demo)
DEMO_BIN := $(addprefix $(B)/work/,fragment holes cacheapp cgwatch)
demo: $(LIB) $(DEMO_BIN)
	@scripts/deps demo || echo "demo: gnuplot is missing: no charts"
	scripts/demo

bench: deps $(LIB) $(WORK_BIN)
	scripts/bench

# the protection table of docs/benchmarks.md: seven workloads that the kernel kills in
# their cgroup without the library, at default settings, idle, beside two busy loops and
# in half a core; kills, peak, reaction time and wall time (scripts/bench-protect; RUNS)
bench-protect: deps $(LIB) $(WORK_BIN)
	scripts/bench-protect

SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCDIR@|$(INCDIR)|g' \
	  -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@VERSION@|$(VERSION)|g'
INSTALLED = $(LIBDIR)/libmemlimit.so.$(VERSION) $(LIBDIR)/libmemlimit.so.$(SOMAJOR) \
	  $(LIBDIR)/libmemlimit.so $(INCDIR)/memlimit.h $(PCDIR)/memlimit.pc $(BINDIR)/memlimit-run \
	  $(BINDIR)/memlimit-plot $(LIBEXECDIR)/memlimit/memlimit-show $(MANDIR)/man7/memlimit.7 \
	  $(MANDIR)/man3/memlimit.3 $(MANDIR)/man1/memlimit-run.1 $(MANDIR)/man1/memlimit-plot.1

$(PC): memlimit.pc.in VERSION
	@mkdir -p $(@D)
	$(SUBST) memlimit.pc.in > $@

install: $(LIB) $(SHOW) $(PC)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PCDIR) \
	  $(DESTDIR)$(LIBEXECDIR)/memlimit $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3 \
	  $(DESTDIR)$(MANDIR)/man7
	install -m 0755 $(LIBFILE) $(DESTDIR)$(LIBDIR)/libmemlimit.so.$(VERSION)
	ln -sf libmemlimit.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libmemlimit.so.$(SOMAJOR)
	ln -sf libmemlimit.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libmemlimit.so
	install -m 0644 src/memlimit.h $(DESTDIR)$(INCDIR)/memlimit.h
	$(SUBST) memlimit.pc.in > $(DESTDIR)$(PCDIR)/memlimit.pc
	$(SUBST) scripts/memlimit-run > $(DESTDIR)$(BINDIR)/memlimit-run
	chmod 0755 $(DESTDIR)$(BINDIR)/memlimit-run
	install -m 0755 scripts/memlimit-plot $(DESTDIR)$(BINDIR)/memlimit-plot
	install -m 0755 $(SHOW) $(DESTDIR)$(LIBEXECDIR)/memlimit/memlimit-show
	install -m 0644 man/memlimit.7 $(DESTDIR)$(MANDIR)/man7/memlimit.7
	install -m 0644 man/memlimit.3 $(DESTDIR)$(MANDIR)/man3/memlimit.3
	install -m 0644 man/memlimit-run.1 man/memlimit-plot.1 $(DESTDIR)$(MANDIR)/man1/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(LIBEXECDIR)/memlimit 2>/dev/null

format:
	clang-format -i src/*.[ch] preload/*.[ch] scripts/*.c tests/unit/*.c tests/unit/shim/*.c tests/unit/shim/criterion/*.h tests/fuzz/*.[ch] tests/work/*.c tests/work/*.cpp tests/work/musl/*.c

clean:
	rm -rf $(B) build-musl
