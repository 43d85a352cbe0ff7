"""`python -m stillmotion ...`: the same as the `stillmotion` command, for when the scripts
folder is not on PATH (a common state of Windows Python installs)."""

import sys

from .cli import main

sys.exit(main())
