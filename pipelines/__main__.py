"""`python -m pipelines` runs the `engagement` command line."""

from pipelines.cli.app import main

raise SystemExit(main())
