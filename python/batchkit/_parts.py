"""Arguments :mod:`batchkit.ray` and :mod:`batchkit.spark` check alike, and the JSON their
tasks pass back (the steps themselves are in :mod:`batchkit._dupes_keys` and
:mod:`batchkit._join_keys`)."""

from __future__ import annotations

import json
import os
from typing import Any, List, Optional, Tuple

import batchkit


def paths_of(paths: Any, what: str) -> List[str]:
    """One path or several, as strings; none is a usage error naming ``what``."""
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    out = [os.fspath(p) for p in paths]
    if not out:
        raise batchkit.UsageError(f"{what}: no files given", code="usage")
    return out


def encode(rec: Any) -> str:
    return json.dumps(rec)


def decode(text: str) -> Any:
    return json.loads(text)


def parts_count(n: Optional[int], default: int) -> int:
    """``num_partitions``, or ``default``; below 1 is a usage error."""
    n = default if n is None else int(n)
    if n < 1:
        raise batchkit.UsageError("num_partitions must be at least 1", code="usage")
    return n


__all__: Tuple[str, ...] = ()
