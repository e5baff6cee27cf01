# tests/fuzz/fuzz.mk: the fuzz targets.  The top-level Makefile reads it
# with "-include tests/fuzz/fuzz.mk" and lends it its variables
# (CC, CFLAGS_ALL, LDFLAGS_ALL, LIBS, BUILD, DAEMON_OBJS, ...).
#
#   make fuzz           build the libFuzzer binaries with clang into
#                       $(BUILD)/fuzz/ and run each for FUZZ_SECONDS
#                       (60), starting from tests/fuzz/corpus/<target>/
#   make fuzz-replay    build each target with $(CC) and the replay
#                       driver, and run it over the committed corpus
#                       (under "make asan", with the sanitizers)
#   make fuzz-build     only build the libFuzzer binaries
#   make fuzz-deps      install clang and its sanitizer runtimes
#
# libFuzzer writes the inputs it finds to a working corpus,
# $(BUILD)/fuzz/corpus/<target>/, and only reads the committed one, so
# the committed corpus stays small.  A crash is written to
# tests/fuzz/crashes/<target>-crash-<sha1>; replay it with
# $(BUILD)/fuzz/<target> FILE.  Once it is fixed, move the file into
# tests/fuzz/corpus/<target>/ so that "make fuzz-replay" keeps it fixed.
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS="-jobs=4 -workers=4",
# or FUZZ_ARGS="-fork=1 -ignore_crashes=1" to go on past a crash.

ifndef FUZZ_MK_INCLUDED
FUZZ_MK_INCLUDED :=	1
FUZZ_MK :=		$(lastword $(MAKEFILE_LIST))

CLANG ?=		clang
FUZZ_SECONDS ?=		60
FUZZ_ARGS ?=
FUZZ_DEBIAN_PKGS =	clang libclang-rt-14-dev
FUZZ_TARGETS =		fuzz_request fuzz_import fuzz_accesslog fuzz_meter \
			fuzz_bodymodel fuzz_proxyproto fuzz_response
