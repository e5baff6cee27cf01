# ollaguard: API-key authentication in front of an Ollama server.
#
#   make            build both programs into $(BUILD)/
#   make check      install missing build and test packages, run every test
#   make asan       the same tests against an ASan/UBSan build
#   make soak       load and faults for SOAK_SECONDS (300) on loopback
#   make run        install missing build packages, build, start the daemon
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX ?=	/usr/local
SBINDIR ?=	$(PREFIX)/sbin
MANDIR ?=	$(PREFIX)/share/man
SYSCONFDIR ?=	/etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=
BUILD ?=	build
PYTHON ?=	/usr/bin/python3

PKGS =		libcurl sqlite3 libbsd-overlay libmd jansson libssl libcrypto
LLHTTP_DIR ?=	/usr/share/llhttp
LLHTTP_INC ?=	/usr/share/include/llhttp

WARN =		-Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wcast-qual \
		-Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations \
		-Wformat=2 -Wformat-security -Wwrite-strings -Wundef \
		-Wno-unused-parameter
OPT ?=		-O2 -g
SAN ?=
# The packages pkg-config cannot find, by name: a missing one is then
# reported as such (see pkgcheck) rather than as a compiler error about
# some header, and the flags come only from the packages that are there.
pkgs-missing =	$(foreach p,$(1),$(if $(shell pkg-config --exists $(p) && \
		    echo y),,$(p)))
PKGS_MISSING :=	$(strip $(call pkgs-missing,$(PKGS)))
PKGS_FOUND =	$(filter-out $(PKGS_MISSING),$(PKGS))
CMOCKA_MISSING := $(strip $(call pkgs-missing,cmocka))

CFLAGS_ALL =	-std=gnu11 -D_GNU_SOURCE $(OPT) $(SAN) $(WARN) -D_FORTIFY_SOURCE=2 \
		-fstack-protector-strong -fPIE \
		-Icommon -isystem $(LLHTTP_INC) \
		$(if $(PKGS_FOUND),$(shell pkg-config --cflags $(PKGS_FOUND))) \
		$(CFLAGS)
# Each compile writes the headers it read to a .d file next to its
# output; -MP keeps a deleted header from breaking the build.
DEPFLAGS =	-MMD -MP
LDFLAGS_ALL =	$(SAN) -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS =		$(if $(PKGS_FOUND),$(shell pkg-config --libs $(PKGS_FOUND)))
CMOCKA_FLAGS =	$(if $(CMOCKA_MISSING),,$(shell pkg-config --cflags --libs cmocka))

