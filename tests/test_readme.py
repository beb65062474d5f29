"""The README cannot drift: its example blocks are what the commands print (tests/readme_blocks.py)."""

from __future__ import annotations

from readme_blocks import README, in_readme, rendered


def test_the_readme_examples_are_what_the_commands_print():
    stale = {name for name, block in rendered().items() if in_readme(README.read_text(encoding="utf-8"))[name] != block}
    assert not stale, f"README blocks out of date: {sorted(stale)}; run .venv/bin/python tests/readme_blocks.py"
