"""`python -m pipelines` runs the `engagement` command line."""

from pipelines.cli import main

raise SystemExit(main())