COMMON_SRCS =	$(wildcard common/*.c)
DAEMON_SRCS =	$(wildcard ollaguardd/*.c)
KEYCTL_SRCS =	$(wildcard ollaguard-keyctl/*.c)
LLHTTP_SRCS =	api.c http.c llhttp.c
UNIT_SRCS =	$(wildcard tests/unit/test_*.c)

COMMON_OBJS =	$(COMMON_SRCS:%.c=$(BUILD)/obj/%.o)
# The admin page's files, compiled in as C arrays (see adminpage.h).
PAGE_FILES =	$(wildcard ollaguardd/page/*.html ollaguardd/page/*.css \
		    ollaguardd/page/*.js ollaguardd/page/*.svg)
DAEMON_OBJS =	$(DAEMON_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/adminfiles.o
KEYCTL_OBJS =	$(KEYCTL_SRCS:%.c=$(BUILD)/obj/%.o)
LLHTTP_OBJS =	$(LLHTTP_SRCS:%.c=$(BUILD)/obj/llhttp/%.o)
UNIT_BINS =	$(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# What building needs (make, make run), what testing adds (make check),
# and what the service's extras (unit, logrotate, fail2ban jail) use.
BUILD_PKGS =	build-essential pkg-config libcurl4-openssl-dev libsqlite3-dev \
		libbsd-dev libmd-dev libjansson-dev libssl-dev node-llhttp
TEST_PKGS =	libcmocka-dev python3-pytest curl sqlite3 valgrind prometheus \
		python3-cryptography chromium nodejs \
		openssl haproxy
# The admin page's browser tests: playwright-core, pinned in
# tests/browser/package-lock.json, drives Debian's chromium.
BROWSER_DIR =	tests/browser
# ollama-js and openai-node, pinned in tests/clients/package-lock.json,
# talk to the daemon over https.
CLIENTS_DIR =	tests/clients
SERVICE_PKGS =	systemd logrotate fail2ban
# What make deb needs besides the build packages.
DEB_PKGS =	debhelper devscripts lintian fakeroot

.PHONY: all deps deps-build deps-service deps-deb deb check unit e2e asan run install \
		uninstall clean valgrind soak pkgcheck pkgcheck-cmocka

all: $(BUILD)/ollaguardd $(BUILD)/ollaguard-keyctl

$(BUILD)/libcommon.a: $(COMMON_OBJS)
	$(AR) rcs $@ $^

# llhttp is generated code we compile in as it ships, in its strict mode
# (the default build is lenient about chunk framing and header names);
# our warning set is for our code, so it gets the plain one.
$(BUILD)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c Makefile
	@mkdir -p $(@D)
	$(CC) -std=gnu11 $(OPT) $(SAN) -fPIE -w -DLLHTTP_STRICT_MODE=1 \
	    -isystem $(LLHTTP_INC) -c -o $@ $<

$(BUILD)/obj/%.o: %.c Makefile | pkgcheck
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -c -o $@ $<

# Fails, naming each package, when pkg-config lacks one; an order-only
# prerequisite of every compile, so it runs first and rebuilds nothing.
pkgcheck:
	@for p in $(PKGS_MISSING); do \
	    echo "package $$p missing (make deps installs it)" >&2; done; \
	    test -z "$(PKGS_MISSING)"

pkgcheck-cmocka:
	@for p in $(CMOCKA_MISSING); do \
	    echo "package $$p missing (make deps installs it)" >&2; done; \
	    test -z "$(CMOCKA_MISSING)"

# embed.sh also fails the build on a page file that could load or run
# anything from elsewhere (the page's policy is default-src 'self').
$(BUILD)/gen/adminfiles.c: $(PAGE_FILES) ollaguardd/page/embed.sh
	@mkdir -p $(@D)
	sh ollaguardd/page/embed.sh $@ $(PAGE_FILES)

$(BUILD)/obj/gen/adminfiles.o: $(BUILD)/gen/adminfiles.c \
    ollaguardd/adminpage.h Makefile
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd -c -o $@ $<

$(BUILD)/ollaguardd: $(DAEMON_OBJS) $(LLHTTP_OBJS) $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(BUILD)/ollaguard-keyctl: $(KEYCTL_OBJS) $(BUILD)/libcommon.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# A unit test of common/ links libcommon; a test_daemon_* test links the
# daemon's objects too (all but its main()).  Its .d file adds the
# headers it read to $^, hence the filters.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(BUILD)/libcommon.a | \
    pkgcheck pkgcheck-cmocka
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) $(LDFLAGS_ALL) -o $@ \
	    $(filter %.c %.a,$^) $(LIBS) $(CMOCKA_FLAGS)

$(BUILD)/tests/test_daemon_%: tests/unit/test_daemon_%.c \
    $(filter-out $(BUILD)/obj/ollaguardd/main.o,$(DAEMON_OBJS)) \
    $(LLHTTP_OBJS) $(BUILD)/libcommon.a | pkgcheck pkgcheck-cmocka
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(DEPFLAGS) -Iollaguardd $(LDFLAGS_ALL) -o $@ \
	    $(filter %.c %.o %.a,$^) $(LIBS) $(CMOCKA_FLAGS)

# $(call install-pkgs,PACKAGES): installs what is missing as root, or
# prints the apt-get line and fails.
install-pkgs = missing=""; for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	    grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq $$missing; \
	else \
	    echo "missing packages; run as root:"; \
	    echo "  apt-get install -y$$missing"; exit 1; \
	fi

deps-build:
	@$(call install-pkgs,$(BUILD_PKGS))

# The tests check the service files with the service's own tools
# (systemd-analyze, logrotate, fail2ban-regex), so testing needs those too.
deps:
	@$(call install-pkgs,$(BUILD_PKGS) $(TEST_PKGS) $(SERVICE_PKGS) \
	    $(DEB_PKGS))
	@# npm comes with nodejs from some sources; Debian ships it apart.
	@command -v npm >/dev/null || { $(call install-pkgs,npm); }
	@test -d $(BROWSER_DIR)/node_modules/playwright-core || \
	    (cd $(BROWSER_DIR) && npm ci --no-audit --no-fund)
	@test -d $(CLIENTS_DIR)/node_modules/openai || \
	    (cd $(CLIENTS_DIR) && npm ci --no-audit --no-fund)

deps-deb:
	@$(call install-pkgs,$(BUILD_PKGS) $(DEB_PKGS))

# ollaguard_VERSION_ARCH.deb in $(BUILD)/deb, built from a copy of the
# tree's files (tracked, and new ones not ignored) so that nothing
# built here gets in, then checked with lintian.
DEBDIR =	$(BUILD)/deb
deb: deps-deb
	rm -rf $(DEBDIR) && mkdir -p $(DEBDIR)/src
	git ls-files -z --cached --others --exclude-standard | \
	    xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; \
	    done' sh | tar --null -T - -cf - | tar -xf - -C $(DEBDIR)/src
	cd $(DEBDIR)/src && dpkg-buildpackage -us -uc -b
	lintian --fail-on error $(DEBDIR)/*.changes

# Not needed to build or run: fail2ban enables a service of its own.
deps-service:
	@$(call install-pkgs,$(SERVICE_PKGS))

unit: all $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
	    echo "== $$t"; $$t || fail=1; done; exit $$fail

e2e: all
	OLLAGUARD_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q tests/e2e

check: deps
	$(MAKE) unit
	$(MAKE) fuzz-replay
	$(MAKE) e2e

asan: deps
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    unit fuzz-replay e2e

# Not part of check: SOAK_SECONDS (300) of load and faults on loopback.
SOAK_SECONDS ?=	300
soak: all
	OLLAGUARD_BUILD=$(abspath $(BUILD)) SOAK_SECONDS=$(SOAK_SECONDS) \
	    $(PYTHON) tests/soak/soak.py

# valgrind cannot run ASan binaries: this uses the plain build.
valgrind: deps all
	tests/valgrind/run.sh $(BUILD)

# The daemon refuses to serve as root unless told to; a quick start as
# root (where make deps-build must run) says so explicitly.
run: deps-build all
	$(BUILD)/ollaguardd $$([ "$$(id -u)" = 0 ] && echo --user root)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/ollaguard \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/init.d \
	    $(DESTDIR)$(SYSCONFDIR)/default $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
	    $(DESTDIR)$(SYSCONFDIR)/fail2ban/filter.d \
	    $(DESTDIR)$(SYSCONFDIR)/fail2ban/jail.d
	install -m 0755 $(BUILD)/ollaguardd $(BUILD)/ollaguard-keyctl \
	    $(DESTDIR)$(SBINDIR)/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	@# The service files name the binaries where this install puts them.
	for f in systemd/ollaguardd.service init.d/ollaguardd \
	    default/ollaguardd; do \
	    sed 's|/usr/local/sbin/|$(SBINDIR)/|g' etc/$$f \
	    >$(BUILD)/$$(echo $$f | tr / _); done
	install -m 0644 $(BUILD)/systemd_ollaguardd.service \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/ollaguardd.service
	install -m 0755 $(BUILD)/init.d_ollaguardd \
	    $(DESTDIR)$(SYSCONFDIR)/init.d/ollaguardd
	install -m 0644 etc/fail2ban/filter.d/ollaguard.conf \
	    $(DESTDIR)$(SYSCONFDIR)/fail2ban/filter.d/ollaguard.conf
	@# Files an operator edits are written only when missing.
	test -e $(DESTDIR)$(SYSCONFDIR)/ollaguard/ollaguard.conf || \
	    install -m 0640 etc/ollaguard.conf $(DESTDIR)$(SYSCONFDIR)/ollaguard/
	test -e $(DESTDIR)$(SYSCONFDIR)/default/ollaguardd || \
	    install -m 0640 $(BUILD)/default_ollaguardd \
	    $(DESTDIR)$(SYSCONFDIR)/default/ollaguardd
	test -e $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ollaguard || \
	    install -m 0644 etc/logrotate.d/ollaguard \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d/ollaguard
	test -e $(DESTDIR)$(SYSCONFDIR)/fail2ban/jail.d/ollaguard.conf || \
	    install -m 0644 etc/fail2ban/jail.d/ollaguard.conf \
	    $(DESTDIR)$(SYSCONFDIR)/fail2ban/jail.d/ollaguard.conf

# What an operator edited (the config, /etc/default, logrotate, the
# jail) stays, as dpkg leaves conffiles on remove.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/ollaguardd $(DESTDIR)$(SBINDIR)/ollaguard-keyctl
	rm -f $(DESTDIR)$(MANDIR)/man8/ollaguardd.8 \
	    $(DESTDIR)$(MANDIR)/man8/ollaguard-keyctl.8 \
	    $(DESTDIR)$(MANDIR)/man5/ollaguard.conf.5
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/ollaguardd.service \
	    $(DESTDIR)$(SYSCONFDIR)/init.d/ollaguardd \
	    $(DESTDIR)$(SYSCONFDIR)/fail2ban/filter.d/ollaguard.conf

clean:
	rm -rf build build-asan

# The headers each object and test was built from, once built.
-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/tests/*.d)

# Last, so that its rules see the variables above and "all" stays the
# default goal: libFuzzer targets (make fuzz) and their corpus replay.
-include tests/fuzz/fuzz.mk
-include bench/bench.mk
