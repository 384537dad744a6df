"""Every limit and default of the ledger, in one place.

Names carry their unit last (``_s``, ``_fen``, ``_days``) and maxima end in ``_max``.
Values a deployment may want to change are read from the environment by
:func:`ledger.settings.Settings.from_env`; the constants here are the defaults.
"""

from __future__ import annotations

# Money: 10^15 fen is ten trillion yuan, far above any single promise, and well inside
# the 2^53 range that RFC 8785 numbers (and JavaScript clients) can carry exactly.
AMOUNT_FEN_MAX = 10**15

# Signed commands and signed reads must carry a time within this window of the server clock
# (the unshifted one: see CLOCK_OFFSET_S).
CLOCK_SKEW_S_MAX = 300

# For tests that run real server processes only: shifts the ledger's clock (what rules see
# as now, what the journal records, the sweep's and the reads' "now" and "today") by this
# many seconds, so that days can pass without waiting for them. Signed times are still
# checked against the unshifted clock, so clients sign with real time. Off (0) in every
# real deployment; a process with an offset says so loudly at start-up and in /healthz.
CLOCK_OFFSET_S = 0
CLOCK_OFFSET_S_MAX = 10 * 366 * 24 * 3600  # ten years either way

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
# One peer address's share of them: one client cannot hold the server's connections.
# Behind a reverse proxy every client is the proxy's address: set 0 (no cap) there and
# cap per client in the proxy.
HTTP_CONNECTIONS_PER_PEER_MAX = 100
# Connections the kernel queues before `dcc serve` accepts them.
HTTP_LISTEN_BACKLOG_MAX = 2048
# Worker threads: reads and writes each have their own, so writes queued behind the
# write lock can never take the threads (or database connections) reads need.
HTTP_READ_THREADS_MAX = 16
HTTP_WRITE_THREADS_MAX = 8
# Writes waiting for a write thread beyond this are refused at once with `503`.
HTTP_WRITE_QUEUE_MAX = 256
# The sequencer (ledger/sequencer.py): commands applied in one transaction and one
# commit, and commands waiting for it beyond which a write is refused at once with `503`.
SEQUENCER_BATCH_MAX = 64
SEQUENCER_QUEUE_MAX = 2048
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

# A member's signing keys (ledger.members): each named, so a firm's clerk and treasurer
# sign with keys of their own. Active keys per member are bounded (rotating one retires
# it, so rotations do not count); a key reset by the operator records why.
KEYS_PER_MEMBER_MAX = 20
KEY_NAME_LENGTH_MAX = 64
KEY_RESET_REASON_LENGTH_MAX = 500

# Pagination of reads. Every list a read returns is paged with a cursor; a page holds at
# most PAGE_SIZE_MAX items, and a history page stops early once its entries reach
# PAGE_BYTES_MAX (entries differ in size by three orders of magnitude: a netting entry
# can be ENTRY_BYTES_MAX), so no page is much larger than PAGE_BYTES_MAX.
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500
PAGE_BYTES_MAX = 1024 * 1024  # a page is at most this and one entry
# The listing of an issuer's certificates sums each root's pieces (up to
# ROOT_PIECES_MAX of them) for its row: a smaller page keeps one read's work bounded.
ROOT_PAGE_SIZE_MAX = 100

# One journal entry: the canonical bytes of its command and effects together. A command
# whose entry would be larger is refused (`entry-too-large`) and writes nothing. The
# writer holds the ledger lock while it builds, canonicalises, hashes, stores and
# projects an entry, and that time grows with the entry's size (0.5-0.8 s per MiB on the
# shared 2-core test machine, docs/operations.md), so this also bounds how long any one
# write holds the ledger: 512 KiB, some 1,500 certificate rows, for at most 0.3-0.4 s.
# An ordinary transfer (100 outputs, a few invoices) is about 0.1 MiB; a transfer of 100
# inputs to 100 outputs that each carry 50 invoices is refused. The sweep and netting
# runs cut their work to fit.
ENTRY_BYTES_MAX = 512 * 1024

