"""`python -m engine` is the `scandex` command."""

import sys

from engine.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
