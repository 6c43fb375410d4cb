"""The steps of ``join`` on a cluster engine (:mod:`batchkit.ray`, :mod:`batchkit.spark`),
free of any engine: each is a function of rows, so that an engine only has to run them as
tasks and group their rows by a column. A row is ``{"part", "kind", "target", "blob"}``
(and ``"route"`` between steps 2 and 3).

1. :func:`file_rows`, one task per input file: its key rows (file, line, status, decoded id:
   18 bytes and the id per line), one row per part of ``num_partitions``; a result file also
   gives its share of the summary (usage per model). Grouped by ``part``:
2. :func:`part_rows`, one task per part: the join's rules (the result kept per id, the first
   request line of each id across files, Vertex rows by content in order), which say where
   each result line goes (a row per result file: 12 bytes per result line) and which ids
   earlier request files used first (a row per request file). Grouped by ``route``:
3. :func:`route_rows`, one task per result file: reads it once more and writes each line
   into a small results file of the request file that took it, or into its own orphans (and
   duplicates) file; the request files' earlier ids are gathered. The driver collects what
   comes out (a few bytes per file).
4. :func:`join_file`, one task per request file (:func:`finish_rows`): ``batchkit.join`` of
   that file with the results dealt to it, knowing the ids earlier files used; its merged,
   retry and rejects files are exactly the lines one join over everything writes for that
   file. The summary adds the request files' summaries to the result side.

Request bytes are read only by their own file's tasks (steps 1 and 4), result bytes by theirs
(1 and 3); between tasks travel only key rows, destinations and summaries. Memory: a step-1
task holds its file's key rows, a step-2 task its part's (choose ``num_partitions`` so that a
part's ids fit a worker), steps 3 and 4 stream (step 4 within ``memory_limit``).

Output names, in ``out_dir``: ``00000-<request name>.merged.jsonl`` (``.retry.jsonl``,
``.rejects.jsonl``) per request file and ``00000-<result name>.orphans.jsonl``
(``.duplicates.jsonl``) per result file, numbered in the order given, so that
``cat out_dir/*.merged.jsonl`` is the merged file of one ``batchkit.join``, byte for byte
(the same for every kind). Work files and the outputs live in ``out_dir/.parts/`` until every
task is done; then the outputs move into ``out_dir``. When a step fails, ``.parts`` is removed
and ``out_dir`` stays empty.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import batchkit

from . import _native, _parts

Row = Dict[str, Any]

REQUEST, RESULT = "request", "result"
# What the steps' rows are: key rows of a part, a result file's share of the summary, where a
# result file's lines go, the ids earlier files used, a part's counts.
KEYS_REQ, KEYS_RES, SIDE, DESTS, EARLIER, COUNTS, DEALT = (
    "keys-req", "keys-res", "side", "dests", "earlier", "counts", "dealt",
)
# The rows that every part passes on unchanged (they name files, not ids).
META = -1

REQUEST_KEYS = (
    "requests", "succeeded", "truncated", "refused", "invalid_answer", "errored", "expired",
    "canceled", "missing", "request_problems", "invalid_requests", "to_retry",
    "not_in_retry", "answers_checked", "raised", "raise_unchanged",
)


def _stem(path: str) -> str:
    base = os.path.basename(path.rstrip("/")) or "input"
    for ext in (".zst", ".jsonl", ".json", ".ndjson"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    return base or "input"


class Plan:
    """The files of one distributed join and where its outputs go; plain data, sent to every
    task."""

    def __init__(
        self,
        requests: Sequence[str],
        results: Sequence[str],
        out_dir: str,
        n: int,
        want: Dict[str, bool],
        opts: Dict[str, Any],
    ) -> None:
        self.requests = list(requests)
        self.results = list(results)
        self.out_dir = out_dir
        self.n = n
        self.want = want
        self.opts = opts
        self.work = os.path.join(out_dir, ".parts")

    def specs(self) -> List[Dict[str, Any]]:
        """One task per input file."""
        return [{"side": REQUEST, "index": i} for i in range(len(self.requests))] + [
            {"side": RESULT, "index": i} for i in range(len(self.results))
        ]

    def output(self, side: str, i: int, kind: str) -> str:
        """Where a task writes an output: staged in the work directory until every task is
        done (:func:`commit` moves them into ``out_dir``)."""
        path = (self.requests if side == REQUEST else self.results)[i]
        return os.path.join(self.work, "out", f"{i:05d}-{_stem(path)}.{kind}.jsonl")

    def dealt(self, f: int, s: int) -> str:
        return os.path.join(self.work, f"results-{f:05d}-{s:05d}.jsonl")

    def earlier(self, f: int) -> str:
        return os.path.join(self.work, f"earlier-{f:05d}.jsonl")

    def route(self, kind: str, target: int) -> int:
        """Where a decided row goes in step 3: result file ``s`` to route ``s``, request file
        ``f``'s earlier ids to ``len(results) + f``, the rest to :data:`META`."""
        if kind == DESTS:
            return target
        if kind == EARLIER:
            return len(self.results) + target
        return META

    def max_line_bytes(self) -> Optional[int]:
        m = self.opts.get("max_line_bytes")
        return None if m is None else _size(m)