# Live pieces per root: a root never has more than this many, whoever splits it. Not a
# count (a count let one holder use a root up and stop its other holders) but a rule on
# each transfer alone: a transfer that adds a piece makes every piece, change included,
# at least ceil(face / ROOT_PIECES_MAX) (`certificates.root_piece_fen_min`: 5.00 of a
# 10,000.00 root); a netting split, a rejection or an expiry replaces one piece with one.
# One promise pays one trade: 2,000 pieces is 20 transfers of 100 outputs, or a tree
# five levels deep with 4-5 payments per holder and level, far beyond what supply
# chains split one certificate into (tens of pieces is usual), while the tree read
# (paged) and netting stay small.
ROOT_PIECES_MAX = 2_000

# Live pieces per member: the pieces it holds that carry value and that it accepted, and
# the pending pieces it sent — not pending pieces sent to it, which count once it
# accepts them, so nobody can fill another member's allowance. Checked for the signer
# only (issue, transfer, accept). Banks that discount for a whole chain hold the most;
# 20,000 live pieces is a large bank's book against one platform, and a deployment can
# raise it. Bounds the items on one edge of a netting graph.
HOLDER_PIECES_MAX = 20_000

# Certificates.
PENDING_EXPIRY_S = 7 * 24 * 3600  # a pending piece not accepted within this returns to its sender
MATURITY_DAYS_MAX = 365  # the regulatory ceiling for receivable e-certificates
LONG_TENOR_DAYS = 180  # longer tenors are accepted but flagged `long-tenor` for review
PIECE_FEN_MIN = 1  # the smallest piece (output or change) a transfer may create
OUTPUTS_MAX = 100  # outputs of one transfer
INPUTS_MAX = 100  # inputs of one transfer
INVOICES_PER_COMMAND_MAX = 100  # an invoice has one seller: one per output at most
INVOICE_NO_CITED_LENGTH_MAX = 64  # as cited, before normalising (spaces, full-width digits)
BUSINESS_UTC_OFFSET_H = 8  # "today" for maturity is China Standard Time
SWEEP_INTERVAL_S = 60  # how often `dcc serve` expires due pending pieces

# Checkpoints (ledger.transparency): a new one at least every so many entries or seconds
# (whichever comes first, checked every CHECKPOINT_POLL_S_MAX at most); the log key file.
CHECKPOINT_ENTRIES = 1000
CHECKPOINT_INTERVAL_S = 60
CHECKPOINT_POLL_S_MAX = 5
LOG_KEY_FILE = "keys/log.key"
# A tree size or seq in a proof request: at most what a BIGINT holds.
TREE_SIZE_MAX = 2**63 - 1
SWEEP_BATCH_MAX = 500  # pieces expired by one system entry (fewer if they fill the entry)

# Obligations: a trade payable registered by its debtor. Unlike a certificate it is
# backed by no issuance limit, so it gets a ceiling of its own: 10^12 fen (ten billion
# yuan) is above any single trade payable between two firms and a thousandth of
# AMOUNT_FEN_MAX, so 4.6 * 10^6 obligations are needed before a netting component
# reaches the solvers' range.
OBLIGATION_FEN_MAX = 10**12
# Live (pending or confirmed, not settled) obligations one member may owe at a time.
MEMBER_OBLIGATIONS_MAX = 10_000

# Netting runs over the weakly connected components of the debt graph, each solved on
# its own; a component beyond these bounds is left out of the run and reported, never
# blocking the others. 200,000 debts solve in about 2 s (docs/BENCHMARKS.md) outside the
# lock. The gross of one component is at most the solvers' int64 range, 2^62 fen
# (netting.graph.GROSS_FEN_MAX); a deployment may set a lower ceiling it finds plausible.
NETTING_COMPONENT_EDGES_MAX = 200_000
NETTING_COMPONENT_MEMBERS_MAX = 50_000
NETTING_COMPONENT_GROSS_FEN_MAX = 2**62

