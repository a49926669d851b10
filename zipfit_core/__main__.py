"""`python -m zipfit_core` runs the `zipfit` command line."""

import sys

from zipfit_core.cli.main import main

sys.exit(main())
