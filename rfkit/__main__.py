"""Entry point of ``python -m rfkit``; see `rfkit.cli`."""
import sys

from rfkit.cli import main

sys.exit(main())
