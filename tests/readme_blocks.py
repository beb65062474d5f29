"""The README's example blocks, produced by running the real commands on files in the repository.

    .venv/bin/python tests/readme_blocks.py      # rewrite the blocks between their markers

tests/test_readme.py fails when a block is stale. Paths that depend on the machine (the temporary
lake, the clone's folder, the rejects file's key) are shown as a user of the default paths sees them.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT))


def _run(argv: list[str], lake: Path) -> tuple[int, str]:
    """`engagement ARGV --lake LAKE` in-process from the repository's folder: exit code, stdout + stderr."""
    from pipelines.cli import main

    out = io.StringIO()
    saved = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main([*argv, "--lake", str(lake)])
    finally:
        os.chdir(saved)
    return code, out.getvalue()


def _shown(text: str, lake: Path) -> str:
    """What a user running from the repository with the default lake would see."""
    text = text.replace(str(lake), "data/lake").replace(str(ROOT), "/srv/chat-engagement")
    return re.sub(r"rejects/[0-9a-f]{16}\.jsonl", "rejects/<file-key>.jsonl", text)


def ingest_block(lake: Path) -> str:
    code, out = _run(["ingest", "data/sample", "data/examples/nightly.json"], lake)
    assert code == 0, out
    [rejects] = (lake / "rejects").glob("*.jsonl")
    lines = ["$ engagement ingest data/sample data/examples/nightly.json", out.rstrip("\n"), ""]
    lines += ["$ cat data/lake/rejects/<file-key>.jsonl", rejects.read_text(encoding="utf-8").rstrip("\n")]
    return _shown("\n".join(lines), lake)


def weekly_block(lake: Path) -> str:
    lines = []
    for start in ("2023-05-19T23:59:59.999Z", "2023-05-32"):
        code, out = _run(["weekly-data", "--start", start], lake)
        lines += [f"$ engagement weekly-data --start {start}", out.rstrip("\n")]
        if code:
            lines += ["$ echo $?", str(code)]
        else:
            lines.append("")
    return _shown("\n".join(lines), lake)


BLOCKS: dict[str, Callable[[Path], str]] = {"ingest": ingest_block, "weekly": weekly_block}


def rendered() -> dict[str, str]:
    """Each block's text, from one fresh lake (the blocks run in order on it)."""
    with tempfile.TemporaryDirectory() as folder:
        lake = Path(folder) / "lake"
        return {name: "```\n" + make(lake) + "\n```" for name, make in BLOCKS.items()}


def in_readme(text: str) -> dict[str, str]:
    """The blocks as the README has them."""
    return {
        name: re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S).group(1) for name in BLOCKS
    }


def write() -> None:
    text = README.read_text(encoding="utf-8")
    for name, block in rendered().items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", re.S)
        text = pattern.sub(lambda m, block=block: m.group(1) + block + m.group(2), text)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    write()
