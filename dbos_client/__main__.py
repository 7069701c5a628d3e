"""``python -m dbos_client``: the ``dbos-client`` command line, where the script is not on PATH."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
