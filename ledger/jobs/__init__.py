"""Background work, outside the HTTP app: each job is a loop a server process starts.

* ``sweeper`` — expires pending pieces past their deadline (``certificate.expire``).
* ``relay`` — sends the webhook outbox (``ledger.outbox``): operational state only, it
  writes no entry; it runs once per deployment (the sequencer's process under
  ``dcc serve``).

Checkpoints will live here too. A job writes only through the
ledger's sequencer, like a request, and a failed round is retried at the next tick.
"""
