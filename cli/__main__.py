"""``python -m cli``: the ``sanad`` command."""

import sys

from cli.main import main

sys.exit(main())
