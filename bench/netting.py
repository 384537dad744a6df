"""Netting benchmark: set-off on supply-chain-shaped debt graphs, 10^3 to 10^6 debts.

    .venv/bin/python bench/netting.py [--sizes 1000,10000,100000,1000000] [--repeat 5]
                                      [--repeat-large 1] [--networkx-max 10000]
                                      [--greedy-max 100000]

For each size a fresh, spawned worker process generates a seeded debt list and times
the engine's whole path — ``build_graph`` (Debt list → networkx graph) then
``solve_setoff`` (graph → plan, OR-Tools) — as the median (and range) of ``--repeat``
runs, ``--repeat-large`` runs from 10^6 debts up. In the same worker it times the
alternatives once each: networkx's network simplex (up to ``--networkx-max`` debts),
OR-Tools with the rank tie-break forced on at every size (``ranked``), greedy
depth-first cycle cancelling (up to ``--greedy-max``), and the novation plan. It
checks that every exact method clears the same total, and reports the worker's peak
resident memory (``ru_maxrss``: the whole process, interpreter, libraries and the Debt
list included). Prints two markdown tables.

**The graphs.** ``debts / 5`` members with Zipf sizes ``s_i ∝ i^(−1/(γ−1))``, ``γ = 2.3``:
the static form of preferential attachment (Chung–Lu), giving power-law degrees as
measured in real supplier networks. Both ends of a debt are drawn in proportion to
size — a big firm both buys and sells a lot. The largest 1 % are core enterprises
(tier 0), the next 9 % tier 1, then 30 % tier 2, the rest tier 3; 80 % of debts run
down the chain (the member nearer the core owes its supplier), 20 % keep a random
direction (suppliers selling to each other and to cores), which is what closes cycles.
Amounts are integer fen, a product of two uniform integers (1 to ~100,000 CNY, skewed
small). Self-debts and repeated pairs occur and are dropped or merged by build_graph.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

# This file is bench/netting.py: run as a script, its own folder comes first on sys.path
# and would shadow the netting package. Put the repository root there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import ortools  # noqa: E402

from netting import setoff  # noqa: E402
from netting.graph import Debt, build_graph  # noqa: E402
from netting.novation import novation_plan  # noqa: E402
from netting.report import percent  # noqa: E402

GAMMA = 2.3
TIER_SHARES = (0.01, 0.09, 0.30)  # tiers 0, 1, 2; the rest is tier 3
DOWNSTREAM_SHARE = 0.8
SEED = 20261122


def supply_chain_debts(debts_count: int, seed: int = SEED) -> list[Debt]:
    """A seeded supply-chain-shaped debt list (see the module docstring)."""
    rng = np.random.default_rng(seed + debts_count)
    members_count = max(debts_count // 5, 10)
    weights = np.arange(1, members_count + 1, dtype=np.float64) ** (-1 / (GAMMA - 1))
    weights /= weights.sum()
    # Members are in decreasing size, so the tier is a threshold on the index.
    bounds = np.cumsum(TIER_SHARES) * members_count
    tier = np.searchsorted(bounds, np.arange(members_count), side="right")
    debtors = rng.choice(members_count, size=debts_count, p=weights)
    creditors = rng.choice(members_count, size=debts_count, p=weights)
    downstream = rng.random(debts_count) < DOWNSTREAM_SHARE
    flip = downstream & (tier[debtors] > tier[creditors])
    debtors, creditors = np.where(flip, creditors, debtors), np.where(flip, debtors, creditors)
    amounts_fen = rng.integers(1, 1_000, debts_count) * rng.integers(100, 10_000, debts_count)
    # Ids unrelated to size, so the canonical (sorted-id) order is not the size order.
    ids = [f"9135{i:014d}" for i in rng.permutation(members_count)]
    return [
        Debt(ids[debtor], ids[creditor], amount_fen)
        for debtor, creditor, amount_fen in zip(
            debtors.tolist(), creditors.tolist(), amounts_fen.tolist(), strict=True
        )
    ]


def greedy_cycle_cancelling(graph: nx.DiGraph) -> int:
    """Cancel each cycle as a depth-first search meets it; fen cleared. Maximal, not maximum.

    A node is *done* once every edge out of it is cleared or leads to a done node; no
    cycle can pass through it later, since amounts only fall. After a cancellation the
    path is cut back to the tail of the first edge it cleared and the search resumes.
    """
    left_fen = {(u, v): a for u, v, a in graph.edges(data="amount_fen")}
    successors = {u: sorted(graph.successors(u)) for u in graph}
    next_edge = dict.fromkeys(graph, 0)
    state = dict.fromkeys(graph, 0)  # 0 unvisited, 1 on the path, 2 done
    cleared_fen = 0
    for root in sorted(graph):
        if state[root]:
            continue
        path, on_path_at = [root], {root: 0}
        state[root] = 1
        while path:
            u = path[-1]
            targets = successors[u]
            while next_edge[u] < len(targets):
                v = targets[next_edge[u]]
                if left_fen[u, v] == 0 or state[v] == 2:
                    next_edge[u] += 1
                elif state[v] == 0:
                    state[v] = 1
                    on_path_at[v] = len(path)
                    path.append(v)
                    break
                else:  # v is on the path: cancel the cycle v → … → u → v
                    cycle = [*path[on_path_at[v] :], v]
                    edges = list(pairwise(cycle))
                    amount_fen = min(left_fen[e] for e in edges)
                    for edge in edges:
                        left_fen[edge] -= amount_fen
                    cleared_fen += amount_fen * len(edges)
                    cut = next(i for i, e in enumerate(edges) if left_fen[e] == 0)
                    for node in path[on_path_at[v] + cut + 1 :]:
                        state[node] = 0
                        del on_path_at[node]
                    del path[on_path_at[v] + cut + 1 :]
                    break
            else:
                state[u] = 2
                del on_path_at[u]
                path.pop()
    return cleared_fen


def _timed(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    gc.collect()
    started_s = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started_s, result


def measure(debts_count: int, repeat: int, networkx_max: int, greedy_max: int) -> dict[str, Any]:
    """One size, in a fresh process: every timing and total of one table row."""
    baseline_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    debts = supply_chain_debts(debts_count)
    runs = []
    for _ in range(repeat):
        build_s, graph = _timed(build_graph, debts)
        setoff_s, plan = _timed(setoff.solve_setoff, graph)
        runs.append((build_s, setoff_s, build_s + setoff_s))
        del graph
    graph = build_graph(debts)
    row: dict[str, Any] = {
        "debts": debts_count,
        "members": graph.number_of_nodes(),
        "edges": plan.edges_before,
        "cyclic": plan.edges_in_cycles,
        "build_s": statistics.median(r[0] for r in runs),
        "setoff_s": statistics.median(r[1] for r in runs),
        "total_s": statistics.median(r[2] for r in runs),
        "total_range_s": (min(r[2] for r in runs), max(r[2] for r in runs)),
        "runs": repeat,
        "tie_break": plan.tie_break,
        "gross_fen": plan.gross_before_fen,
        "cleared_fen": plan.cleared_fen,
        "edges_after": plan.edges_after,
    }
    saved = setoff.TIE_BREAK_EDGES_MAX, setoff.TIE_BREAK_COST_MAX
    setoff.TIE_BREAK_EDGES_MAX = setoff.TIE_BREAK_COST_MAX = sys.maxsize
    try:
        row["ranked_s"], ranked = _timed(setoff.solve_setoff, graph)
    finally:
        setoff.TIE_BREAK_EDGES_MAX, setoff.TIE_BREAK_COST_MAX = saved
    assert ranked.cleared_fen == plan.cleared_fen, "the rank tie-break changed the optimum"
    if debts_count <= networkx_max:
        row["networkx_s"], simplex = _timed(setoff.solve_setoff, graph, solver="networkx")
        assert simplex.cleared_fen == plan.cleared_fen, "the solvers disagree"
    if debts_count <= greedy_max:
        row["greedy_s"], row["greedy_fen"] = _timed(greedy_cycle_cancelling, graph)
        assert row["greedy_fen"] <= plan.cleared_fen
    row["novation_s"], novation = _timed(novation_plan, graph)
    row["novation_fen"] = novation.cleared_fen
    row["payments"] = len(novation.payments)
    row["baseline_mib"] = baseline_mib
    row["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return row


def _seconds(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.3f}" if key in row else "—"


def _cny(amount_fen: int) -> str:
    """Whole yuan with thousands separators, for a table that has to stay narrow."""
    return f"{amount_fen // 100:,}"


def tables(rows: list[dict[str, Any]]) -> str:
    timing = [
        "| debts | members | edges | on cycles | runs | build s | set-off s | **total s** "
        "| total min–max | ranked s | networkx s | greedy s | novation s | peak RSS MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    outcome = [
        "| debts | gross CNY | set-off clears | greedy clears | novation clears "
        "| novation − set-off | edges after set-off | novation payments |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        low, high = row["total_range_s"]
        timing.append(
            f"| {row['debts']:,} | {row['members']:,} | {row['edges']:,} | {row['cyclic']:,} "
            f"| {row['runs']} | {row['build_s']:.3f} | {row['setoff_s']:.3f} "
            f"| **{row['total_s']:.3f}** | {low:.3f}–{high:.3f} | {_seconds(row, 'ranked_s')} "
            f"| {_seconds(row, 'networkx_s')} | {_seconds(row, 'greedy_s')} "
            f"| {row['novation_s']:.3f} | {row['peak_mib']:,} |"
        )
        gross = row["gross_fen"]
        greedy = f"{percent(row['greedy_fen'], gross)} %" if "greedy_fen" in row else "—"
        extra_fen = row["novation_fen"] - row["cleared_fen"]
        outcome.append(
            f"| {row['debts']:,} | {_cny(gross)} | {percent(row['cleared_fen'], gross)} % "
            f"| {greedy} | {percent(row['novation_fen'], gross)} % "
            f"| +{_cny(extra_fen)} CNY (+{percent(extra_fen, gross)} pp) "
            f"| {row['edges_after']:,} of {row['edges']:,} | {row['payments']:,} |"
        )
    return "\n".join([*timing, "", *outcome])


def machine() -> str:
    pages = resource.getpagesize() * os.sysconf("SC_PHYS_PAGES")
    return (
        f"{date.today().isoformat()}; {multiprocessing.cpu_count()} cores, "
        f"{pages / 2**30:.0f} GiB RAM, {platform.machine()}; Python {platform.python_version()}, "
        f"OR-Tools {ortools.__version__}, networkx {nx.__version__}, numpy {np.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=5, help="runs per size below 10^6")
    parser.add_argument("--repeat-large", type=int, default=1, help="runs per size from 10^6")
    parser.add_argument("--networkx-max", type=int, default=10_000)
    parser.add_argument("--greedy-max", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    for debts_count in (int(size) for size in args.sizes.split(",")):
        repeat = args.repeat if debts_count < 1_000_000 else args.repeat_large
        # A fresh process per size, so that peak memory belongs to that size alone.
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            future = pool.submit(measure, debts_count, repeat, args.networkx_max, args.greedy_max)
            rows.append(future.result())
        print(f"done {debts_count:,} debts: total {rows[-1]['total_s']:.3f} s", file=sys.stderr)
    print(f"Netting benchmark, {machine()}\n")
    print(tables(rows))
    print(f"\nWorker baseline RSS after imports: {rows[0]['baseline_mib']} MiB.")


if __name__ == "__main__":
    main()