# Discounting (ledger.financing, ledger.pricing). A tier multiplies the rate a bank
# agreed with the core enterprise, in basis points of it (10,000 = × 1); an unrated
# applicant is tier C. Rates are refused above ANNUAL_RATE_MAX (the judicial ceiling on
# lending rates is far below it), which with the largest multiplier, the longest tenor
# and the largest fee still leaves a positive disbursement.
TIER_MULTIPLIER_A_BP = 12_000
TIER_MULTIPLIER_B_BP = 14_000
TIER_MULTIPLIER_C_BP = 16_000
TIER_MULTIPLIER_BP_MAX = 20_000
ANNUAL_RATE_MAX = "0.36"
RATE_DECIMALS_MAX = 6  # "0.038500" at most: a hundredth of a basis point
DAY_COUNT_BASIS = 360  # or 365, where a deployment's banks agree so
FINANCING_FEE_BPS = 0  # the platform's fee on the financed face
FINANCING_FEE_BPS_MAX = 1_000
FINANCING_WINDOW_S = 24 * 3600  # an application not decided within this expires
FINANCING_REGISTRATION_REQUIRED = 1  # an approval names its registry filing (1) or may not (0)
CREDIT_LINES_PER_BANK_MAX = 1_000  # one per core enterprise it finances
ANCESTRY_PIECES_MAX = 1_000  # pieces a due-diligence read walks from the root down
# Maturity and settlement (ledger/settlement.py; docs/api.md, "Settlement").
LATE_DAILY_RATE = "0.0005"  # 0.05 % a day: the statutory default for late payment to small firms
LATE_DAILY_RATE_MAX = "0.01"  # an agreed late rate above 1 % a day is refused
LATE_RATE_DECIMALS_MAX = 8
OVERDUE_GRACE_DAYS = 0  # days after the payment date before unpaid paper is overdue
OVERDUE_GRACE_DAYS_MAX = 30
ISSUER_OVERDUE_BLOCK = 1  # an issuer with overdue paper may not issue (1), or may (0)
BLOCK_LIFT_DAYS_MAX = 90  # an operator's lift of that block lasts at most this long
SETTLEMENT_NOTICE_DAYS = 3  # issuers are told this many days before their paper matures
SETTLEMENT_NOTICE_PIECES_MAX = 100  # pieces listed in one settlement.due notice
PIECES_PER_PAYMENT_MAX = 200  # pieces one settlement.pay names (~1.3 KB of entry each, paid late)
PAYOUT_ACCOUNT_NO_LENGTH_MAX = 34  # an IBAN's longest; mainland accounts are shorter
REPORT_PAGE_MAX = 1_000  # rows of one page of a clearing list or report
SPLITTING_LEVEL_FLAG = 4  # a root split deeper than this is flagged
SPLITTING_PIECES_FLAG = 200  # a root with more live pieces than this is flagged
SPLITTING_PIECE_FEN_FLAG = 100_000  # a root with a live piece under this (1,000.00) is flagged
# Webhooks (ledger/webhooks.py, ledger/outbox.py, ledger/jobs/relay.py;
# docs/operations.md, "The webhook relay").
WEBHOOK_URL_LENGTH_MAX = 2000  # characters of an endpoint's URL
WEBHOOK_ENDPOINTS_MAX = 5  # live endpoints per member
# Hosts the relay may call: "*" (any), or a comma-separated list of names, "*." suffixes
# and IP networks. A deployment that must never reach its own internal addresses lists
# its members' hosts here.
WEBHOOK_ALLOWED_HOSTS = "*"
# Seconds before each attempt of a round (Standard Webhooks' example schedule: at once,
# 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h), each spread by ±10 % jitter.
WEBHOOK_RETRY_SCHEDULE_S = "0,5,300,1800,7200,18000,36000,50400,72000,86400"
WEBHOOK_JITTER_PCT = 10
WEBHOOK_TIMEOUT_S = 15  # one attempt: connect, send, and the whole answer
WEBHOOK_RETRY_AFTER_S_MAX = 86400  # a Retry-After asking for longer is cut to this
WEBHOOK_SECRET_OVERLAP_S = 86400  # a rotated-out secret keeps signing this long
WEBHOOK_RESPONSE_EXCERPT_BYTES_MAX = 1024  # of an answer's body, kept with its attempt
WEBHOOK_REDELIVERIES_MAX = 5  # rounds a member may ask for again, per message
WEBHOOK_RETENTION_S = 7 * 86400  # delivered and failed messages are purged after this
WEBHOOK_SENDS_MAX = 256  # attempts in flight at once (a dead endpoint holds one each)
WEBHOOK_ENDPOINT_SENDS_MAX = 4  # attempts in flight at once to one endpoint
WEBHOOK_POLL_MS = 250  # how often the relay looks for due messages when idle
WEBHOOK_CLAIM_MAX = 500  # due messages the relay takes in one look
