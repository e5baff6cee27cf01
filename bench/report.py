#!/usr/bin/python3
"""report.py RESULTS.jsonl META.json: the benchmark's one table, in Markdown.

RESULTS.jsonl has one {"k": name, "v": value} a line, written by run.sh.
Where a scenario ran several times the table shows the median run.  The
ratio column is ollaguardd / nginx; the last column says whether
ollaguardd meets the issue's target ("yes", "NO", or "-" when the
figure is missing).
"""
import json
import re
import statistics
import sys

MIB = 1024.0


def load(path):
    r = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                d = json.loads(line)
                r[d["k"]] = d["v"]
    return r


def fmt(x, nd=1):
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    return "{:.{}f}".format(x, nd)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def met(ok):
    return "-" if ok is None else ("yes" if ok else "**NO**")


def main():
    R = load(sys.argv[1])
    M = json.load(open(sys.argv[2]))
    g = lambda k, *path: dig(R.get(k), path)
    rows = []

    def row(name, d, n, o, rat, target, ok, nd=1):
        rows.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            name, fmt(d, nd), fmt(n, nd), fmt(o, nd),
            "n/a" if rat is None else "%.2f" % rat, target, met(ok)))

    # S1: every wrk record is NAME_rN; the table shows the median of the
    # runs (errors: their sum).
    def w(name, field, agg=statistics.median):
        v = [R[k].get(field) for k in R if re.fullmatch(name + r"_r\d+", k)]
        v = [x for x in v if x is not None]
        return agg(v) if v else None

    T3 = ("direct", "nginx", "ollaguardd")
    for c in (16, 64):
        d, n, o = (w("s1_c%d_%s" % (c, t), "rps") for t in T3)
        rt = ratio(o, n)
        row("S1 c%d req/s" % c, d, n, o, rt, ">= nginx",
            None if rt is None else rt >= 1, 0)
        d, n, o = (w("s1_c%d_%s" % (c, t), "cpu_us_per_req") for t in T3)
        rt = ratio(o, n)
        row("S1 c%d tree CPU us/req" % c, d, n, o, rt, "<= nginx",
            None if rt is None else rt <= 1)
        d, n, o = (w("s1_c%d_%s" % (c, t), "errors", sum) for t in T3)
        row("S1 c%d errors (all runs)" % c, d, n, o, None, "0",
            None if o is None else o == 0, 0)
        d, n, o = (w("s1_c%d_%s" % (c, t), "p99_us") for t in T3)
        row("S1 c%d latency p99 ms" % c, *(None if x is None else x / 1000
            for x in (d, n, o)), ratio(o, n), "", None, 2)
        d, n, o = (w("s1_c%d_%s" % (c, t), "ctxsw_per_req") for t in T3)
        row("S1 c%d context switches/req" % c, d, n, o, ratio(o, n), "",
            None, 2)
        n = w("s1_c%d_nginx" % c, "rps")
        o = w("s1_c%d_sized" % c, "rps")
        rt = ratio(o, n)
        row("S1 c%d req/s, ollaguardd pool kept at 72" % c, None, n, o,
            rt, ">= nginx", None if rt is None else rt >= 1, 0)
        n = w("s1_c%d_nginx" % c, "cpu_us_per_req")
        o = w("s1_c%d_sized" % c, "cpu_us_per_req")
        rt = ratio(o, n)
        row("S1 c%d tree CPU us/req, pool kept at 72" % c, None, n, o, rt,
            "<= nginx", None if rt is None else rt <= 1)
        n = w("s1_c%d_nginx" % c, "errors", sum)
        o = w("s1_c%d_sized" % c, "errors", sum)
        row("S1 c%d errors, pool kept at 72" % c, None, n, o, None, "0",
            None if o is None else o == 0, 0)

    # S2: one stream per round, rounds interleaved; medians of the rounds.
    def s2(t, q):
        v = [dig(R[k], ("delay_us", q)) for k in R
             if re.fullmatch("s2_%s_r\\d+" % t, k)]
        v = [x for x in v if x is not None and x >= 0]
        return statistics.median(v) if v else None
    p50 = {t: s2(t, "p50") for t in T3}
    p99 = {t: s2(t, "p99") for t in T3}
    add = {t: None if p50[t] is None or p50["direct"] is None else
           p50[t] - p50["direct"] for t in p50}
    row("S2 line delay p50 us", p50["direct"], p50["nginx"],
        p50["ollaguardd"], ratio(p50["ollaguardd"], p50["nginx"]), "", None)
    ok = None if add["ollaguardd"] is None or add["nginx"] is None else \
        add["ollaguardd"] <= add["nginx"]
    row("S2 added delay p50 us (vs direct)", 0.0, add["nginx"],
        add["ollaguardd"], None, "<= nginx", ok)
    row("S2 line delay p99 us", p99["direct"], p99["nginx"],
        p99["ollaguardd"], ratio(p99["ollaguardd"], p99["nginx"]), "", None)
    row("S2 lines received (all rounds)", *(w("s2_" + t, "lines", sum)
        for t in T3), None, "", None, 0)

    # S3
    s3 = {}
    for t in ("direct", "nginx", "ollaguardd", "ollaguardd_nolimit",
              "ollaguardd_pool264"):
        runs = [R[k] for k in sorted(R) if k.startswith("s3_%s_run" % t)]
        if runs:
            s3[t] = {
                "complete": sum(r.get("complete", 0) for r in runs),
                "streams": sum(r.get("streams", 0) for r in runs) or
                256 * len(runs),
                "first": statistics.median(
                    dig(r, ("first_line_ms", "max")) or float("nan")
                    for r in runs) if all(r.get("complete") for r in runs)
                else None,
            }
    cs = lambda t: None if t not in s3 else "%d/%d" % (
        s3[t]["complete"], s3[t]["streams"])
    allc = lambda t: None if t not in s3 else \
        s3[t]["complete"] == s3[t]["streams"]
    row("S3 256 streams complete (defaults)", cs("direct"), cs("nginx"),
        cs("ollaguardd"), None, "all", allc("ollaguardd"))
    f = lambda t: s3.get(t, {}).get("first")
    rt = ratio(f("ollaguardd"), f("nginx"))
    row("S3 slowest first line ms (defaults)", f("direct"), f("nginx"),
        f("ollaguardd"), rt, "<= 2x nginx",
        None if rt is None else rt <= 2 and allc("ollaguardd"))
    row("S3 complete, --max-conns-per-ip 0", None, None,
        cs("ollaguardd_nolimit"), None, "all", allc("ollaguardd_nolimit"))
    rt = ratio(f("ollaguardd_nolimit"), f("nginx"))
    row("S3 slowest first line ms, --max-conns-per-ip 0", None, None,
        f("ollaguardd_nolimit"), rt, "<= 2x nginx",
        None if rt is None else rt <= 2)

    rt = ratio(f("ollaguardd_pool264"), f("nginx"))
    row("S3 complete, --max-conns-per-ip 0 --workers 264 --max-spare 264",
        None, None, cs("ollaguardd_pool264"), None, "all",
        allc("ollaguardd_pool264"))
    row("S3 slowest first line ms, same", None, None,
        f("ollaguardd_pool264"), rt, "<= 2x nginx",
        None if rt is None else rt <= 2)

    # S4
    def xfer(kind, t):
        runs = [R[k] for k in sorted(R)
                if k.startswith("s4_%s_%s_" % (kind, t))]
        good = [r["MBps"] for r in runs if r.get("status") == 200 and
                (kind == "dl" or r.get("received") == r.get("bytes"))]
        return statistics.median(good) if good and \
            len(good) == len(runs) else None
    for kind, name, size in (("dl", "download", M["download_bytes"]),
                             ("ul", "upload", M["upload_bytes"])):
        d, n, o = (xfer(kind, t) for t in ("direct", "nginx", "ollaguardd"))
        rt = ratio(o, n)
        row("S4 %s %s MB/s" % (size_name(size), name), d, n, o, rt,
            ">= nginx", None if rt is None else rt >= 1, 0)
    big = {t: R.get("s4_big_" + t, {}) for t in ("nginx", "ollaguardd")}
    mem = {t: R.get("s4_mem_" + t) or {} for t in ("nginx", "ollaguardd")}
    ok_big = lambda t: big[t].get("status") == 200 and \
        big[t].get("received") == M["big_upload_bytes"]
    gr = {t: mem[t].get("rss_growth_kb") / MIB if ok_big(t) and
          mem[t].get("rss_growth_kb") is not None else None
          for t in mem}
    row("S4 %s upload: largest RSS growth of a process, MiB" %
        size_name(M["big_upload_bytes"]), None, gr["nginx"],
        gr["ollaguardd"], None, "flat (< 4 MiB)",
        None if gr["ollaguardd"] is None else gr["ollaguardd"] < 4)
    row("S4 %s upload MB/s" % size_name(M["big_upload_bytes"]), None,
        big["nginx"].get("MBps"), big["ollaguardd"].get("MBps"),
        ratio(big["ollaguardd"].get("MBps"), big["nginx"].get("MBps")),
        "", None, 0)

    # S5
    pss = {t: g("s5_" + t, "pss_kb") for t in ("nginx", "ollaguardd")}
    pss = {t: None if v is None else v / MIB for t, v in pss.items()}
    row("S5 idle PSS of the tree, MiB (%s / %s processes)" % (
        g("s5_nginx", "nproc"), g("s5_ollaguardd", "nproc")), None,
        pss["nginx"], pss["ollaguardd"],
        ratio(pss["ollaguardd"], pss["nginx"]), "<= 8 MiB",
        None if pss["ollaguardd"] is None else pss["ollaguardd"] <= 8, 2)
    al = {t: g("s5_" + t, "alone_kb") for t in ("nginx", "ollaguardd")}
    al = {t: None if v is None else v / MIB for t, v in al.items()}
    row("S5 idle tree's resident pages counted once, MiB", None,
        al["nginx"], al["ollaguardd"], ratio(al["ollaguardd"], al["nginx"]),
        "", None, 2)
    pm = {t: g("s5_" + t, "root_pss_kb") for t in ("nginx", "ollaguardd")}
    pm = {t: None if v is None else v / MIB for t, v in pm.items()}
    row("S5 PSS of the master alone, MiB", None, pm["nginx"],
        pm["ollaguardd"], ratio(pm["ollaguardd"], pm["nginx"]), "", None, 2)
    pw = {t: g("s5_" + t, "private_median_kb")
          for t in ("nginx", "ollaguardd")}
    pw = {t: None if v is None else v / MIB for t, v in pw.items()}
    row("S5 private memory per worker, MiB", None, pw["nginx"],
        pw["ollaguardd"], ratio(pw["ollaguardd"], pw["nginx"]), "", None, 2)

    # S6: "big" is the sized daemon with a large database instead of 10
    # keys; both ran in S1's loop.
    keys = M["keys"]
    for c in (16, 64):
        n = w("s6_c%d_nginx" % c, "rps")
        o, base = w("s1_c%d_big" % c, "rps"), w("s1_c%d_sized" % c, "rps")
        rt = ratio(o, base)
        row("S6 c%d req/s, %s keys, pool kept at 72 (%s of 10 keys)" % (
            c, fmt(keys, 0), "n/a" if rt is None else "%.2fx" % rt),
            None, n, o, ratio(o, n), ">= 0.95x 10 keys",
            None if rt is None else rt >= 0.95, 0)
    for c in (16, 64):
        n = w("s6_c%d_nginx" % c, "cpu_us_per_req")
        o = w("s1_c%d_big" % c, "cpu_us_per_req")
        base = w("s1_c%d_sized" % c, "cpu_us_per_req")
        rt = ratio(o, base)
        row("S6 c%d tree CPU us/req, %s keys (%s of 10 keys)" % (
            c, fmt(keys, 0), "n/a" if rt is None else "%.2fx" % rt),
            None, n, o, ratio(o, n), "", None)
    n, o = (g("s6_idle_" + t, "pss_kb") for t in ("nginx", "ollaguardd"))
    n = None if n is None else n / MIB
    o = None if o is None else o / MIB
    base = pss["ollaguardd"]
    row("S6 idle PSS, %s keys, MiB (10 keys: nginx %s, ollaguardd %s)" % (
        fmt(keys, 0), fmt(pss["nginx"], 2), fmt(base, 2)), None, n, o,
        ratio(o, n), "unchanged (+1 MiB)",
        None if o is None or base is None else o <= base + 1, 2)
    o, base = w("s1_c64_big", "pss_after_kb"), w("s1_c64_sized",
                                                  "pss_after_kb")
    o = None if o is None else o / MIB
    base = None if base is None else base / MIB
    row("S6 PSS after c64, 72 workers, MiB (10 keys: %s)" % fmt(base, 1),
        None, None, o, None, "unchanged (+1 MiB)",
        None if o is None or base is None else o <= base + 1, 1)
    imp = R.get("s6_import", {})
    secs = imp.get("seconds") if imp.get("rc") == 0 else None
    row("S6 keyctl import of %s keys, s" % fmt(keys, 0), None, None, secs,
        None, "< 30 s", None if secs is None else secs < 30)
    row("S6 startup with %s keys, s" % fmt(keys, 0), None,
        g("s6_startup_nginx", "seconds"),
        g("s6_startup_ollaguardd", "seconds"),
        ratio(g("s6_startup_ollaguardd", "seconds"),
              g("s6_startup_nginx", "seconds")), "", None, 2)

    # auth reject
    n, o = (w("auth_" + t, "cpu_us_per_req") for t in ("nginx", "ollaguardd"))
    row("401 reject: tree CPU us/req", None, n, o, ratio(o, n), "<= 10 us",
        None if o is None else o <= 10)
    n, o = (w("auth_" + t, "rps") for t in ("nginx", "ollaguardd"))
    row("401 reject: req/s", None, n, o, ratio(o, n), "", None, 0)
    n, o = w("auth_big_nginx", "cpu_us_per_req"), w("auth_big",
                                                     "cpu_us_per_req")
    row("401 reject, %s keys: tree CPU us/req" % fmt(keys, 0), None, n,
        o, ratio(o, n), "<= 10 us and <= nginx",
        None if o is None or n is None else o <= 10 and o <= n)

    print("# ollaguard benchmark%s\n" % (" (QUICK: a smoke test, not a "
          "result)" if M.get("quick") else ""))
    print("%s; %s CPUs (%s), %.1f GiB, kernel %s; nginx %s, wrk %s; %s "
          "(source %s, binary sha256 %s)\n" % (
              M["date"], M["nproc"], M["cpu"], M["mem_gib"], M["kernel"],
              M["nginx"], M["wrk"], M["ollaguardd"], M.get("source", "?"),
              M.get("binary_sha256", "?")))
    print("wrk -t1, %d s measured after %d s warm-up, S1 median of %d "
          "runs; S2 median of %d rounds; S3 median of %d runs' slowest "
          "stream; S4 median of %d; access log %s on both proxies.\n" % (
              M["duration_s"], M["warmup_s"], M["s1_runs"], M["s2_rounds"],
              M["s3_runs"], M["xfer_runs"], M["access_log"]))
    print("| scenario | direct | nginx | ollaguardd | ollaguardd/nginx "
          "| target | met |")
    print("|---|---:|---:|---:|---:|---|---|")
    print("\n".join(rows))
    print("\nCPU = utime+stime of the whole process tree (master, workers, "
          "reaped workers) during the run / requests.  direct = the fake "
          "upstream alone.")


def dig(v, path):
    for p in path:
        if not isinstance(v, dict):
            return None
        v = v.get(p)
    return v


def size_name(n):
    for unit, s in (("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= s:
            return "%g %s" % (n / s, unit)
    return "%d B" % n


if __name__ == "__main__":
    main()
