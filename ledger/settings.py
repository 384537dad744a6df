"""Deployment settings: the defaults of ``ledger/limits.py``, overridable by environment.

Every value is read once at start-up from ``DCC_<NAME>`` (upper case), e.g.
``DCC_PENDING_EXPIRY_S=86400``. ``DCC_LEVEL_MAX`` unset (or 0) means unlimited. A few
settings are lists, written as text: ``DCC_WEBHOOK_ALLOWED_HOSTS=*.bank.example``,
``DCC_WEBHOOK_RETRY_SCHEDULE_S=0,5,300``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

from ledger import limits

# Settings that tune the process — its HTTP server, pools, relay, sweeper, checkpoints,
# clock for tests, intake freshness and report flags — and never what a rule decides.
# Every other setting is a *rule setting*: the journal records the values in force
# (``ledger.system``: in the genesis entry, then a ``ledger.settings`` entry whenever a
# deployment starts writing with others), and re-execution decides each entry under
# the values recorded before it. A setting added later is a rule setting unless listed.
OPERATIONAL = frozenset(
    {
        "clock_skew_s_max",
        "clock_offset_s",
        "sweep_interval_s",
        "checkpoint_entries",
        "checkpoint_interval_s",
        "log_key_file",
        "request_body_bytes_max",
        "request_body_read_s_max",
        "request_head_bytes_max",
        "request_head_read_s_max",
        "http_keep_alive_s",
        "http_connections_max",
        "http_connections_per_peer_max",
        "http_listen_backlog_max",
        "http_read_threads_max",
        "http_write_threads_max",
        "http_write_queue_max",
        "sequencer_batch_max",
        "sequencer_queue_max",
        "db_read_pool_max",
        "db_write_pool_max",
        "db_pool_timeout_s",
        "health_check_s_max",
        "splitting_level_flag",
        "splitting_pieces_flag",
        "splitting_piece_fen_flag",
        "webhook_retry_schedule_s",
        "webhook_jitter_pct",
        "webhook_timeout_s",
        "webhook_retry_after_s_max",
        "webhook_secret_overlap_s",
        "webhook_response_excerpt_bytes_max",
        "webhook_redeliveries_max",
        "webhook_retention_s",
        "webhook_sends_max",
        "webhook_endpoint_sends_max",
        "webhook_poll_ms",
        "webhook_claim_max",
    }
)


@dataclass(frozen=True)
class Settings:
    clock_skew_s_max: int = limits.CLOCK_SKEW_S_MAX
    clock_offset_s: int = limits.CLOCK_OFFSET_S  # tests of real processes only
    pending_expiry_s: int = limits.PENDING_EXPIRY_S
    maturity_days_max: int = limits.MATURITY_DAYS_MAX
    long_tenor_days: int = limits.LONG_TENOR_DAYS
    piece_fen_min: int = limits.PIECE_FEN_MIN
    outputs_max: int = limits.OUTPUTS_MAX
    level_max: int = 0  # 0: unlimited
    business_utc_offset_h: int = limits.BUSINESS_UTC_OFFSET_H
    sweep_interval_s: int = limits.SWEEP_INTERVAL_S
    # The Merkle tree's checkpoints (docs/operations.md, "The log key and checkpoints")
    checkpoint_entries: int = limits.CHECKPOINT_ENTRIES
    checkpoint_interval_s: int = limits.CHECKPOINT_INTERVAL_S
    log_key_file: str = limits.LOG_KEY_FILE
    root_pieces_max: int = limits.ROOT_PIECES_MAX
    holder_pieces_max: int = limits.HOLDER_PIECES_MAX
    entry_bytes_max: int = limits.ENTRY_BYTES_MAX
    obligation_fen_max: int = limits.OBLIGATION_FEN_MAX
    member_obligations_max: int = limits.MEMBER_OBLIGATIONS_MAX
    netting_component_edges_max: int = limits.NETTING_COMPONENT_EDGES_MAX
    netting_component_members_max: int = limits.NETTING_COMPONENT_MEMBERS_MAX
    netting_component_gross_fen_max: int = limits.NETTING_COMPONENT_GROSS_FEN_MAX
    # HTTP and capacity (docs/operations.md, "Limits and timeouts")
    request_body_bytes_max: int = limits.REQUEST_BODY_BYTES_MAX
    request_body_read_s_max: int = limits.REQUEST_BODY_READ_S_MAX
    request_head_bytes_max: int = limits.REQUEST_HEAD_BYTES_MAX
    request_head_read_s_max: int = limits.REQUEST_HEAD_READ_S_MAX
    http_keep_alive_s: int = limits.HTTP_KEEP_ALIVE_S
    http_connections_max: int = limits.HTTP_CONNECTIONS_MAX
    http_connections_per_peer_max: int = limits.HTTP_CONNECTIONS_PER_PEER_MAX  # 0: none
    http_listen_backlog_max: int = limits.HTTP_LISTEN_BACKLOG_MAX
    http_read_threads_max: int = limits.HTTP_READ_THREADS_MAX
    http_write_threads_max: int = limits.HTTP_WRITE_THREADS_MAX
    http_write_queue_max: int = limits.HTTP_WRITE_QUEUE_MAX
    sequencer_batch_max: int = limits.SEQUENCER_BATCH_MAX
    sequencer_queue_max: int = limits.SEQUENCER_QUEUE_MAX
    db_read_pool_max: int = limits.DB_READ_POOL_MAX
    db_write_pool_max: int = limits.DB_WRITE_POOL_MAX
    db_pool_timeout_s: int = limits.DB_POOL_TIMEOUT_S
    health_check_s_max: int = limits.HEALTH_CHECK_S_MAX
    # Discounting (docs/api.md, "Discounting")
    tier_multiplier_a_bp: int = limits.TIER_MULTIPLIER_A_BP
    tier_multiplier_b_bp: int = limits.TIER_MULTIPLIER_B_BP
    tier_multiplier_c_bp: int = limits.TIER_MULTIPLIER_C_BP
    day_count_basis: int = limits.DAY_COUNT_BASIS
    financing_fee_bps: int = limits.FINANCING_FEE_BPS
    financing_window_s: int = limits.FINANCING_WINDOW_S
    financing_registration_required: int = limits.FINANCING_REGISTRATION_REQUIRED
    credit_lines_per_bank_max: int = limits.CREDIT_LINES_PER_BANK_MAX
    # Maturity and settlement (docs/api.md, "Settlement")
    late_daily_rate: str = limits.LATE_DAILY_RATE
    overdue_grace_days: int = limits.OVERDUE_GRACE_DAYS
    issuer_overdue_block: int = limits.ISSUER_OVERDUE_BLOCK
    settlement_notice_days: int = limits.SETTLEMENT_NOTICE_DAYS
    splitting_level_flag: int = limits.SPLITTING_LEVEL_FLAG
    splitting_pieces_flag: int = limits.SPLITTING_PIECES_FLAG
    splitting_piece_fen_flag: int = limits.SPLITTING_PIECE_FEN_FLAG
    # Webhooks (docs/operations.md, "The webhook relay")
    webhook_endpoints_max: int = limits.WEBHOOK_ENDPOINTS_MAX
    webhook_allowed_hosts: str = limits.WEBHOOK_ALLOWED_HOSTS
    webhook_retry_schedule_s: str = limits.WEBHOOK_RETRY_SCHEDULE_S
    webhook_jitter_pct: int = limits.WEBHOOK_JITTER_PCT
    webhook_timeout_s: int = limits.WEBHOOK_TIMEOUT_S
    webhook_retry_after_s_max: int = limits.WEBHOOK_RETRY_AFTER_S_MAX
    webhook_secret_overlap_s: int = limits.WEBHOOK_SECRET_OVERLAP_S
    webhook_response_excerpt_bytes_max: int = limits.WEBHOOK_RESPONSE_EXCERPT_BYTES_MAX
    webhook_redeliveries_max: int = limits.WEBHOOK_REDELIVERIES_MAX
    webhook_retention_s: int = limits.WEBHOOK_RETENTION_S
    webhook_sends_max: int = limits.WEBHOOK_SENDS_MAX
    webhook_endpoint_sends_max: int = limits.WEBHOOK_ENDPOINT_SENDS_MAX
    webhook_poll_ms: int = limits.WEBHOOK_POLL_MS
    webhook_claim_max: int = limits.WEBHOOK_CLAIM_MAX

    def __post_init__(self) -> None:
        assert 1 <= self.maturity_days_max <= limits.MATURITY_DAYS_MAX, self.maturity_days_max
        assert self.piece_fen_min >= 1 and 1 <= self.outputs_max <= limits.OUTPUTS_MAX
        assert self.level_max >= 0 and self.pending_expiry_s >= 1
        assert abs(self.clock_offset_s) <= limits.CLOCK_OFFSET_S_MAX, self.clock_offset_s
        # A root can be split by one transfer of the most outputs and its change.
        assert self.root_pieces_max >= self.outputs_max + 1, self.root_pieces_max
        assert self.holder_pieces_max >= self.outputs_max + 1, self.holder_pieces_max
        assert self.entry_bytes_max >= 64 * 1024, self.entry_bytes_max
        assert 1 <= self.obligation_fen_max <= limits.AMOUNT_FEN_MAX
        assert self.member_obligations_max >= 1
        assert self.netting_component_edges_max >= 1 and self.netting_component_members_max >= 2
        assert 1 <= self.netting_component_gross_fen_max <= limits.NETTING_COMPONENT_GROSS_FEN_MAX
        positive = (
            self.request_body_bytes_max,
            self.request_body_read_s_max,
            self.request_head_bytes_max,
            self.request_head_read_s_max,
            self.http_keep_alive_s,
            self.http_connections_max,
            self.http_listen_backlog_max,
            self.http_read_threads_max,
            self.http_write_threads_max,
            self.db_read_pool_max,
            self.db_write_pool_max,
            self.health_check_s_max,
            self.sequencer_batch_max,
            self.sequencer_queue_max,
        )
        assert min(positive) >= 1, positive
        assert self.http_write_queue_max >= 0 and self.db_pool_timeout_s >= 0
        multipliers = [self.tier_multiplier_a_bp, self.tier_multiplier_b_bp]
        multipliers.append(self.tier_multiplier_c_bp)
        assert all(10_000 <= m <= limits.TIER_MULTIPLIER_BP_MAX for m in multipliers)
        assert self.day_count_basis in (360, 365), self.day_count_basis
        assert 0 <= self.financing_fee_bps <= limits.FINANCING_FEE_BPS_MAX
        assert self.financing_window_s >= 1 and self.credit_lines_per_bank_max >= 1
        assert self.financing_registration_required in (0, 1)
        webhooks = (
            self.webhook_endpoints_max,
            self.webhook_timeout_s,
            self.webhook_sends_max,
            self.webhook_endpoint_sends_max,
            self.webhook_poll_ms,
            self.webhook_claim_max,
            self.webhook_response_excerpt_bytes_max,
        )
        assert min(webhooks) >= 1, webhooks
        assert 0 <= self.webhook_jitter_pct <= 100 and self.webhook_redeliveries_max >= 0
        assert min(self.retry_schedule_s) >= 0, self.webhook_retry_schedule_s
        assert 0 <= self.overdue_grace_days <= limits.OVERDUE_GRACE_DAYS_MAX
        assert self.issuer_overdue_block in (0, 1) and self.settlement_notice_days >= 0
        assert self.late_rate <= Decimal(limits.LATE_DAILY_RATE_MAX), self.late_daily_rate
        assert min(self.splitting_level_flag, self.splitting_pieces_flag) >= 1
        assert self.splitting_piece_fen_flag >= 1
        assert self.checkpoint_entries >= 1 and self.checkpoint_interval_s >= 1

    def recorded(self) -> dict[str, str]:
        """The rule settings, as the journal records them: every one, by name, as text
        (some limits are beyond the integers JSON carries exactly)."""
        return {
            f.name: str(getattr(self, f.name)) for f in fields(self) if f.name not in OPERATIONAL
        }

    def with_recorded(self, values: Any) -> Settings:
        """These settings with the rule settings of ``values`` (as :meth:`recorded` gives
        them; one recorded before a setting existed leaves that one as it is here);
        ValueError if ``values`` is not such a record."""
        kinds = {f.name: f.type for f in fields(self) if f.name not in OPERATIONAL}
        if not isinstance(values, dict) or not set(values) <= set(kinds):
            raise ValueError("not a record of rule settings")
        parsed: dict[str, Any] = {}
        for name, text in values.items():
            if not isinstance(text, str):
                raise ValueError(f"setting {name} is not recorded as text")
            if kinds[name] in ("str", str):
                parsed[name] = text
            elif re.fullmatch(r"-?[0-9]{1,20}", text):
                parsed[name] = int(text)
            else:
                raise ValueError(f"setting {name} is not an integer")
        try:
            return replace(self, **parsed)
        except (AssertionError, ArithmeticError, ValueError) as exc:  # a rate not a number
            raise ValueError(f"settings out of their bounds ({exc!r})") from exc

    @property
    def late_rate(self) -> Decimal:
        """The late daily rate for paper issued without one of its own."""
        return Decimal(self.late_daily_rate)

    def tier_multiplier_bp(self, tier: str) -> int:
        """The multiplier of tier ``A``, ``B`` or ``C`` on an agreed rate, in bp."""
        return int(getattr(self, f"tier_multiplier_{tier.lower()}_bp"))

    def clock_offset_warning(self) -> str | None:
        """What a process with a shifted clock must say at start-up (None when it is not)."""
        if not self.clock_offset_s:
            return None
        return (
            f"DCC_CLOCK_OFFSET_S={self.clock_offset_s}: this server's clock is shifted by "
            f"{timedelta(seconds=self.clock_offset_s)} from real time; entries are recorded "
            "and deadlines decided at the shifted time. For tests only, never in production."
        )

    @property
    def retry_schedule_s(self) -> tuple[int, ...]:
        """The webhook retry schedule: seconds before each attempt of a round."""
        return tuple(int(part) for part in self.webhook_retry_schedule_s.split(","))

    @property
    def business_timezone(self) -> timezone:
        return timezone(timedelta(hours=self.business_utc_offset_h))

    @classmethod
    def from_env(cls) -> Settings:
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = os.environ.get(f"DCC_{field.name.upper()}")
            if raw is not None and raw.strip():
                # Settings are integers, but for the few lists (hosts, a schedule).
                values[field.name] = raw.strip() if field.type in ("str", str) else int(raw)
        return cls(**values)
