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