def _size(v: Any) -> int:
    if isinstance(v, int):
        return v
    s = str(v).strip()
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 10**3, "MB": 10**6, "GB": 10**9}
    for u, m in units.items():
        if s.endswith(u):
            return int(float(s[: -len(u)]) * m)
    return int(s)


def file_rows(plan: Plan, spec: Dict[str, Any]) -> List[Row]:
    """Step 1: the key rows of one input file, a row per part that has some."""
    i = int(spec["index"])
    out: List[Row] = []
    if spec["side"] == REQUEST:
        path = plan.requests[i]
        blobs = _native.join_request_keys(path, path, i, plan.n, plan.max_line_bytes())
        kind = KEYS_REQ
        out.append({"part": META, "kind": EARLIER, "target": i, "blob": b""})
    else:
        path = plan.results[i]
        blobs, side = _native.join_result_keys(
            path, path, i, plan.n, plan.opts.get("id_map"), plan.max_line_bytes()
        )
        kind = KEYS_RES
        out.append({"part": META, "kind": SIDE, "target": i, "blob": side.encode()})
        out.append({"part": META, "kind": DESTS, "target": i, "blob": b""})
    for k, b in enumerate(blobs):
        if b:
            out.append({"part": k, "kind": kind, "target": i, "blob": bytes(b)})
    for r in out:
        r["route"] = META
    return out


def part_rows(plan: Plan, rows: Iterable[Row]) -> List[Row]:
    """Step 2: the rows of one part (of several parts, grouped inside) decided; the rows of
    :data:`META` passed on. Every row gets its ``route`` for step 3 (:meth:`Plan.route`)."""
    by_part: Dict[int, Tuple[List[bytes], List[bytes]]] = {}
    out: List[Row] = []
    for r in rows:
        part = int(r["part"])
        if part == META:
            out.append(dict(r, part=META))
            continue
        req, res = by_part.setdefault(part, ([], []))
        (req if r["kind"] == KEYS_REQ else res).append(bytes(r["blob"]))
    for part, (req, res) in sorted(by_part.items()):
        dests, earlier, counts = _native.join_decide(req, res)
        for s, b in dests.items():
            out.append({"part": part, "kind": DESTS, "target": s, "blob": bytes(b)})
        for f, ids in earlier.items():
            text = "".join(
                json.dumps({"id": k, "file": plan.requests[ff], "line": line}) + "\n"
                for k, ff, line in ids
            )
            out.append({"part": part, "kind": EARLIER, "target": f, "blob": text.encode()})
        out.append(
            {"part": part, "kind": COUNTS, "target": 0, "blob": json.dumps(counts).encode()}
        )
    for r in out:
        r["route"] = plan.route(r["kind"], int(r["target"]))
    return out


