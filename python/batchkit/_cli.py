"""The ``batchkit`` console script: the command itself, run in process."""

import sys

from . import _native


def main() -> None:
    """Runs ``batchkit`` with this process's arguments and exits with its code."""
    sys.exit(_native.main(["batchkit", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
