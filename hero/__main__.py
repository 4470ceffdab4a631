"""``python -m hero``: the CLI."""
import sys

from hero.cli.main import main

sys.exit(main())