def route_rows(plan: Plan, route: int, rows: Iterable[Row]) -> List[Row]:
    """Step 3, the rows of one route (:meth:`Plan.route`): a result file's destinations
    dealt (:func:`deal`; one ``"dealt"`` row naming the request files that got lines), a
    request file's earlier ids gathered into one row, the other rows passed on. What comes
    out is small: the driver collects it."""
    rows = list(rows)
    if route == META:
        return [{k: r[k] for k in ("part", "kind", "target", "blob")} for r in rows]
    if route < len(plan.results):
        d = deal(plan, route, [r["blob"] for r in rows])
        return [{"part": META, "kind": DEALT, "target": route,
                 "blob": json.dumps(d["to"]).encode()}]
    rows.sort(key=lambda r: int(r["part"]))
    blob = b"".join(bytes(r["blob"]) for r in rows)
    return [{"part": META, "kind": EARLIER, "target": route - len(plan.results), "blob": blob}]


def deal(plan: Plan, s: int, blobs: Sequence[bytes]) -> Dict[str, Any]:
    """Step 3: result file ``s`` read once more, each line written where the parts sent it.
    Returns which request files got lines from it."""
    os.makedirs(os.path.join(plan.work, "out"), exist_ok=True)
    path = plan.results[s]
    to = [plan.dealt(f, s) for f in range(len(plan.requests))]
    orphans = plan.output(RESULT, s, "orphans") if plan.want["orphans"] else None
    dups = plan.output(RESULT, s, "duplicates") if plan.want["duplicates"] else None
    counts = _native.join_deal(
        path, path, [bytes(b) for b in blobs], to, orphans, dups, plan.max_line_bytes()
    )
    return {"file": s, "to": [f for f, c in enumerate(counts) if c]}


def join_file(plan: Plan, f: int, earlier: Sequence[bytes], dealt_from: Sequence[int]) -> Dict[str, Any]:
    """Step 4: request file ``f`` joined to the results dealt to it (``dealt_from``: the
    result files that dealt it lines), told the ids earlier files used first."""
    os.makedirs(os.path.join(plan.work, "out"), exist_ok=True)
    ids = plan.earlier(f)
    with open(ids, "wb") as w:
        for b in earlier:
            w.write(bytes(b))
    results = [plan.dealt(f, s) for s in sorted(dealt_from)]
    if not results:
        results = [os.path.join(plan.work, f"none-{f:05d}.jsonl")]
        open(results[0], "wb").close()
    o = plan.opts
    return batchkit.join(
        plan.requests[f],
        results,
        plan.output(REQUEST, f, "merged"),
        retry=plan.output(REQUEST, f, "retry") if plan.want["retry"] else None,
        rejects=plan.output(REQUEST, f, "rejects") if plan.want["rejects"] else None,
        retry_on=o.get("retry_on"),
        raise_max_tokens=o.get("raise_max_tokens"),
        answer_schema=o.get("answer_schema"),
        expect_json=bool(o.get("expect_json")),
        id_map=o.get("id_map"),
        temp_dir=o.get("temp_dir"),
        memory_limit=o.get("memory_limit"),
        max_line_bytes=o.get("max_line_bytes"),
        _earlier_ids=ids,
    )


