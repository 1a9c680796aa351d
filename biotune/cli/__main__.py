"""`python -m biotune.cli`: the `biotune` command (as torchrun and the tests launch it)."""

import sys

from biotune.cli import main

sys.exit(main())
