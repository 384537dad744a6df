"""Netting: pure functions that clear debt between members, over a networkx graph.

``graph`` builds the debt graph from a list of debts, ``setoff`` finds the maximum
multilateral set-off (exact, in integer fen, deterministic), ``novation`` plans what
would remain if final debtors paid final creditors directly, and ``report`` turns a plan
into a wire-shaped dict or a text table. No database, no I/O: see docs/netting.md.
"""
