"""Validate, count, shard, join, compare and convert the JSONL files of LLM batch APIs.

The functions run the same code as the ``batchkit`` command (which this package also
installs), in process, with the GIL released; Ctrl-C stops them and raises
KeyboardInterrupt. Every record is a dict with the fields of the command's
``--format json`` output (its ``"type"`` included).

>>> import batchkit
>>> [f["code"] for f in batchkit.validate("fixtures/validate/openai-faulty.jsonl")][:3]
['invalid_json', 'not_object', 'empty_line']
>>> batchkit.tokens("fixtures/tokens/chat.jsonl")["input_tokens"]
2928

A job that cannot be done raises a :class:`batchkit.Error` subclass with ``code``,
``file`` and ``line``:

>>> try:
...     batchkit.tokens("no-such-file.jsonl")
... except batchkit.InputError as e:
...     print(e.code, e.file, e.line)
unreadable no-such-file.jsonl None
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import deque
from typing import (
    Any,
    BinaryIO,
    Deque,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
    overload,
)

from . import _native

__version__: str = _native.__version__

__all__ = [
    "Source",
    "convert",
    "validate",
    "dupes",
    "tokens",
    "shard",
    "join",
    "compare",
    "run",
    "Findings",
    "Completed",
    "Error",
    "UsageError",
    "InputError",
    "OutputError",
    "JobError",
    "RefusedError",
]

PathLike = Union[str, "os.PathLike[str]"]
"""A path: ``str`` or ``pathlib.Path``. ``"-"`` reads stdin."""

Source = Union[PathLike, BinaryIO, Tuple[BinaryIO, str]]
"""An input: a path, a binary file object (anything with ``read(n) -> bytes``: ``open(p,
"rb")``, ``io.BytesIO``, a pyarrow or fsspec stream of an ``s3://`` or ``gs://`` object), or
a pair ``(file_object, name)`` naming it in diagnostics. A file object is read in chunks of
1 MiB as the job goes (never whole), through a pipe, and is not closed; its name is the
``name=`` argument, else its ``name`` attribute, else ``"<stream>"``. Needs ``/dev/fd``
(Linux, macOS)."""

Paths = Union[Source, Iterable[Source]]
"""One input or several."""

Record = Dict[str, Any]
"""One JSON Lines record of the command's output, as a dict."""


class Error(Exception):
    """A job could not be done (the command's exit code 2), or was refused.

    Attributes:
        code: what went wrong, e.g. ``"unreadable"``, ``"output_clash"``, ``"usage"``.
        file: the file (or directory) the error is about, or None.
        line: the 1-based line the error is about, or None.
        message: the command's message (what it prints after ``error:``).
        exit_code: the command's exit code.
        stderr: what the command wrote on stderr.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        file: Optional[str] = None,
        line: Optional[int] = None,
        exit_code: int = 2,
        stderr: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.file = file
        self.line = line
        self.exit_code = exit_code
        self.stderr = stderr

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
            f"file={self.file!r}, line={self.line!r})"
        )


class UsageError(Error, ValueError):
    """The arguments were refused (code ``"usage"``)."""


class InputError(Error):
    """An input could not be read (codes ``"unreadable"``, ``"read_failed"``)."""


class OutputError(Error):
    """An output could not be written: it is an input or another output
    (``"output_clash"``), the shard directory is not empty (``"not_empty"``), or writing
    failed (``"output_failed"``). Nothing was written."""


class JobError(Error):
    """The input cannot be processed as asked: a line over a shard cap
    (``"line_over_cap"``), too long to hold (``"line_too_large"``), too many groups
    (``"too_many_groups"``), tokens not countable (``"tokens_failed"``), or another error
    (``"failed"``)."""


class RefusedError(Error):
    """:func:`shard` refused to write because of invalid lines (code ``"invalid_lines"``)
    or late duplicates (``"late_duplicates"``); ``line`` is the first invalid line.

    Attributes:
        summary: the summary record.
        findings: the diagnostic records.
    """

    summary: Record
    findings: List[Record]


_ERRORS = {
    "usage": UsageError,
    "unreadable": InputError,
    "read_failed": InputError,
    "output_clash": OutputError,
    "not_empty": OutputError,
    "output_failed": OutputError,
}


class Completed(NamedTuple):
    """What :func:`run` returns."""

    exit_code: int
    """0 nothing wrong, 1 the input has problems, 2 the job could not be done."""
    records: List[Record]
    """The JSON Lines output, one dict per line."""
    stderr: str
    """What the command wrote on stderr."""


_GLOBAL = ["--format", "json", "--progress", "never", "--color", "never"]


def _global(
    memory_limit: Union[int, str, None], max_line_bytes: Union[int, str, None]
) -> List[str]:
    args = list(_GLOBAL)
    if memory_limit is not None:
        args += ["--memory-limit", str(memory_limit)]
    if max_line_bytes is not None:
        args += ["--max-line-bytes", str(max_line_bytes)]
    return args


_CHUNK = 1 << 20


class _Streams:
    """The binary file objects of one run: each is fed by a thread, in chunks, into a pipe
    the job reads as ``/dev/fd/N``; diagnostics name it by its name instead."""

    def __init__(self) -> None:
        self._feeds: List[Tuple[int, threading.Thread]] = []
        self._names: Dict[str, str] = {}
        self._errors: List[Tuple[str, BaseException]] = []
        self._pattern: Optional["re.Pattern[str]"] = None

    def add(self, obj: Any, name: Optional[str]) -> str:
        if name is None:
            name = getattr(obj, "name", None)
            if not isinstance(name, str):
                name = "<stream>"
        r, w = os.pipe()
        path = f"/dev/fd/{r}"
        self._names[path] = name
        t = threading.Thread(
            target=self._feed, args=(obj, w, name), name=f"batchkit-feed-{name}", daemon=True
        )
        self._feeds.append((r, t))
        t.start()
        return path

    def _feed(self, obj: Any, w: int, name: str) -> None:
        try:
            while True:
                data = obj.read(_CHUNK)
                if not data:
                    break
                view = memoryview(data)
                while view:
                    view = view[os.write(w, view) :]
        except BrokenPipeError:
            pass  # the job stopped reading (it ended, or stopped early)
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            self._errors.append((name, e))
        finally:
            os.close(w)

    def __del__(self) -> None:
        # A run dropped before its end: its feeds stop at their next write.
        for r, _ in self._feeds:
            try:
                os.close(r)
            except OSError:
                pass

    def close(self) -> None:
        """After the run: ends the feeds (a job that did not read to the end closed its
        pipes; ours are closed here) and raises what reading a file object raised."""
        for r, _ in self._feeds:
            os.close(r)
        for _, t in self._feeds:
            t.join()
        self._feeds.clear()
        if self._errors:
            name, e = self._errors[0]
            raise InputError(
                f"{name}: reading the file object failed: {e}", code="read_failed", file=name
            ) from e

    def rename(self, value: Any) -> Any:
        """``value`` (a record, or part of one) with every pipe path replaced by its name."""
        if not self._names:
            return value
        if self._pattern is None:
            alts = "|".join(re.escape(p) for p in self._names)
            self._pattern = re.compile(f"(?:{alts})(?![0-9])")
        if isinstance(value, str):
            return self._pattern.sub(lambda m: self._names[m.group(0)], value)
        if isinstance(value, list):
            return [self.rename(v) for v in value]
        if isinstance(value, dict):
            return {k: self.rename(v) for k, v in value.items()}
        return value


def _paths(
    paths: Paths,
    what: str = "paths",
    streams: Optional[_Streams] = None,
    name: Union[str, Sequence[Optional[str]], None] = None,
) -> List[str]:
    if isinstance(paths, (str, os.PathLike)) or hasattr(paths, "read"):
        items: List[Any] = [paths]
    elif isinstance(paths, tuple) and len(paths) == 2 and hasattr(paths[0], "read"):
        items = [paths]
    else:
        items = list(paths)  # type: ignore[arg-type]
    if not items:
        raise UsageError(f"{what}: no files given", code="usage")
    names: List[Optional[str]]
    if name is None or isinstance(name, str):
        names = [name] * len(items)
    else:
        names = list(name)
        if len(names) != len(items):
            raise UsageError(
                f"name: {len(names)} names for {len(items)} {what}", code="usage"
            )
    out = []
    for item, n in zip(items, names):
        if isinstance(item, tuple) and len(item) == 2 and hasattr(item[0], "read"):
            item, n = item
        if hasattr(item, "read"):
            if streams is None:
                raise UsageError(f"{what}: a file object is not accepted here", code="usage")
            out.append(streams.add(item, n))
        else:
            out.append(os.fspath(item))
    return out


Partition = Union[str, Tuple[int, int]]
"""Part K of N of the id space: ``"K/N"`` or ``(K, N)`` (see ``--partition``)."""


def _partition(args: List[str], partition: Optional[Partition]) -> None:
    if partition is None:
        return
    if isinstance(partition, str):
        args += ["--partition", partition]
    else:
        k, n = partition
        args += ["--partition", f"{int(k)}/{int(n)}"]


def _opt(args: List[str], flag: str, value: Any) -> None:
    if value is not None:
        args += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]


class _Run:
    """One command on the native worker; records are parsed as they arrive."""

    def __init__(self, args: List[str], streams: Optional[_Streams] = None) -> None:
        self._streams = streams
        self._native = _native.start(args)
        self.exit_code: Optional[int] = None
        self.stderr = ""
        self._last_error: Optional[Record] = None

    def records(self) -> Iterator[Record]:
        while True:
            lines = self._native.next_lines()
            if lines is None:
                break
            for line in lines:
                rec = json.loads(line)
                if self._streams is not None:
                    rec = self._streams.rename(rec)
                if rec.get("type") == "error":
                    self._last_error = rec
                yield rec
        self._end()

    def _end(self) -> None:
        code, failure, stderr = self._native.finish()
        if self._streams is not None:
            failure, stderr = self._streams.rename(failure), self._streams.rename(stderr)
            self._streams.close()
        self.exit_code, self.stderr = code, stderr
        if code != 2:
            return
        if failure is not None:
            cls = _ERRORS.get(str(failure["code"]), JobError)
            line = failure.get("line")
            raise cls(
                str(failure["message"]),
                code=str(failure["code"]),
                file=None if failure.get("file") is None else str(failure["file"]),
                line=None if line is None else int(line),
                stderr=stderr,
            )
        if self._last_error is not None:
            raise InputError(
                self._last_error.get("message", ""),
                code="unreadable",
                file=self._last_error.get("file"),
                stderr=stderr,
            )
        lines = stderr.strip().splitlines()
        message = lines[-1].removeprefix("error: ") if lines else "the job failed"
        raise JobError(message, code="failed", stderr=stderr)

    def collect(self) -> List[Record]:
        return list(self.records())


class Findings(Iterator[Record]):
    """The findings of :func:`validate` or :func:`dupes`, streamed as the job runs.

    Iterate it for the finding records (``"diagnostic"`` records of validate,
    ``"duplicate"`` records of dupes); once it is exhausted, :attr:`summary` holds the
    summary record, :attr:`files` the per-file summaries, :attr:`exit_code` the command's
    exit code. If an input cannot be read, iteration ends by raising :class:`InputError`.
    Stopping early (``break``, dropping it) stops the job.

    ``repr()`` (and so ``print()``) runs the job to the end and shows every finding.
    """

    def __init__(
        self,
        command: str,
        args: List[str],
        kinds: Tuple[str, ...],
        streams: Optional[_Streams] = None,
    ) -> None:
        self.command = command
        self._run = _Run(args, streams)
        self._records = self._run.records()
        self._kinds = kinds
        self._pending: Deque[Record] = deque()
        self._done = False
        self.summary: Optional[Record] = None
        """The summary record, once the findings are exhausted."""
        self.files: List[Record] = []
        """The ``"file"`` records (one per input), once exhausted."""
        self.other: List[Record] = []
        """Records of other types (dupes' diagnostics about lines without an id), once
        exhausted."""
        self.errors: List[Record] = []
        """``"error"`` records: inputs that could not be read."""

    @property
    def exit_code(self) -> Optional[int]:
        """The command's exit code (None while running): 0 clean, 1 problems."""
        return self._run.exit_code

    @property
    def ok(self) -> Optional[bool]:
        """The summary's ``ok`` (None while running)."""
        return None if self.summary is None else bool(self.summary.get("ok"))

    def __iter__(self) -> "Findings":
        return self

    def __next__(self) -> Record:
        if self._pending:
            return self._pending.popleft()
        if self._done:
            raise StopIteration
        for rec in self._records:
            kind = rec.get("type")
            if kind in self._kinds:
                return rec
            if kind == "summary":
                self.summary = rec
            elif kind == "error":
                self.errors.append(rec)
            elif kind == "file":
                self.files.append(rec)
            else:
                self.other.append(rec)
        self._done = True
        raise StopIteration

    def wait(self) -> List[Record]:
        """Runs the job to the end and returns the findings not yet iterated."""
        pending = list(self._pending)
        self._pending.clear()
        pending.extend(self)
        return pending

    def __repr__(self) -> str:
        if not self._done:
            self._pending.extend(self.wait())
        return (
            f"Findings(command={self.command!r}, findings={list(self._pending)!r}, "
            f"summary={self.summary!r})"
        )


def validate(
    paths: Paths,
    provider: str = "auto",
    *,
    schema: Optional[PathLike] = None,
    max_errors: Optional[int] = None,
    temp_dir: Optional[PathLike] = None,
    memory_limit: Union[int, str, None] = None,
    max_line_bytes: Union[int, str, None] = None,
    name: Union[str, Sequence[str], None] = None,
) -> Findings:
    """Checks request files as the provider would on upload, plus batchkit's own checks.

    The same as ``batchkit validate``. Yields one ``"diagnostic"`` record per problem
    (``severity``, ``code``, ``file``, ``line``, ``offset``, ``custom_id``,
    ``first_line``, ``pointer``, ``message``); afterwards ``summary`` holds the summary.

    Args:
        paths: a file or several (checked as one batch for duplicate ids), paths or
            binary file objects (see :data:`Source`); zstd is recognised by its magic bytes.
        provider: ``"auto"``, ``"openai"``, ``"azure"``, ``"anthropic"``, ``"gemini"``,
            ``"vertex"``, ``"mistral"``, ``"groq"``, ``"together"``, ``"xai"``,
            ``"bedrock"`` or ``"openai-compatible"``.
        schema: a JSON Schema every request line must satisfy.
        max_errors: yield at most this many findings (all are still counted).
        temp_dir: where spilled ids go.
        memory_limit: bound of the process memory (``"256MiB"``, or bytes).
        max_line_bytes: the longest line accepted (``"64MiB"``, or bytes).
        name: what diagnostics call a file object (one name, or one per input).

    >>> found = batchkit.validate("fixtures/validate/openai-faulty.jsonl", provider="openai")
    >>> first = next(found)
    >>> first["code"], first["line"]
    ('invalid_json', 2)
    >>> len(found.wait()) + 1, found.summary["errors"], found.ok
    (16, 16, False)
    """
    args = _global(memory_limit, max_line_bytes) + ["validate", "--provider", provider]
    _opt(args, "--schema", schema)
    _opt(args, "--max-errors", max_errors)
    _opt(args, "--temp-dir", temp_dir)
    streams = _Streams()
    inputs = _paths(paths, "paths", streams, name)
    return Findings("validate", args + ["--"] + inputs, ("diagnostic",), streams)


def dupes(
    paths: Paths,
    provider: str = "auto",
    *,
    write_unique: Optional[PathLike] = None,
    temp_dir: Optional[PathLike] = None,
    memory_limit: Union[int, str, None] = None,
    max_line_bytes: Union[int, str, None] = None,
    partition: Optional[Partition] = None,
    name: Union[str, Sequence[str], None] = None,
) -> Findings:
    """Finds every request id used more than once, across all files together.

    The same as ``batchkit dupes``: exact, and bounded in memory (the id set spills to
    disk past ``memory_limit``). Yields one ``"duplicate"`` record per repeated id
    (``custom_id``, ``lines``, ``files``); afterwards ``summary`` holds the summary.

    Args:
        paths: a file or several, paths or binary file objects (see :data:`Source`).
        provider: which id field (``"auto"``: ``custom_id``, ``key`` for Gemini lines,
            ``recordId`` for Bedrock lines), or a provider name.
        write_unique: write the input minus later duplicates here (bytes unchanged).
        temp_dir: where spilled ids go.
        memory_limit: bound of the process memory (``"64MiB"``, or bytes).
        max_line_bytes: the longest line accepted.
        partition: only the ids of part K of N (``"K/N"`` or ``(K, N)``); lines without
            an id are part 0's. The runs of all parts find what one run finds, and their
            summaries' counts add up to its counts.
        name: what diagnostics call a file object (one name, or one per input).

    >>> [d["custom_id"] for d in batchkit.dupes("fixtures/bedrock/faulty.jsonl")]
    ['CALL0000001']
    """
    args = _global(memory_limit, max_line_bytes) + ["dupes", "--provider", provider]
    _opt(args, "--write-unique", write_unique)
    _opt(args, "--temp-dir", temp_dir)
    _partition(args, partition)
    streams = _Streams()
    inputs = _paths(paths, "paths", streams, name)
    return Findings("dupes", args + ["--"] + inputs, ("duplicate",), streams)


@overload
def tokens(
    paths: Paths,
    *,
    model: Optional[str] = ...,
    per_request: Literal[False] = ...,
    pricing: Optional[PathLike] = ...,
    max_models: Optional[int] = ...,
    target: Union[str, Sequence[str], None] = ...,
    memory_limit: Union[int, str, None] = ...,
    max_line_bytes: Union[int, str, None] = ...,
) -> Record: ...
@overload
def tokens(
    paths: Paths,
    *,
    model: Optional[str] = ...,
    per_request: Literal[True],
    pricing: Optional[PathLike] = ...,
    max_models: Optional[int] = ...,
    target: Union[str, Sequence[str], None] = ...,
    memory_limit: Union[int, str, None] = ...,
    max_line_bytes: Union[int, str, None] = ...,
) -> Tuple[Record, List[Record]]: ...
def tokens(
    paths: Paths,
    *,
    model: Optional[str] = None,
    per_request: bool = False,
    pricing: Optional[PathLike] = None,
    max_models: Optional[int] = None,
    target: Union[str, Sequence[str], None] = None,
    memory_limit: Union[int, str, None] = None,
    max_line_bytes: Union[int, str, None] = None,
) -> Union[Record, Tuple[Record, List[Record]]]:
    """Counts input tokens with the model's tokenizer and prices the batch.

    The same as ``batchkit tokens``. Returns the summary record (``input_tokens``,
    ``max_output_tokens``, ``exact``, ``cost``, ``models``, ``prices``, ...); with
    ``per_request=True``, the pair ``(summary, requests)`` where ``requests`` holds one
    ``"request"`` record per counted line (``file``, ``line``, ``custom_id``, ``model``,
    ``encoding``, ``input_tokens``, ``max_output_tokens``, ``exact``).

    Args:
        paths: a file or several.
        model: count every request as this model (Azure deployment names).
        per_request: also return the per-request records.
        pricing: a TOML price table adding to or replacing the embedded one.
        max_models: models listed one by one; the others are summed as ``"(other)"``.
        target: ``"PROVIDER/MODEL"`` or several: also price the file there, converted as
            ``batchkit convert`` sends it; the summary's ``targets`` lists the file's own
            provider and model first, then each target cheapest first (``input_tokens``,
            ``exact``, ``cost``, ``files``).
        memory_limit: bound of the process memory.
        max_line_bytes: the longest line accepted.

    >>> summary, requests = batchkit.tokens("fixtures/tokens/chat.jsonl", per_request=True)
    >>> summary["requests"], sum(r["input_tokens"] for r in requests) == summary["input_tokens"]
    (4, True)
    """
    args = _global(memory_limit, max_line_bytes) + ["tokens"]
    _opt(args, "--model", model)
    _opt(args, "--pricing", pricing)
    _opt(args, "--max-models", max_models)
    for t in [target] if isinstance(target, str) else (target or []):
        _opt(args, "--target", t)
    if per_request:
        args.append("--per-request")
    streams = _Streams()
    records = _Run(args + ["--"] + _paths(paths, "paths", streams), streams).collect()
    summary = records[-1]
    if per_request:
        return summary, [r for r in records if r.get("type") == "request"]
    return summary


def shard(
    path: PathLike,
    out_dir: PathLike,
    *,
    provider: str = "auto",
    max_requests: Optional[int] = None,
    max_bytes: Union[int, str, None] = None,
    max_tokens: Optional[int] = None,
    max_embedding_inputs: Optional[int] = None,
    model: Optional[str] = None,
    split_by: Optional[Literal["model", "url"]] = None,
    max_groups: Optional[int] = None,
    emit: Literal["jsonl", "anthropic-body"] = "jsonl",
    compress: Union[bool, int] = False,
    skip_invalid: bool = False,
    force: bool = False,
    stem: Optional[str] = None,
    fsync: bool = True,
    memory_limit: Union[int, str, None] = None,
    max_line_bytes: Union[int, str, None] = None,
) -> Record:
    """Cuts a request file into shards the provider accepts, with a ``manifest.json``.

    The same as ``batchkit shard``, writing the same files. Returns the summary record
    (``shards``, ``requests``, ``rejected``, ``written``, ...). Invalid lines make it
    refuse and write nothing (:class:`RefusedError`), unless ``skip_invalid``, which
    writes them to ``OUT_DIR/rejected.jsonl``.

    Args:
        path: the request file.
        out_dir: the output directory (created; must be empty unless ``force``).
        provider: whose rules and caps.
        max_requests, max_bytes, max_tokens, max_embedding_inputs: caps per shard
            (``max_bytes`` as bytes or ``"100MB"``); the provider's by default.
        model: count tokens as this model.
        split_by: give each ``"model"`` (or ``"url"``) its own run of shards.
        max_groups: most groups with ``split_by``.
        emit: ``"jsonl"`` or ``"anthropic-body"``.
        compress: write zstd shards; True for level 3, or a level 1 to 22.
        skip_invalid: write invalid lines to ``rejected.jsonl`` and shard the rest.
        force: write into a non-empty directory (see the command's help).
        stem: shard file names start with this.
        fsync: sync each file before renaming it into place.
        memory_limit: bound of the process memory.
        max_line_bytes: the longest line accepted.

    >>> import tempfile, os
    >>> out = tempfile.mkdtemp()
    >>> s = batchkit.shard("fixtures/validate/openai-valid.jsonl", out, max_requests=2)
    >>> s["shards"], s["requests"], sorted(os.listdir(out))[-1]
    (3, 5, 'openai-valid-00003.jsonl')
    """
    args = _global(memory_limit, max_line_bytes) + [
        "shard",
        "--out-dir",
        os.fspath(out_dir),
        "--provider",
        provider,
        "--emit",
        emit,
    ]
    _opt(args, "--max-requests", max_requests)
    _opt(args, "--max-bytes", max_bytes)
    _opt(args, "--max-tokens", max_tokens)
    _opt(args, "--max-embedding-inputs", max_embedding_inputs)
    _opt(args, "--model", model)
    _opt(args, "--split-by", split_by)
    _opt(args, "--max-groups", max_groups)
    _opt(args, "--stem", stem)
    if compress is not False:
        args.append("--compress")
        if compress is not True:
            args += ["--compress-level", str(int(compress))]
    if skip_invalid:
        args.append("--skip-invalid")
    if force:
        args.append("--force")
    if not fsync:
        args.append("--no-fsync")
    records = _Run(args + ["--", os.fspath(path)]).collect()
    summary = records[-1]
    refused = summary.get("refused")
    if refused:
        findings = [r for r in records if r.get("type") == "diagnostic"]
        lines = [f["line"] for f in findings if f.get("line") is not None]
        err = RefusedError(
            f"{summary.get('file')}: {summary.get('invalid_lines')} invalid lines; "
            "nothing was written (pass skip_invalid=True to shard the rest)",
            code=str(refused),
            file=summary.get("file"),
            line=min(lines) if lines else None,
            exit_code=1,
        )
        err.summary, err.findings = summary, findings
        raise err
    return summary


def join(
    requests: Paths,
    results: Paths,
    out: PathLike,
    *,
    retry: Optional[PathLike] = None,
    orphans: Optional[PathLike] = None,
    duplicates: Optional[PathLike] = None,
    temp_dir: Optional[PathLike] = None,
    memory_limit: Union[int, str, None] = None,
    max_line_bytes: Union[int, str, None] = None,
    retry_on: Optional[Sequence[str]] = None,
    answer_schema: Optional[PathLike] = None,
    expect_json: bool = False,
    raise_max_tokens: Optional[float] = None,
    rejects: Optional[PathLike] = None,
    id_map: Optional[PathLike] = None,
    partition: Optional[Partition] = None,
    _earlier_ids: Optional[PathLike] = None,
) -> Record:
    """Joins downloaded batch results back to their requests by id.

    The same as ``batchkit join``, writing the same files: ``out`` has one line per
    request in request order; ``retry`` the request lines to send again; ``rejects`` the
    request lines that cannot be sent again as they are (not JSON, no id, no body), which
    never go to ``retry``; ``orphans`` results matching no request; ``retry_on`` the statuses whose requests go to ``retry``
    (default: errored, expired, canceled, missing, truncated, invalid_answer);
    ``raise_max_tokens`` a factor above 1 by which the output cap of each truncated request
    written to ``retry`` is multiplied (rounded up, held to the model's output limit where
    batchkit knows it; every other byte of the line kept). Returns the summary record
    (``requests``, ``succeeded``, ``truncated``, ``refused``, ``invalid_answer``, ``errored``, ``missing``,
    ``to_retry``, ``usage``, ``models`` with their ``stop_reasons``, ``cost_usd``, ...).
    Finished answers are checked against the structured output their request asked for
    (``invalid_answer`` when they break it); ``answer_schema`` (a JSON Schema file) replaces
    the request's schema, ``expect_json`` asks for JSON of requests that ask for nothing.
    The summary counts ``raised`` and ``raise_unchanged`` with ``raise_max_tokens``.
    ``id_map`` is the map ``convert(..., id_map=)`` wrote: results naming its new ids join
    the requests with the original ones. ``requests`` and ``results`` may be binary file
    objects (see :data:`Source`; a request object too big for memory beside the results
    is kept in a temporary file for the second pass). ``partition`` (``"K/N"`` or ``(K, N)``) joins only
    the request and result lines whose id is in part K of N (lines without an id are part
    0's): the outputs of all parts, interleaved in request (result) order, are one run's,
    and their summaries' counts add up to its counts.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> s = batchkit.join("fixtures/join/openai_requests.jsonl",
    ...                   ["fixtures/join/openai_output.jsonl", "fixtures/join/openai_errors.jsonl"],
    ...                   os.path.join(d, "merged.jsonl"), retry=os.path.join(d, "retry.jsonl"))
    >>> s["requests"], s["succeeded"], s["to_retry"]
    (7, 2, 4)
    """
    args = _global(memory_limit, max_line_bytes) + ["join", "--out", os.fspath(out)]
    _opt(args, "--retry", retry)
    if retry_on is not None:
        args += ["--retry-on", ",".join(retry_on)]
    if raise_max_tokens is not None:
        args += ["--raise-max-tokens", repr(float(raise_max_tokens))]
    _opt(args, "--orphans", orphans)
    _opt(args, "--duplicates", duplicates)
    _opt(args, "--rejects", rejects)
    _opt(args, "--temp-dir", temp_dir)
    _opt(args, "--answer-schema", answer_schema)
    _opt(args, "--id-map", id_map)
    _opt(args, "--earlier-ids", _earlier_ids)
    _partition(args, partition)
    if expect_json:
        args.append("--expect-json")
    streams = _Streams()
    args += ["--requests", *_paths(requests, "requests", streams)]
    args += ["--results", *_paths(results, "results", streams)]
    records = _Run(args, streams).collect()
    return records[-1]


def compare(
    a: PathLike,
    b: PathLike,
    *,
    requests: Optional[Paths] = None,
    fields: Optional[Sequence[str]] = None,
    out: Optional[PathLike] = None,
    temp_dir: Optional[PathLike] = None,
    memory_limit: Union[int, str, None] = None,
    max_line_bytes: Union[int, str, None] = None,
) -> Record:
    """Per id, do two sets of answers agree?

    The same as ``batchkit compare``: ``a`` and ``b`` are merged files of ``join``, or result
    files when ``requests`` is given (each is then joined to them first). ``fields`` are JSON
    pointers to count agreement on (default: every top-level field of JSON answers); ``out``
    gets one JSON line per id that does not agree. Returns the summary record (``same``,
    ``json_equal``, ``differ``, ``only_a``, ``only_b``, ``neither``, ``missing_a``,
    ``missing_b``, ``agreement``, ``fields``, ``a`` and ``b`` with their usage and cost,
    ``ok``, ...).

    >>> s = batchkit.compare("fixtures/compare/openai_merged.jsonl",
    ...                      "fixtures/compare/anthropic_merged.jsonl", fields=["/label"])
    >>> s["same"], s["json_equal"], s["differ"], s["agreement"]
    (2, 2, 2, 0.666667)
    """
    args = _global(memory_limit, max_line_bytes) + ["compare", os.fspath(a), os.fspath(b)]
    if fields is not None:
        if isinstance(fields, str):
            fields = [fields]
        args += ["--fields", ",".join(fields)]
    _opt(args, "--out", out)
    _opt(args, "--temp-dir", temp_dir)
    if requests is not None:
        args += ["--requests", *_paths(requests, "requests")]
    records = _Run(args).collect()
    return records[-1]


def convert(
    paths: Paths,
    to: str,
    out: PathLike,
    *,
    model: Optional[str] = None,
    model_map: Optional[Dict[str, str]] = None,
    lossy: bool = False,
    default_max_tokens: Optional[int] = None,
    id_map: Optional[PathLike] = None,
    cache: Optional[str] = None,
    memory_limit: Union[int, str, None] = None,
    max_line_bytes: Union[int, str, None] = None,
) -> Record:
    """Rewrites request lines for another provider.

    The same as ``batchkit convert``: OpenAI chat completions, Responses and embeddings,
    Anthropic Messages, Gemini and Vertex, Bedrock Claude and Nova lines written as ``to``'s
    lines (``"openai"``, ``"openai-responses"``, ``"anthropic"``, ``"gemini"``, ``"vertex"``,
    ``"bedrock"``, ``"bedrock-nova"``, or a host that takes OpenAI's lines) to ``out``.
    ``model`` or ``model_map`` (source model -> target model) names the target model;
    ``lossy`` drops fields with no equivalent instead of leaving their lines out;
    ``default_max_tokens`` is the cap of lines without one where the target requires one;
    ``id_map`` gets ``{"id": new, "original": old}`` for ids the target does not accept;
    ``cache`` is ``"keep"``, ``"none"`` or ``"auto"`` (prompt-cache breakpoints).
    Returns the summary record (``converted``, ``left_out``, ``dropped``,
    ``max_tokens_added``, ``ids_renamed``, ``written``, ``breakpoints_dropped``, ``ok``).

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> s = batchkit.convert("fixtures/convert/openai-chat.jsonl", "anthropic",
    ...                      os.path.join(d, "claude.jsonl"), model="claude-haiku-4-5")
    >>> s["converted"], s["left_out"]
    (6, 0)
    """
    args = _global(memory_limit, max_line_bytes) + [
        "convert",
        "--to",
        to,
        "--out",
        os.fspath(out),
    ]
    _opt(args, "--model", model)
    if model_map:
        args += ["--model-map", ",".join(f"{a}={b}" for a, b in model_map.items())]
    if lossy:
        args.append("--lossy")
    _opt(args, "--default-max-tokens", default_max_tokens)
    _opt(args, "--id-map", id_map)
    _opt(args, "--cache", cache)
    streams = _Streams()
    args += _paths(paths, "paths", streams)
    records = _Run(args, streams).collect()
    return records[-1]


def run(*args: Union[str, "os.PathLike[str]"]) -> Completed:
    """Runs ``batchkit --format json ARGS...`` and returns every record, without raising
    for exit codes 1 and 2.

    >>> batchkit.run("validate", "fixtures/validate/openai-valid.jsonl").exit_code
    0
    """
    r = _Run(_GLOBAL + [os.fspath(a) for a in args])
    records: List[Record] = []
    try:
        for rec in r.records():
            records.append(rec)
    except Error:
        pass
    return Completed(r.exit_code if r.exit_code is not None else 2, records, r.stderr)
