"""Deployment settings: the defaults of ``ledger/limits.py``, overridable by environment.

Every value is read once at start-up from ``DCC_<NAME>`` (upper case), e.g.
``DCC_PENDING_EXPIRY_S=86400``. ``DCC_LEVEL_MAX`` unset (or 0) means unlimited.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from datetime import timedelta, timezone

from ledger import limits


@dataclass(frozen=True)
class Settings:
    clock_skew_s_max: int = limits.CLOCK_SKEW_S_MAX
    pending_expiry_s: int = limits.PENDING_EXPIRY_S
    maturity_days_max: int = limits.MATURITY_DAYS_MAX
    long_tenor_days: int = limits.LONG_TENOR_DAYS
    piece_fen_min: int = limits.PIECE_FEN_MIN
    outputs_max: int = limits.OUTPUTS_MAX
    level_max: int = 0  # 0: unlimited
    business_utc_offset_h: int = limits.BUSINESS_UTC_OFFSET_H
    sweep_interval_s: int = limits.SWEEP_INTERVAL_S
    root_pieces_max: int = limits.ROOT_PIECES_MAX
    holder_pieces_max: int = limits.HOLDER_PIECES_MAX
    entry_bytes_max: int = limits.ENTRY_BYTES_MAX
    obligation_fen_max: int = limits.OBLIGATION_FEN_MAX
    member_obligations_max: int = limits.MEMBER_OBLIGATIONS_MAX
    netting_component_edges_max: int = limits.NETTING_COMPONENT_EDGES_MAX
    netting_component_members_max: int = limits.NETTING_COMPONENT_MEMBERS_MAX
    netting_component_gross_fen_max: int = limits.NETTING_COMPONENT_GROSS_FEN_MAX

    def __post_init__(self) -> None:
        assert 1 <= self.maturity_days_max <= limits.MATURITY_DAYS_MAX, self.maturity_days_max
        assert self.piece_fen_min >= 1 and 1 <= self.outputs_max <= limits.OUTPUTS_MAX
        assert self.level_max >= 0 and self.pending_expiry_s >= 1
        # A transfer creates up to outputs + change pieces and reserves a return for each
        # pending one: a root must have room for at least one whole transfer.
        assert self.root_pieces_max >= 2 * self.outputs_max + 2, self.root_pieces_max
        assert self.holder_pieces_max >= self.outputs_max + 1, self.holder_pieces_max
        assert self.entry_bytes_max >= 64 * 1024, self.entry_bytes_max
        assert 1 <= self.obligation_fen_max <= limits.AMOUNT_FEN_MAX
        assert self.member_obligations_max >= 1
        assert self.netting_component_edges_max >= 1 and self.netting_component_members_max >= 2
        assert 1 <= self.netting_component_gross_fen_max <= limits.NETTING_COMPONENT_GROSS_FEN_MAX

    @property
    def business_timezone(self) -> timezone:
        return timezone(timedelta(hours=self.business_utc_offset_h))

    @classmethod
    def from_env(cls) -> Settings:
        values: dict[str, int] = {}
        for field in fields(cls):
            raw = os.environ.get(f"DCC_{field.name.upper()}")
            if raw is not None and raw.strip():
                values[field.name] = int(raw)
        return cls(**values)
