"""``python -m reconciler`` runs the consumer, like ``reconciler consume``."""

import sys

from reconciler.cli import main

sys.exit(main(sys.argv[1:] or ["consume"]))
