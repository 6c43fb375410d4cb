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

def join_request_keys(
    path: str, name: str, file: int, n: int, max_line_bytes: Optional[int] = None
) -> List[bytes]:
    """Request file number ``file``: its key rows, one blob per part of ``n``."""

def join_result_keys(
    path: str,
    name: str,
    file: int,
    n: int,
    id_map: Optional[str] = None,
    max_line_bytes: Optional[int] = None,
) -> Tuple[List[bytes], str]:
    """Result file number ``file``: its key rows, one blob per part of ``n``, and its share
    of the summary (JSON)."""

def join_decide(
    requests: List[bytes], results: List[bytes]
) -> Tuple[Dict[int, bytes], Dict[int, List[Tuple[str, int, int]]], Tuple[int, int, int, int]]:
    """One part's key rows decided: where each result line goes (per result file), the ids
    earlier request files used first (per request file), and the counts (joined, matched by
    content, orphans, duplicates)."""

def join_deal(
    path: str,
    name: str,
    dests: List[bytes],
    to_request: List[Optional[str]],
    orphans: Optional[str] = None,
    duplicates: Optional[str] = None,
    max_line_bytes: Optional[int] = None,
) -> List[int]:
    """Result file ``path`` read once more, each line written where the parts sent it;
    returns the lines written per request file."""

def join_summary(sides: List[str], counts: List[Tuple[int, int, int, int]]) -> str:
    """The result side of the summary (JSON) from the result files' shares and the parts'
    counts, priced at the embedded prices."""

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
