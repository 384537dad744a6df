"""Every limit and default of the ledger, in one place.

Names carry their unit last (``_s``, ``_fen``, ``_days``) and maxima end in ``_max``.
Values a deployment may want to change are read from the environment by
:func:`ledger.settings.Settings.from_env`; the constants here are the defaults.
"""

from __future__ import annotations

# Money: 10^15 fen is ten trillion yuan, far above any single promise, and well inside
# the 2^53 range that RFC 8785 numbers (and JavaScript clients) can carry exactly.
AMOUNT_FEN_MAX = 10**15

# Signed commands and signed reads must carry a time within this window of the server clock.
CLOCK_SKEW_S_MAX = 300

# Public keys cached by key id before the lock (the mapping never changes).
KEY_CACHE_MAX = 100_000

# Nonces: url-safe characters, long enough to be unguessable, short enough to index.
NONCE_LENGTH_MIN = 16
NONCE_LENGTH_MAX = 64

# Request bodies: a signed command envelope is small; refuse anything absurd before parsing.
REQUEST_BODY_BYTES_MAX = 256 * 1024

# Names and free text.
MEMBER_NAME_LENGTH_MAX = 200
MEMO_LENGTH_MAX = 500
REFERENCE_LENGTH_MAX = 100

# Pagination of reads.
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500

# Certificates.
PENDING_EXPIRY_S = 7 * 24 * 3600  # a pending piece not accepted within this returns to its sender
MATURITY_DAYS_MAX = 365  # the regulatory ceiling for receivable e-certificates
LONG_TENOR_DAYS = 180  # longer tenors are accepted but flagged `long-tenor` for review
PIECE_FEN_MIN = 1  # the smallest piece (output or change) a transfer may create
OUTPUTS_MAX = 100  # outputs of one transfer
INPUTS_MAX = 100  # inputs of one transfer
INVOICES_PER_COMMAND_MAX = 50
INVOICE_NO_CITED_LENGTH_MAX = 64  # as cited, before normalising (spaces, full-width digits)
BUSINESS_UTC_OFFSET_H = 8  # "today" for maturity is China Standard Time
SWEEP_INTERVAL_S = 60  # how often `dcc serve` expires due pending pieces
SWEEP_BATCH_MAX = 500  # pieces expired by one system entry
