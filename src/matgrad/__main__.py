"""``python -m matgrad`` runs the ``matgrad`` command."""

import sys

from matgrad.cli import main

sys.exit(main())
