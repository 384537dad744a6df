"""Every refusal type the code can raise is declared once, with a title and a status,
and documented; every declared type is one the code can raise or has retired."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ledger.errors import PROBLEMS

ROOT = Path(__file__).resolve().parents[2]
RETIRED = {"netting-too-large", "unknown-member", "unknown-key"}  # kept, no longer answered


def raised_types() -> dict[str, str]:
    """Each string literal passed as the type of a Refusal, or to problem(...), with where."""
    found: dict[str, str] = {}
    for path in [*ROOT.glob("ledger/**/*.py"), *ROOT.glob("api/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            first = node.args[0]
            if name in {"Refusal", "problem", "problem_bytes"} and isinstance(first, ast.Constant):
                found.setdefault(str(first.value), f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_type_raised_is_declared_with_a_title_and_a_status() -> None:
    raised = raised_types()
    assert len(raised) > 30, raised  # the scan sees the code
    undeclared = {t: where for t, where in raised.items() if t not in PROBLEMS}
    assert not undeclared, undeclared
    for type_, problem in PROBLEMS.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", type_), type_
        assert problem.title and not problem.title.endswith("."), type_
        assert 400 <= problem.status <= 599, (type_, problem.status)


def named_types() -> set[str]:
    """Every declared type that the code outside ledger/errors.py names as a string."""
    named: set[str] = set()
    for path in [*ROOT.glob("ledger/**/*.py"), *ROOT.glob("api/**/*.py")]:
        if path.name == "errors.py" and path.parent.name == "ledger":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in PROBLEMS:
                named.add(str(node.value))
    return named


def test_every_declared_type_is_raised_somewhere_or_retired() -> None:
    unused = set(PROBLEMS) - named_types() - RETIRED
    assert not unused, unused


def test_the_api_guide_lists_every_type_with_its_status() -> None:
    guide = (ROOT / "docs" / "api.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z-]+)` \| (\d{3}) \|", guide, re.M))
    missing = {t: p.status for t, p in PROBLEMS.items() if rows.get(t) != str(p.status)}
    assert not missing, f"docs/api.md's problem table lacks or misstates: {missing}"
