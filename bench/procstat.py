#!/usr/bin/python3
"""procstat.py: CPU time and memory of a process tree, from /proc.

  procstat.py tree PID        one JSON object for PID and its descendants
  procstat.py pids PID        the tree's PIDs, one a line (for cleanup)
  procstat.py watch PID FILE  sample the tree every 0.1 s until SIGTERM
                              (or 900 s); then write to FILE each
                              process's largest RSS growth over its first
                              sample, and the tree's PSS at start and peak

"tree" reports:
  cpu_s        utime+stime of every live process in the tree, plus the
               root's cutime+cstime (children it has reaped: a worker
               that retired during a run still counts); diff two probes
  pss_kb       Pss summed over the tree (shared pages split among the
               sharers, so prefork copies are not counted twice)
  rss_kb       Rss summed (counts shared pages once per process)
  root_pss_kb  the root's own Pss (a prefork master's share)
  private_kb   Private_Clean+Private_Dirty per child of the root, as a
               list, and its median: what one more worker costs
  ctxsw        voluntary+involuntary context switches of the live
               processes (a worker that exits takes its count along)
  alone_kb     with --alone (root only): the distinct physical pages the
               tree has resident, each counted once however many of the
               tree's processes map it, and wholly however many other
               processes do.  What the tree would cost on a machine where
               nothing else shares its libraries; unlike PSS it does not
               depend on what else runs.
"""
import json
import os
import signal
import struct
import sys
import time

TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
PFN_MASK = (1 << 55) - 1


def stat(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()


def tree(root):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(int(d))
            if st is not None:
                kids.setdefault(int(st[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out, kids.get(root, [])


def rollup(pid):
    v = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, rest = line.partition(":")
                if k in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                    v[k] = int(rest.split()[0])
    except OSError:
        return None
    return v


def ctxsw(pid):
    n = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("voluntary_ctxt_switches:",
                                    "nonvoluntary_ctxt_switches:")):
                    n += int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return n


def pfns(pid):
    """The physical pages a process has resident (needs root)."""
    out = set()
    try:
        maps = open("/proc/%d/maps" % pid).read().splitlines()
        pm = open("/proc/%d/pagemap" % pid, "rb")
    except OSError:
        return out
    with pm:
        for line in maps:
            if line.endswith("[vsyscall]"):
                continue
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            try:
                pm.seek(lo // PAGE * 8)
                data = pm.read((hi - lo) // PAGE * 8)
            except OSError:
                continue
            for (e,) in struct.iter_unpack("<Q", data):
                if e >> 63 and e & PFN_MASK:
                    out.add(e & PFN_MASK)
    return out


def probe(root):
    pids, children = tree(root)
    r = {"root": root, "nproc": 0, "cpu_s": 0.0, "pss_kb": 0, "rss_kb": 0,
         "private_kb": [], "ctxsw": 0}
    ticks = 0
    for p in pids:
        st, m = stat(p), rollup(p)
        if st is None:
            continue
        # A zombie has no memory left but its CPU time still counts.
        ticks += int(st[11]) + int(st[12])
        r["ctxsw"] += ctxsw(p)
        if p == root:
            ticks += int(st[13]) + int(st[14])
        if m is None:
            continue
        r["nproc"] += 1
        r["pss_kb"] += m.get("Pss", 0)
        if p == root:
            r["root_pss_kb"] = m.get("Pss", 0)
        r["rss_kb"] += m.get("Rss", 0)
        if p in children:
            r["private_kb"].append(m.get("Private_Clean", 0) + m.get("Private_Dirty", 0))
    r["cpu_s"] = ticks / TCK
    if "--alone" in sys.argv:
        pages = set()
        for p in pids:
            pages |= pfns(p)
        r["alone_kb"] = len(pages) * PAGE // 1024
    pk = sorted(r["private_kb"])
    r["private_median_kb"] = pk[len(pk) // 2] if pk else 0
    return r


def watch(root, path):
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    first, peak_growth, pss0, pss_peak = {}, 0, None, 0
    end = time.monotonic() + 900
    while not stop and time.monotonic() < end:
        pids, _ = tree(root)
        pss = 0
        for p in pids:
            m = rollup(p)
            if m is None:
                continue
            pss += m.get("Pss", 0)
            first.setdefault(p, m.get("Rss", 0))
            peak_growth = max(peak_growth, m.get("Rss", 0) - first[p])
        pss0 = pss if pss0 is None else pss0
        pss_peak = max(pss_peak, pss)
        time.sleep(0.1)
    with open(path, "w") as f:
        json.dump({"rss_growth_kb": peak_growth, "pss_start_kb": pss0 or 0,
                   "pss_peak_kb": pss_peak}, f)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, root = sys.argv[1], int(sys.argv[2])
    if cmd == "tree":
        print(json.dumps(probe(root)))
    elif cmd == "pids":
        print("\n".join(str(p) for p in tree(root)[0] if stat(p) is not None))
    elif cmd == "watch" and len(sys.argv) == 4:
        watch(root, sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
