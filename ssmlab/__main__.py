"""`python -m ssmlab`: the `ssmlab` command, for a ProxyCommand where the console script is not on PATH."""

from ssmlab.cli import main

raise SystemExit(main())
