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

# HTTP: what one client may hold of the server (`dcc serve`, api/server.py, api/limits.py).
# A body is counted while it streams and refused past this size, whatever its framing.
REQUEST_BODY_BYTES_MAX = 256 * 1024
# The whole body must arrive within this time of the first read of it.
REQUEST_BODY_READ_S_MAX = 30
# The request line and headers: at most this many bytes, complete within this time of the
# connection opening (or of the first byte of the next request on a kept-alive one).
REQUEST_HEAD_BYTES_MAX = 16 * 1024
REQUEST_HEAD_READ_S_MAX = 10
# An idle kept-alive connection is closed after this time without a new request.
HTTP_KEEP_ALIVE_S = 5
# Connections (and requests in flight) served at once; past it, `503 unavailable`.
HTTP_CONNECTIONS_MAX = 1000
# Connections the kernel queues before `dcc serve` accepts them.
HTTP_LISTEN_BACKLOG_MAX = 2048
# Worker threads: reads and writes each have their own, so writes queued behind the
# write lock can never take the threads (or database connections) reads need.
HTTP_READ_THREADS_MAX = 16
HTTP_WRITE_THREADS_MAX = 8
# Writes waiting for a write thread beyond this are refused at once with `503`.
HTTP_WRITE_QUEUE_MAX = 256
# Database connection pools, one for each side (no overflow: the pool is the cap), and
# how long a request waits for a pooled connection before `503 unavailable`.
DB_READ_POOL_MAX = 20
DB_WRITE_POOL_MAX = 10
DB_POOL_TIMEOUT_S = 5
# `/healthz` asks the database on its own dedicated connection, for at most this long.
HEALTH_CHECK_S_MAX = 2

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
BUSINESS_UTC_OFFSET_H = 8  # "today" for maturity is China Standard Time
SWEEP_INTERVAL_S = 60  # how often `dcc serve` expires due pending pieces
SWEEP_BATCH_MAX = 500  # pieces expired by one system entry
