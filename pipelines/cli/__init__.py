"""The `engagement` command (Typer): a thin front over the package's functions."""
