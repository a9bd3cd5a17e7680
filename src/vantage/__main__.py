"""``python -m vantage``: the command line."""

from vantage.cli import main

main()
