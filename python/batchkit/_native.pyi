"""The extension module: the batchkit command, run in process (internal API)."""

from typing import Dict, List, Optional, Tuple, Union

__version__: str

class Run:
    """A command running on a worker thread."""

    def next_lines(self) -> Optional[List[str]]:
        """The next lines of stdout, or None at the end; Ctrl-C raises KeyboardInterrupt."""
    def finish(
        self,
    ) -> Tuple[int, Optional[Dict[str, Union[str, int, None]]], str]:
        """Waits for the end: (exit code, failure or None, stderr)."""
    def cancel(self) -> None:
        """Asks the run to stop at its next read or write."""

def start(args: List[str]) -> Run:
    """Starts ``batchkit ARGS...`` (without the program name) on a worker thread."""

def main(argv: List[str]) -> int:
    """The binary's main: ``argv`` includes the program name; returns the exit code."""

def split_parts(
    requests: List[Tuple[str, str]],
    parts: List[List[Optional[str]]],
    outs: List[List[Optional[str]]],
) -> None:
    """A join run in parts: each part's merged, retry and rejects files dealt back to the
    request files (``(path, name)`` in order), written to ``outs`` (three paths or None per
    request file). Raises OSError when the parts do not match the requests."""

def part_of(id: str, n: int) -> int:
    """The part of ``n`` that decoded id ``id`` belongs to (``--partition``)."""

def dupes_file_keys(
    path: str,
    name: str,
    file_index: int,
    n_parts: int,
    provider: str = "auto",
    max_line_bytes: Optional[str] = None,
    memory_limit: Optional[str] = None,
) -> Tuple[List[bytes], str, List[Tuple[str, str]], str]:
    """Reads input ``file_index`` once: its key rows, one blob per part of ``n_parts``, and,
    as ``dupes --format json`` on that input alone prints them, its file record, its other
    records as ``(kind, record)`` (``"error"``, ``"problem"``, ``"too_large"``) and the
    summary (records as JSON text). Raises ValueError for an unknown provider or size."""

def dupes_part(
    blobs: List[bytes],
    names: List[str],
    memory_limit: Optional[str] = None,
    temp_dir: Optional[str] = None,
) -> Tuple[List[Tuple[Tuple[int, int], str]], int, int, bool]:
    """One part's duplicates from every input's blob of that part (any order):
    ``([((input, line), record)], duplicate_ids, duplicate_lines, spilled)``, records as
    JSON text in order of first use, keyed by where that is. Raises OSError for blobs that
    are not key rows."""
