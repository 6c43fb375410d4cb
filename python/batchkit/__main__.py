"""``python -m batchkit``: the same as the ``batchkit`` command."""

from ._cli import main

main()