def summary(sides: Sequence[bytes], counts: Sequence[bytes], files: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """The summary of one ``batchkit.join`` over all the files: the result side from the
    result files' shares and the parts' counts, the request side summed over the request
    files' runs."""
    s = {"type": "summary"}
    s.update(
        json.loads(
            _native.join_summary(
                [bytes(b).decode() for b in sides], [tuple(json.loads(bytes(c))) for c in counts]
            )
        )
    )
    for k in REQUEST_KEYS:
        s[k] = sum(int(f[k]) for f in files)
    s["spilled"] = any(bool(f.get("spilled")) for f in files)
    s["partitions"] = max([int(f.get("partitions") or 0) for f in files] or [0])
    s["ok"] = (
        s["succeeded"] == s["requests"]
        and s["orphans"] == 0
        and s["duplicates"] == 0
        and s["unjoinable"] == 0
        and s["request_problems"] == 0
    )
    s["error"] = None
    return s


def want(retry: bool, rejects: bool, orphans: bool, duplicates: bool) -> Dict[str, bool]:
    """Which outputs to write (the merged files always)."""
    return {
        "merged": True,
        "retry": retry,
        "rejects": rejects,
        "orphans": orphans,
        "duplicates": duplicates,
    }


def prepare(
    requests: Any, results: Any, out_dir: Any, n: int, want: Dict[str, bool], opts: Dict[str, Any]
) -> Plan:
    """Checks the arguments and creates ``out_dir`` (it must be empty)."""
    req = _parts.paths_of(requests, "requests")
    res = _parts.paths_of(results, "results")
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    if os.listdir(out):
        raise batchkit.OutputError(
            f"{out}: the output directory is not empty", code="not_empty", file=out
        )
    for p in req + res:
        if not os.path.isfile(p):
            raise batchkit.InputError(f"{p}: no such file", code="io", file=p)
    return Plan(req, res, out, n, want, opts)


def commit(plan: Plan) -> None:
    """Every task done: the staged outputs moved into ``out_dir``, the work files removed."""
    staged = os.path.join(plan.work, "out")
    for name in sorted(os.listdir(staged)) if os.path.isdir(staged) else []:
        os.replace(os.path.join(staged, name), os.path.join(plan.out_dir, name))
    abort(plan)


def abort(plan: Plan) -> None:
    """A step failed: the work files and staged outputs removed, ``out_dir`` left empty."""
    shutil.rmtree(plan.work, ignore_errors=True)


def staged(plan: Plan, fn: Any) -> Any:
    """``fn()``, the run's steps: on success its outputs committed, on failure (Ctrl-C
    included) removed, so that nothing half-written is left under a final name."""
    try:
        out = fn()
    except BaseException:
        abort(plan)
        raise
    commit(plan)
    return out


def finish_rows(plan: Plan, rows: Sequence[Row], run: Any) -> Dict[str, Any]:
    """Step 4 and the summary, from what step 3 gave (:func:`route_rows`): ``run`` runs
    :func:`join_file` on each ``(f, earlier, dealt_from)`` job (as the engine's tasks) and
    returns their summaries in order."""
    earlier: Dict[int, List[bytes]] = {f: [] for f in range(len(plan.requests))}
    got: Dict[int, List[int]] = {f: [] for f in range(len(plan.requests))}
    sides: Dict[int, bytes] = {}
    counts: List[bytes] = []
    for r in rows:
        kind, target, blob = r["kind"], int(r["target"]), bytes(r["blob"])
        if kind == EARLIER and blob:
            earlier[target].append(blob)
        elif kind == DEALT:
            for f in json.loads(blob):
                got[f].append(target)
        elif kind == SIDE:
            sides[target] = blob
        elif kind == COUNTS:
            counts.append(blob)
    jobs = [(f, earlier[f], sorted(got[f])) for f in range(len(plan.requests))]
    files = run(jobs)
    return summary([sides[s] for s in sorted(sides)], counts, files)


def run_local(plan: Plan) -> Dict[str, Any]:
    """The steps in this process, the rows grouped by hand: what an engine does, for tests
    and for one machine."""
    def group(rows: List[Row], key: str) -> Dict[int, List[Row]]:
        g: Dict[int, List[Row]] = {}
        for r in rows:
            g.setdefault(int(r[key]), []).append(r)
        return g

    def steps() -> Dict[str, Any]:
        rows = [r for spec in plan.specs() for r in file_rows(plan, spec)]
        decided = [r for k, g in sorted(group(rows, "part").items()) for r in part_rows(plan, g)]
        routed = [
            r for k, g in sorted(group(decided, "route").items()) for r in route_rows(plan, k, g)
        ]
        return finish_rows(plan, routed, lambda jobs: [join_file(plan, *j) for j in jobs])

    return staged(plan, steps)
