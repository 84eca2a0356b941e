"""``python -m nbmlops`` runs the command line."""

from .cli import main

main()
