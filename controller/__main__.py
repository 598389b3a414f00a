"""`python -m controller`: the same entry point as the `camctl` console script."""

from controller.cli import main

main()
