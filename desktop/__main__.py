"""`python -m desktop` opens the Scandex window."""

import sys

from desktop.app import main

sys.exit(main())
