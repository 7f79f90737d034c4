"""``python -m genforge`` runs the command line (torchrun launches it this way too)."""

from genforge.cli.main import main

main()
