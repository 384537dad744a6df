"""The worked examples in the docstrings of ledger/ and netting/ are run, not just read."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import ledger
import netting


def _modules() -> list[ModuleType]:
    found = []
    for package in (ledger, netting):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            found.append(importlib.import_module(info.name))
    return found


MODULES = [m for m in _modules() if ">>>" in inspect.getsource(m)]


def test_the_modules_with_examples_are_found() -> None:
    names = {m.__name__ for m in MODULES}
    assert {"ledger.money", "ledger.invoices", "netting.setoff"} <= names, names


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_hold(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, result
