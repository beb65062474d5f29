"""The README and docs/ cannot drift: their example blocks are what the commands print
(tests/doc_blocks.py), and the architecture page names every folder of the package and the SQL."""

from __future__ import annotations

from doc_blocks import BLOCKS, MEASURED, ROOT, in_docs, rendered


def test_every_example_block_is_what_the_commands_print():
    where = in_docs()
    stale = sorted(
        f"{page.relative_to(ROOT)}: {name}"
        for name, block in rendered().items()
        for page, shown in where.get(name, [])
        if shown != block
    )
    assert not stale, f"example blocks out of date: {stale}; run make examples"


def test_every_block_is_made_by_a_command_and_stands_once():
    where = in_docs()
    assert set(where) == set(BLOCKS) | {"demo", *MEASURED}
    assert {name: len(places) for name, places in where.items() if len(places) != 1} == {}


def test_the_architecture_page_names_every_folder_of_the_package_and_the_sql():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    folders = {f"{p.name}/" for p in (ROOT / "pipelines").iterdir() if (p / "__init__.py").exists()}
    folders |= {f"{p.name}/" for p in (ROOT / "queries").iterdir() if p.is_dir() and p.name != "__pycache__"}
    top = {p.name for p in (ROOT / "pipelines").glob("*.py")} - {"__init__.py", "__main__.py"}
    missing = sorted(name for name in folders | top if name not in text)
    assert not missing, f"docs/architecture.md leaves out {missing}"


def test_the_readme_stays_short_and_names_every_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 160
    from pipelines.cli.app import app

    commands = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert commands and all(f"`engagement {name}" in text for name in commands)