FUZZ_DIR =		$(BUILD)/fuzz
FUZZ_HDRS =		tests/fuzz/fuzz.h tests/fuzz/reqcheck.h \
			    $(wildcard common/*.h ollaguardd/*.h)

# What each target links: the daemon's objects but its main(), or the
# common library alone.
FUZZ_REQUEST_OBJS =	$(filter-out $(BUILD)/obj/ollaguardd/main.o,\
			    $(DAEMON_OBJS)) $(LLHTTP_OBJS) $(BUILD)/libcommon.a
FUZZ_IMPORT_OBJS =	$(BUILD)/libcommon.a
FUZZ_ACCESSLOG_OBJS =	$(BUILD)/obj/ollaguardd/accesslog.o $(BUILD)/libcommon.a
FUZZ_METER_OBJS =	$(BUILD)/obj/ollaguardd/meter.o \
			    $(BUILD)/obj/ollaguardd/streamusage.o
FUZZ_PROXYPROTO_OBJS =	$(BUILD)/obj/ollaguardd/proxyproto.o $(BUILD)/libcommon.a

.PHONY: fuzz fuzz-build fuzz-replay fuzz-deps

# The replay build: the project's compiler and flags, and replay.c for
# main().
$(FUZZ_DIR)/replay/fuzz_request: tests/fuzz/fuzz_request.c \
    tests/fuzz/reqcheck.c tests/fuzz/fuzztmp.c tests/fuzz/replay.c \
    $(FUZZ_HDRS) $(FUZZ_REQUEST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd $(LDFLAGS_ALL) -o $@ \
	    $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_DIR)/replay/fuzz_import: tests/fuzz/fuzz_import.c \
    tests/fuzz/fuzztmp.c tests/fuzz/replay.c $(FUZZ_HDRS) \
    $(FUZZ_IMPORT_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ \
	    $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_DIR)/replay/fuzz_accesslog: tests/fuzz/fuzz_accesslog.c \
    tests/fuzz/replay.c $(FUZZ_HDRS) $(FUZZ_ACCESSLOG_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd $(LDFLAGS_ALL) -o $@ \
	    $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_DIR)/replay/fuzz_meter: tests/fuzz/fuzz_meter.c \
    tests/fuzz/replay.c $(FUZZ_HDRS) $(FUZZ_METER_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd $(LDFLAGS_ALL) -o $@ \
	    $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_DIR)/replay/fuzz_bodymodel: tests/fuzz/fuzz_bodymodel.c \
    tests/fuzz/fuzztmp.c tests/fuzz/replay.c $(FUZZ_HDRS) \
    $(FUZZ_REQUEST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd $(LDFLAGS_ALL) -o $@ \
	    $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_DIR)/replay/fuzz_proxyproto: tests/fuzz/fuzz_proxyproto.c \
    tests/fuzz/replay.c $(FUZZ_HDRS) $(FUZZ_PROXYPROTO_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd $(LDFLAGS_ALL) -o $@ \
	    $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_DIR)/replay/fuzz_response: tests/fuzz/fuzz_response.c \
    tests/fuzz/replay.c $(FUZZ_HDRS) $(FUZZ_REQUEST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd $(LDFLAGS_ALL) -o $@ \
	    $(filter %.c %.o %.a,$^) $(LIBS)

fuzz-replay: $(FUZZ_TARGETS:%=$(FUZZ_DIR)/replay/%)
	@fail=0; total=0; crashes=0; \
	for t in $(FUZZ_TARGETS); do \
	    line=$$($(FUZZ_DIR)/replay/$$t tests/fuzz/corpus/$$t) || fail=1; \
	    echo "$$line"; set -- $$line; \
	    total=$$((total + $${4:-0})); crashes=$$((crashes + $${6:-0})); \
	done; \
	echo "fuzz replay: $$total inputs, $$crashes crashes"; exit $$fail

# The libFuzzer build runs this file again with clang and the sanitizers
# in a build directory of its own.  clang-only warnings in the code
# under test do not stop it: gcc's build holds the line on warnings.
fuzz-build:
	@command -v $(CLANG) >/dev/null || { echo "fuzz: no $(CLANG);" \
	    "install it with: make fuzz-deps" >&2; exit 1; }
	$(MAKE) -f $(firstword $(MAKEFILE_LIST)) -f $(FUZZ_MK) \
	    CC=$(CLANG) BUILD=$(FUZZ_DIR)/clang FUZZ_OUT=$(FUZZ_DIR) \
	    OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	    CFLAGS="$(CFLAGS) -Wno-error -Wno-format-nonliteral" \
	    $(FUZZ_TARGETS:%=$(FUZZ_DIR)/%)

fuzz: fuzz-build
	@mkdir -p tests/fuzz/crashes
	@fail=0; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	    echo "== $$t: $(FUZZ_SECONDS) s"; \
	    dict=; test -f tests/fuzz/$$t.dict && dict=-dict=tests/fuzz/$$t.dict; \
	    $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -print_final_stats=1 -artifact_prefix=tests/fuzz/crashes/$$t- \
	        $$dict $(FUZZ_ARGS) $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t \
	        || { fail=1; echo "fuzz: $$t failed; see tests/fuzz/crashes/" >&2; }; \
	done; exit $$fail

fuzz-deps:
	@$(call install-pkgs,$(FUZZ_DEBIAN_PKGS))

# Only in the clang run: the libFuzzer binaries.
ifdef FUZZ_OUT
$(FUZZ_OUT)/fuzz_request: tests/fuzz/fuzz_request.c \
    tests/fuzz/reqcheck.c tests/fuzz/fuzztmp.c $(FUZZ_HDRS) \
    $(FUZZ_REQUEST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd -fsanitize=fuzzer $(LDFLAGS_ALL) \
	    -o $@ $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_OUT)/fuzz_import: tests/fuzz/fuzz_import.c tests/fuzz/fuzztmp.c \
    $(FUZZ_HDRS) $(FUZZ_IMPORT_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer $(LDFLAGS_ALL) \
	    -o $@ $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_OUT)/fuzz_accesslog: tests/fuzz/fuzz_accesslog.c $(FUZZ_HDRS) \
    $(FUZZ_ACCESSLOG_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd -fsanitize=fuzzer $(LDFLAGS_ALL) \
	    -o $@ $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_OUT)/fuzz_meter: tests/fuzz/fuzz_meter.c $(FUZZ_HDRS) \
    $(FUZZ_METER_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd -fsanitize=fuzzer $(LDFLAGS_ALL) \
	    -o $@ $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_OUT)/fuzz_bodymodel: tests/fuzz/fuzz_bodymodel.c \
    tests/fuzz/fuzztmp.c $(FUZZ_HDRS) $(FUZZ_REQUEST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd -fsanitize=fuzzer $(LDFLAGS_ALL) \
	    -o $@ $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_OUT)/fuzz_proxyproto: tests/fuzz/fuzz_proxyproto.c $(FUZZ_HDRS) \
    $(FUZZ_PROXYPROTO_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd -fsanitize=fuzzer $(LDFLAGS_ALL) \
	    -o $@ $(filter %.c %.o %.a,$^) $(LIBS)

$(FUZZ_OUT)/fuzz_response: tests/fuzz/fuzz_response.c $(FUZZ_HDRS) \
    $(FUZZ_REQUEST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -Iollaguardd -fsanitize=fuzzer $(LDFLAGS_ALL) \
	    -o $@ $(filter %.c %.o %.a,$^) $(LIBS)
endif

endif
