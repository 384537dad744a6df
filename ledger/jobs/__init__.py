"""Background work, outside the HTTP app: each job is a loop a server process starts.

* ``sweeper`` — expires pending pieces past their deadline (``certificate.expire``).

Webhook delivery and checkpoints will live here too. A job writes only through the
ledger's sequencer, like a request, and a failed round is retried at the next tick.
"""
