"""Entry point for `python -m nb2prod`."""

from nb2prod.cli import main

main()
