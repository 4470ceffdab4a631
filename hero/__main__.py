"""``python -m hero``: the CLI."""
import sys

from hero.cli import main

sys.exit(main())
