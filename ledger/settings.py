"""Deployment settings: the defaults of ``ledger/limits.py``, overridable by environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ledger import limits


@dataclass(frozen=True)
class Settings:
    clock_skew_s_max: int = limits.CLOCK_SKEW_S_MAX

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            clock_skew_s_max=int(os.environ.get("DCC_CLOCK_SKEW_S_MAX", limits.CLOCK_SKEW_S_MAX)),
        )
