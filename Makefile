# Makefile: `make` builds the product (librekey, bin/rekeyctl: no libmicrohttpd or gnutls needed);
# `make sandbox` the test control plane (bin/rekey-sandbox); `make check` builds both under ASan/UBSan
# with failpoints and runs every test; `make deps` installs the Debian packages the build and tests need.
PREFIX ?= /usr/local
DESTDIR ?=
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

BUILD ?= build/rel
SAN ?= 0
PKGS := yaml-0.1 jansson libcurl sqlite3 libcrypto libssl libsodium
SANDBOX_PKGS := libmicrohttpd gnutls
TEST_PKGS := check

# Debian packages: build, tests (etcd; tmux: a real terminal for `status --watch`; zsh, man-db: the
# installed completion and manual page), lint. kubectl and the real control plane come from `make realcp`.
DEB_PKGS := build-essential pkg-config libyaml-dev libjansson-dev libcurl4-openssl-dev libsqlite3-dev \
	libssl-dev libsodium-dev libmicrohttpd-dev libgnutls28-dev check libsubunit-dev etcd-server etcd-client \
	sqlite3 openssl curl procps tzdata jq python3 cppcheck clang-format clang libclang-rt-14-dev nodejs openssh-server time tmux zsh man-db

CC ?= cc
OPT := -O2
ifeq ($(SAN),1)
OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
# Crash points for the kill -9 tests (include/rekey/failpoint.h): in the test build only.
FAILPOINTS ?= $(SAN)
FAILPOINT_CFLAGS := $(if $(filter 1,$(FAILPOINTS)),-DREKEY_FAILPOINTS)
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) $(FAILPOINT_CFLAGS) -Iinclude -I$(BUILD)/gen \
	-DREKEY_VERSION='"$(VERSION)"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS)) -lpthread -lm
ALL_CFLAGS = $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
LINK = $(CC) $(OPT) $(LDFLAGS)

LIB_SRCS := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRCS := $(sort $(wildcard src/cli/*.c))
SANDBOX_SRCS := $(sort $(wildcard tests/sandbox/*.c tests/sandbox/*/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
MIGRATIONS := $(sort $(wildcard migrations/*.sql))

GEN_SRCS := $(BUILD)/gen/migrations_data.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations_data.o
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
SANDBOX_OBJS := $(SANDBOX_SRCS:%.c=$(BUILD)/%.o)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/unit/main.o $(BUILD)/tests/unit/testutil.o

LIBREKEY := $(BUILD)/librekey.a
REKEYCTL := $(BUILD)/bin/rekeyctl
SANDBOX := $(BUILD)/bin/rekey-sandbox
UNIT := $(BUILD)/bin/unit-tests
# Programs the end-to-end scenarios drive librekey with (tests/e2e/tools/<name>.c -> bin/e2e-<name>).
E2E_TOOLS := $(BUILD)/bin/e2e-grpc_call $(BUILD)/bin/e2e-scan_pages

.PHONY: all product sandbox deps check check-build run-tests demo bench install clean lint fuzz
all: product
	@mkdir -p bin
	@cp -f $(REKEYCTL) bin/rekeyctl

product: $(LIBREKEY) $(REKEYCTL)

sandbox: $(SANDBOX)
	@mkdir -p bin
	@cp -f $(SANDBOX) bin/rekey-sandbox

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/sandbox/%.o: tests/sandbox/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/sandbox $(shell pkg-config --cflags $(SANDBOX_PKGS)) -MMD -MP -c $< -o $@

$(BUILD)/tests/unit/%.o: tests/unit/%.c $(BUILD)/gen/suites.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(shell pkg-config --cflags $(TEST_PKGS)) -MMD -MP -c $< -o $@

$(BUILD)/gen/migrations_data.c: $(MIGRATIONS) tools/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh tools/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/migrations_data.o: $(BUILD)/gen/migrations_data.c
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/gen/suites.h: $(UNIT_SRCS)
	@mkdir -p $(dir $@)
	sed -n 's/^Suite \*\([a-z0-9_]*\)_suite(void)$$/RK_SUITE(\1)/p' $(UNIT_SRCS) > $@.tmp && mv $@.tmp $@

$(LIBREKEY): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(REKEYCTL): $(CLI_OBJS) $(LIBREKEY)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $(CLI_OBJS) $(LIBREKEY) $(PKG_LIBS)

$(SANDBOX): $(SANDBOX_OBJS) $(LIBREKEY)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $(SANDBOX_OBJS) $(LIBREKEY) $(shell pkg-config --libs $(SANDBOX_PKGS)) $(PKG_LIBS)

$(UNIT): $(UNIT_OBJS) $(LIBREKEY)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $(UNIT_OBJS) $(LIBREKEY) $(shell pkg-config --libs $(TEST_PKGS)) $(PKG_LIBS)

$(BUILD)/bin/e2e-%: $(BUILD)/tests/e2e/tools/%.o $(LIBREKEY)
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $< $(LIBREKEY) $(PKG_LIBS)

deps:
	@sh tools/deps.sh $(DEB_PKGS)

# Tests: unit suites (Check) and end-to-end scenarios, all built with ASan, UBSan and failpoints; the
# release build too, for the check that it has no failpoints (tests/e2e/05_release_build.sh). The
# scenarios marked for it also run on the real kube-apiserver and etcd, which `make realcp` builds
# first (Go >= 1.26 and the Go module proxy; a failure stops here, it never skips).
check:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory realcp
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 check-build
	@$(MAKE) --no-print-directory BUILD=build/rel product
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 run-tests

check-build: $(REKEYCTL) $(UNIT) $(E2E_TOOLS) $(SANDBOX)

run-tests:
	@BUILD=$(BUILD) sh tests/run.sh

demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory all sandbox
	@sh examples/demo.sh

bench:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory realcp
	@$(MAKE) --no-print-directory all sandbox
	@sh tests/bench/run.sh

fuzz:
	@sh tests/fuzz/run.sh

# The real kube-apiserver, etcd and etcdctl, and the KMS v2 test plugin, built from Go modules into
# build/realcp/bin (tests/realcp).
.PHONY: realcp
realcp:
	@sh tests/realcp/build.sh

# The binary, its manual page (every command), bash and zsh completion, and the docs.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/rekeyctl \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 0755 bin/rekeyctl $(DESTDIR)$(PREFIX)/bin/rekeyctl
	install -m 0644 docs/rekeyctl.1 $(DESTDIR)$(PREFIX)/share/man/man1/rekeyctl.1
	install -m 0644 completions/rekeyctl.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/rekeyctl
	install -m 0644 completions/_rekeyctl $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_rekeyctl
	install -m 0644 README.md CHANGELOG.md $(DESTDIR)$(PREFIX)/share/doc/rekeyctl/

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
		--suppress=missingIncludeSystem -Iinclude src tests/sandbox tests/unit
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
