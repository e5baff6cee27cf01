# The benchmark: ollaguardd against nginx and the bare upstream.
# Included by the top-level Makefile (-include bench/bench.mk).
#
#   make bench          build what it needs, run every scenario, print one
#                       table and write it to bench/results/latest.md; then
#                       the shared kit's cross-check (bench/kit.sh,
#                       bench/results/kit.md) when ../shared/bench exists
#   make bench-quick    the same, every step short (a smoke test)
#   make bench-syscalls syscalls per request of the workers (strace -c),
#                       and where perf works, their CPU profile by library
#   make bench-callgrind instructions per request of one worker (valgrind)
#   make bench-connectonly libcurl's cost per GET, curl_easy_perform against
#                       CURLOPT_CONNECT_ONLY with llhttp (a prototype)
#   make bench-ctxsw    context switches per request of the workers, and
#                       where they sleep (perf sched_switch call stacks)
#   make bench-multi    three upstream boxes against one: CPU per request
#   make bench-policy   time to first byte a model list adds to a 1 MiB chat
#   make bench-meter    delay per line of a 1,000-line stream, metered,
#                       against the bare upstream
#   make bench-tls      S1 and S4 over https, ollaguardd against nginx on
#                       the same certificate (bench/results/tls.md)
#   make bench-deps     install wrk, nginx, strace ... (as root)
#
# Settings are environment variables; see bench/run.sh.

# The shared kit's cross-check adds gcc and its Python peer's modules.
BENCH_DEBIAN_PKGS =	wrk nginx curl python3 strace procps valgrind gcc \
			python3-fastapi python3-httpx python3-uvicorn
# The helpers need none of the project's libraries, only its warnings.
BENCH_CFLAGS =		-std=gnu11 -D_GNU_SOURCE $(OPT) $(WARN)
BENCH_BINS =		$(BUILD)/bench/ogb-upstream $(BUILD)/bench/ogb-streams

.PHONY: bench bench-quick bench-syscalls bench-callgrind bench-deps bench-bins \
		bench-multi bench-connectonly bench-ctxsw \
		bench-policy bench-meter bench-tls

bench-bins: $(BENCH_BINS)

$(BUILD)/bench/ogb-upstream: bench/upstream.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -pthread -o $@ $<

$(BUILD)/bench/ogb-streams: bench/streams.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

# A prototype, not a part of the daemon: llhttp as the daemon builds it.
$(BUILD)/bench/ogb-connectonly: bench/connectonly.c $(LLHTTP_OBJS)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -isystem $(LLHTTP_INC) -o $@ $< $(LLHTTP_OBJS) \
	    -lcurl

bench-connectonly: all bench-bins $(BUILD)/bench/ogb-connectonly
	BENCH_BUILD=$(abspath $(BUILD)) bash bench/connectonly.sh

bench-ctxsw: all bench-bins
	BENCH_BUILD=$(abspath $(BUILD)) bash bench/ctxsw.sh

bench: bench-deps all bench-bins
	BENCH_BUILD=$(abspath $(BUILD)) bash bench/run.sh
	bash bench/kit.sh

bench-quick: bench-deps all bench-bins
	BENCH_QUICK=1 BENCH_BUILD=$(abspath $(BUILD)) bash bench/run.sh

bench-syscalls: all bench-bins
	BENCH_BUILD=$(abspath $(BUILD)) bash bench/syscalls.sh

bench-callgrind: all bench-bins
	BENCH_BUILD=$(abspath $(BUILD)) bash bench/callgrind.sh

bench-deps: deps
	@$(call install-pkgs,$(BENCH_DEBIAN_PKGS))

bench-meter: all bench-bins
	BENCH_BUILD=$(abspath $(BUILD)) bash bench/meter.sh

bench-policy: all bench-bins
	BENCH_BUILD=$(abspath $(BUILD)) bash bench/policy.sh

bench-multi: all bench-bins
	BENCH_BUILD=$(abspath $(BUILD)) bash bench/multi.sh

bench-tls: all bench-bins
	BENCH_BUILD=$(abspath $(BUILD)) bash bench/tls.sh
