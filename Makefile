# Backchannel - GNU make, pkg-config, no configure step.
#
#   make              build the library, backchanneld, backchannel, tools
#   make check        build and run every test (prints "N passed, N failed")
#   make demo         run the local demo (relay on 127.0.0.1, SQLite)
#   make bench        run the relay load benchmark
#   make fuzz         build the libFuzzer targets (clang) and run each briefly
#   make install      install under $(DESTDIR)$(PREFIX)
#   make SAN=1 check  the same tests under AddressSanitizer + UBSan
#   make valgrind     unit tests under valgrind (memcheck, leak check)
#   make noise-vectors VECTORS=FILE   run a cacophony-format Noise vector file
#
# Missing build dependencies are installed by scripts/install-deps when run
# as root; otherwise the exact command to run is printed.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/backchannel

CC         ?= cc
WERROR     ?=
SAN        ?=
O          ?= 2

PKGS      := libsodium sqlite3 libuv
TEST_PKGS := cmocka

ifeq ($(SAN),1)
  BUILD    ?= build-san
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  O        := 1
else
  BUILD    ?= build
  SANFLAGS :=
endif

# pkg-config is queried lazily (after the deps check) and only once.
pkgcflags = $(eval _pc_cflags := $$(shell pkg-config --cflags $(PKGS) $(TEST_PKGS) 2>/dev/null))$(_pc_cflags)
pkglibs   = $(eval _pc_libs := $$(shell pkg-config --libs $(PKGS) 2>/dev/null))$(_pc_libs)
testlibs  = $(eval _pc_tlibs := $$(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null))$(_pc_tlibs)

WARN    := -Wall -Wextra -Wconversion -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla \
           -Wno-missing-field-initializers
CSTD    := -std=gnu11
ifeq ($(WERROR),1)
  WARN  += -Werror
endif
ALL_CFLAGS = $(CSTD) -O$(O) -g $(WARN) $(SANFLAGS) -D_FORTIFY_SOURCE=2 \
             -fstack-protector-strong -fPIC -Iinclude -Ilib -Irelay \
             -DBC_VERSION=\"$(VERSION)\" $(pkgcflags) $(CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SANFLAGS) -Wl,-z,relro,-z,now $(LDFLAGS)

