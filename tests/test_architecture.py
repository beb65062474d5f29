"""The tree is the architecture: each subpackage imports only from itself and the stages before it."""

from __future__ import annotations

import ast

from conftest import ROOT

PACKAGE = ROOT / "pipelines"
# the data's path, in order; the top-level modules not named here are foundations every stage may use
STAGES = ["inputs", "lake", "ingest", "metrics", "publish", "api", "orchestration", "cli"]
ORCHESTRATION = {"runs", "status", "flows", "prefect_runtime", "notebook", "verify", "__init__"}


def _stage(module: str) -> int:
    """The stage of `pipelines.x[.y]`: its index in STAGES, or -1 for a foundation module."""
    parts = module.split(".")
    if len(parts) < 2:
        return -1
    if parts[1] in STAGES:
        return STAGES.index(parts[1])
    if parts[1] in ORCHESTRATION:
        return STAGES.index("orchestration")
    if parts[1] == "__main__":
        return STAGES.index("cli")
    return -1


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """Every pipelines module a file imports, at any depth (the CLI's imports are inside functions)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pipelines":
            if node.module == "pipelines":
                found += [(node.lineno, f"pipelines.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "pipelines"]
    return found


def test_no_module_imports_a_later_stage():
    backwards = []
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 40
    for path in modules:
        module = "pipelines." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for line, imported in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if _stage(imported) > _stage(module):
                backwards.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    assert backwards == []


def test_every_subpackage_is_a_stage():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(STAGES) - {"orchestration"}


def test_the_check_sees_a_backward_import():
    tree = ast.parse("def f():\n    from pipelines.publish import mail\n")
    [(line, imported)] = _imports(tree)
    assert _stage(imported) > _stage("pipelines.lake.state")
