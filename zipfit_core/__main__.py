"""`python -m zipfit_core` runs the `zipfit` command line."""

import sys

from .cli import main

sys.exit(main())
