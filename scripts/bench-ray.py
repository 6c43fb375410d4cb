#!/usr/bin/env python3
"""dupes and join of request shards and result files, in one process and on a local Ray
(`batchkit.ray`, ``ray.init(num_cpus=CPUS)``), with the bytes the key rows put through the
shuffle per request line. Prints a Markdown table for BENCHMARKS.md.

Usage: scripts/bench-ray.py REQ_DIR RES_DIR [--parts 4] [--cpus 2] [--work DIR]

Needs the wheel installed with the ``ray`` extra. The outputs go under --work (default: a
temporary directory beside REQ_DIR) and are compared byte for byte with the single run's.
"""

import argparse
import glob
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("req_dir")
    ap.add_argument("res_dir")
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--work")
    a = ap.parse_args()
    req = sorted(glob.glob(os.path.join(a.req_dir, "*.jsonl*")))
    res = sorted(glob.glob(os.path.join(a.res_dir, "*.jsonl*")))
    work = a.work or tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(a.req_dir)))
    os.makedirs(work, exist_ok=True)

    import batchkit
    from batchkit import _dupes_keys as dk
    from batchkit import _join_keys as jk

    size = lambda ps: sum(os.path.getsize(p) for p in ps)  # noqa: E731
    print(f"requests: {len(req)} files, {size(req) / 1e6:.0f} MB; results: {len(res)} files, "
          f"{size(res) / 1e6:.0f} MB", file=sys.stderr)

    # Bytes through the shuffle: the key rows of step 1, and what the parts send on.
    plan = jk.Plan(req, res, work, a.parts, jk.want(True, True, True, False), {})
    rows = [r for s in plan.specs() for r in jk.file_rows(plan, s)]
    key_bytes = sum(len(r["blob"]) for r in rows if r["part"] != jk.META)
    by_part = {}
    for r in rows:
        by_part.setdefault(r["part"], []).append(r)
    decided = [r for k in sorted(by_part) for r in jk.part_rows(plan, by_part[k])]
    decided_bytes = sum(len(r["blob"]) for r in decided)
    del rows, by_part, decided
    dupes_bytes = sum(
        len(r["blob"]) for i in range(len(req)) for r in dk.file_rows(req, i, a.parts, {})
        if r["part"] != dk.META
    )

    single = os.path.join(work, "single")
    os.makedirs(single)
    def dupes_all():
        found = batchkit.dupes(req)
        return list(found), found

    (whole_records, whole_d), t_sd = timed(dupes_all)
    whole_j, t_sj = timed(lambda: batchkit.join(
        req, res, os.path.join(single, "merged.jsonl"), retry=os.path.join(single, "retry.jsonl"),
        rejects=os.path.join(single, "rejects.jsonl"), orphans=os.path.join(single, "orphans.jsonl")))
    rss_single = peak_mb()
    requests = whole_j["requests"]

    import ray
    import batchkit.ray as bray

    t0 = time.perf_counter()
    ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    t_init = time.perf_counter() - t0
    got_d, t_rd = timed(lambda: bray.dupes(req, num_partitions=a.parts))
    out = os.path.join(work, "ray")
    got_j, t_rj = timed(lambda: bray.join(req, res, out, num_partitions=a.parts))
    t0 = time.perf_counter()
    ray.shutdown()
    t_down = time.perf_counter() - t0
    rss_ray = peak_mb()

    same = {}
    for kind in ("merged", "retry", "rejects", "orphans"):
        files = sorted(f for f in os.listdir(out) if f.endswith(f".{kind}.jsonl"))
        cmd = "cat " + " ".join(os.path.join(out, f) for f in files)
        cmd += f" | cmp -s - {os.path.join(single, kind + '.jsonl')}"
        same[kind] = subprocess.run(cmd, shell=True).returncode == 0
    same_d = list(got_d) == whole_records and got_d.summary == whole_d.summary
    shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()[0]
    print(f"| job | single process | Ray, N={a.parts} (tasks only) | Ray with init and shutdown |")
    print("|---|---|---|---|")
    print(f"| dupes | {t_sd:.1f} s | {t_rd:.1f} s ({t_rd / t_sd:.1f}×) | "
          f"{t_rd + t_init + t_down:.1f} s |")
    print(f"| join (merged, retry, rejects, orphans) | {t_sj:.1f} s | {t_rj:.1f} s "
          f"({t_rj / t_sj:.1f}×) | {t_rj + t_init + t_down:.1f} s |")
    print()
    print(f"requests: {requests:,}; dupes key rows through the shuffle: {dupes_bytes:,} B "
          f"({dupes_bytes / requests:.1f} B per request line)")
    print(f"join key rows through the shuffle: {key_bytes:,} B "
          f"({key_bytes / requests:.1f} B per request line), then the parts' destinations and "
          f"earlier ids: {decided_bytes:,} B ({decided_bytes / requests:.1f} B per request line)")
    print(f"driver peak RSS: single {rss_single:.0f} MB, with Ray {rss_ray:.0f} MB; "
          f"load average {load:.1f}")
    print(f"outputs equal to the single run's: {same}; dupes equal: {same_d}")


if __name__ == "__main__":
    main()
