"""`python -m redline.cli`: the `redline` command, for when the console script is not on PATH
(the explorer's browser test starts it this way)."""

from redline.cli import main

main()
