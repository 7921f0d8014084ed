"""Imports run one way: each part of the code imports only parts below it, so
the tree reads as the architecture (README, "Architecture") and a part can be
understood, tested and deployed without those above it. Read from the source
itself, so a new import that breaks the order fails here the day it is added."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lowest first. A module may import its own part and any part listed before it.
LAYERS = [
    ("verifier",),  # the public verifier and the shared kernel
    (
        "issuer.config",
        "issuer.db",
        "issuer.errors",
        "issuer.models",
        "issuer.processes",
        "issuer.storage",
    ),  # the issuer's base
    ("issuer.ledger",),
    ("issuer.certificates",),
    ("issuer.pdf",),
    ("issuer.office",),
    ("issuer.web", "issuer.cli", "issuer.migrations"),
]


def layer_of(module: str) -> int | None:
    if module == "issuer":  # the package's own __init__: a docstring
        return 1
    for rank, parts in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in parts):
            return rank
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, relative ones resolved."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # `from issuer import office` names a module: judge the module itself
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return found


SOURCES = sorted(p for pkg in ("verifier", "issuer") for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_one_way(path):
    own = layer_of(module_name(path))
    assert own is not None, f"{path} belongs to no layer: add its part to LAYERS"
    upward = []
    for line, target in imports_of(path):
        rank = layer_of(target)
        # a name imported from a package (`from issuer.db import engine`) has no layer of its own
        if rank is None:
            rank = layer_of(target.rpartition(".")[0])
        if rank is not None and rank > own:
            upward.append(f"line {line}: {target}")
    assert not upward, f"{path.relative_to(ROOT)} imports a part above its own: {upward}"


def test_the_layers_see_a_violation():
    """The check itself: a ledger module importing the office would be caught."""
    assert layer_of("issuer.office.jobs") > layer_of("issuer.ledger.credits.engine")
    assert layer_of("issuer.web.office") > layer_of("issuer.office.jobs") > layer_of("verifier.verify")
