"""The README cannot drift: its example blocks are what the commands print (tests/readme_blocks.py)."""

from __future__ import annotations

from readme_blocks import README, in_readme, rendered


def test_the_readme_examples_are_what_the_commands_print():
    stale = {name for name, block in rendered().items() if in_readme(README.read_text(encoding="utf-8"))[name] != block}
    assert not stale, f"README blocks out of date: {sorted(stale)}; run .venv/bin/python tests/readme_blocks.py"


def test_the_module_map_names_every_module_and_query_folder():
    """The module map ("How it is built") names every module of pipelines/ and folder of queries/."""
    from readme_blocks import ROOT

    text = README.read_text(encoding="utf-8")
    section = text[text.index("## How it is built") : text.index("## Benchmark")]
    modules = {p.name for p in (ROOT / "pipelines").glob("*.py")} - {"__init__.py"}
    folders = {f"{p.name}/" for p in (ROOT / "queries").iterdir() if p.is_dir()}
    missing = sorted(name for name in modules | folders if f"`{name}`" not in section)
    assert not missing, f"README's module map leaves out {missing}"