LIB_SRC    := $(sort $(wildcard lib/*.c))
RELAY_SRC  := $(filter-out relay/main.c,$(sort $(wildcard relay/*.c)))
CLI_SRC    := $(sort $(wildcard cli/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
INTEG_SRC  := $(sort $(wildcard tests/integration/test_*.c))
THARN_SRC  := $(sort $(wildcard tests/integration/harness*.c))
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
RELAY_OBJ  := $(RELAY_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ    := $(CLI_SRC:%.c=$(BUILD)/%.o)
THARN_OBJ  := $(THARN_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   := $(UNIT_SRC:%.c=$(BUILD)/%)
INTEG_BIN  := $(INTEG_SRC:%.c=$(BUILD)/%)
LIBA       := $(BUILD)/libbackchannel.a
RELAYA     := $(BUILD)/librelay.a
RELAYD     := $(BUILD)/backchanneld
CLI        := $(BUILD)/backchannel
NOISEVEC   := $(BUILD)/tests/noise-vectors
LOADGEN    := $(BUILD)/relay-load
PROGS      := $(RELAYD) $(CLI) $(if $(wildcard bench/relay-load.c),$(LOADGEN))

.PHONY: FORCE all deps check test-bin demo bench fuzz fuzz-build install uninstall \
        clean valgrind noise-vectors format help

all: $(PROGS) $(NOISEVEC)

help:
	@sed -n '3,16p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@scripts/install-deps --check-or-install

# Objects depend on the flags they were built with: WERROR=1 or another
# CFLAGS on an existing build dir rebuilds everything.
FLAGS_STAMP := $(BUILD)/.flags
$(FLAGS_STAMP): FORCE | deps
	@mkdir -p $(@D)
	@echo '$(CC) $(ALL_CFLAGS)' | cmp -s - $@ || echo '$(CC) $(ALL_CFLAGS)' >$@

$(BUILD)/%.o: %.c $(FLAGS_STAMP) | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(RELAYA): $(RELAY_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(RELAYD): $(BUILD)/relay/main.o $(RELAYA) $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(pkglibs)

$(CLI): $(CLI_OBJ) $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(pkglibs)

$(LOADGEN): $(BUILD)/bench/relay-load.o $(LIBA)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(pkglibs) -lm

$(NOISEVEC): $(BUILD)/tests/vectors/noise_vectors.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(pkglibs)

$(BUILD)/tests/unit/test_%: $(BUILD)/tests/unit/test_%.o $(RELAYA) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(testlibs) $(pkglibs) -lpthread

$(BUILD)/tests/integration/test_%: $(BUILD)/tests/integration/test_%.o $(THARN_OBJ) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(testlibs) $(pkglibs) -lpthread

test-bin: $(PROGS) $(NOISEVEC) $(UNIT_BIN) $(INTEG_BIN)

# The test runner runs every unit test, the Noise vectors and every
# integration test, and ends with "N passed, N failed".
check: test-bin
	@BUILD=$(BUILD) tests/run

noise-vectors: $(NOISEVEC)
	@$(NOISEVEC) $(or $(VECTORS),../shared/vectors/noise/cacophony.json)

valgrind: test-bin
	@BUILD=$(BUILD) VALGRIND=1 tests/run --unit-only

demo: $(RELAYD) $(CLI)
	@BUILD=$(BUILD) scripts/demo

bench: $(RELAYD) $(LOADGEN)
	@BUILD=$(BUILD) bench/run $(if $(QUICK),--quick)

# ---- fuzzing (clang + libFuzzer) -----------------------------------------
FUZZ_BUILD  ?= build-fuzz
FUZZ_CC     ?= clang
FUZZ_FLAGS  := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIBOBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BIN    := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_SECONDS ?= 30

$(FUZZ_BUILD)/%.o: %.c | deps
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=gnu11 -O1 -g $(FUZZ_FLAGS) -Iinclude -Ilib -Irelay -DBC_FUZZING=1 $(pkgcflags) -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_LIBOBJ)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(pkglibs)

fuzz-build: $(FUZZ_BIN)

fuzz: fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/run-fuzz

# ---- install -------------------------------------------------------------
install: $(RELAYD) $(CLI) $(LIBA)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/backchannel $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/backchannel
	install -m 0755 $(RELAYD) $(DESTDIR)$(SBINDIR)/backchanneld
	install -m 0644 $(LIBA) $(DESTDIR)$(LIBDIR)/libbackchannel.a
	install -m 0644 include/backchannel/*.h $(DESTDIR)$(INCLUDEDIR)/backchannel/
	for m in docs/man/*.1; do [ -f "$$m" ] && install -m 0644 "$$m" $(DESTDIR)$(MANDIR)/man1/ || true; done
	for m in docs/man/*.8; do [ -f "$$m" ] && install -m 0644 "$$m" $(DESTDIR)$(MANDIR)/man8/ || true; done
	sed 's|@SBINDIR@|$(SBINDIR)|g' relay/backchanneld.service.in > $(DESTDIR)$(UNITDIR)/backchanneld.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/backchanneld.service
	install -d $(DESTDIR)$(DOCDIR)
	install -m 0644 relay/backchanneld.conf.example docs/DEPLOY.md LICENSE $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/backchannel $(DESTDIR)$(SBINDIR)/backchanneld \
	  $(DESTDIR)$(LIBDIR)/libbackchannel.a $(DESTDIR)$(UNITDIR)/backchanneld.service
	rm -rf $(DESTDIR)$(INCLUDEDIR)/backchannel $(DESTDIR)$(DOCDIR)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san build-fuzz

# Keep objects that pattern rules chain through (test_*.o, build-fuzz/*.o).
.SECONDARY:

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
