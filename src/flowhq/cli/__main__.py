"""``python -m flowhq.cli``."""

import sys

from flowhq.cli import main

sys.exit(main())
