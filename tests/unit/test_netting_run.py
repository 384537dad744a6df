"""The journal side of netting as pure functions: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from ledger.certificates import Certificate
from ledger.context import Context
from ledger.credit import IssuanceLimit
from ledger.limits import AMOUNT_FEN_MAX
from ledger.netting_run import NettingState, RunBody, preview, run
from ledger.obligations import CONFIRMED, Obligation
from ledger.settings import Settings
from netting.graph import GROSS_FEN_MAX

CTX = Context(9, datetime(2026, 11, 26, 4, 0, tzinfo=UTC), "0" * 64, Settings())


def obligation(index: int, debtor: str, creditor: str, amount_fen: int) -> Obligation:
    return Obligation(
        id=f"{index:032x}",
        debtor=debtor,
        creditor=creditor,
        amount_fen=amount_fen,
        outstanding_fen=amount_fen,
        due_date=date(2027, 1, 1),
        state=CONFIRMED,
        reference="PO",
        payment_ref=None,
        created_seq=index,
    )


def test_a_component_beyond_the_solvers_range_is_left_out_and_the_rest_netted() -> None:
    """A and B owe each other past the solvers' int64 range; C and D owe each other 5 and
    3. The A–B component is left out and reported; C and D are netted all the same."""
    count = GROSS_FEN_MAX // AMOUNT_FEN_MAX + 1  # each at the per-amount maximum
    owed = [
        obligation(i, "A" if i % 2 else "B", "B" if i % 2 else "A", AMOUNT_FEN_MAX)
        for i in range(count)
    ]
    assert sum(o.outstanding_fen for o in owed) > GROSS_FEN_MAX
    small = [obligation(count, "C", "D", 5_00), obligation(count + 1, "D", "C", 3_00)]
    state = NettingState(pieces=(), obligations=owed + small, limits={})
    report = preview(state, "setoff", Settings())
    assert report["cleared"] == "6.00" and report["edges_before"] == 2
    [excluded] = report["excluded"]
    assert excluded["reason"] == "gross-beyond-limit" and excluded["sample"] == ["A", "B"]
    assert (excluded["members"], excluded["edges"]) == (2, 2)
    effects = run(state, RunBody.model_validate({"mode": "setoff", "as_of": "2026-11-26"}), CTX)
    assert {o["id"] for o in effects["obligations"]} == {o.id for o in small}
    assert effects["netting"]["excluded"] == [excluded]
    just_inside = NettingState(pieces=(), obligations=owed[: count - 1], limits={})
    inside = preview(just_inside, "setoff", Settings())
    assert inside["cleared"] != "0.00"  # netted (in part: 4,611 obligations fill an entry)
    assert [e["reason"] for e in inside["excluded"]] == ["partly-deferred"]


def test_a_component_beyond_the_member_or_debt_limits_is_left_out() -> None:
    """A ring of 4 members and a cycle of 2: with at most 3 members (or 3 debts) per
    component, only the pair is netted; novation previews leave the ring out too."""
    ring = [obligation(i, m, n, 1_00) for i, (m, n) in enumerate(["AB", "BC", "CD", "DA"])]
    pair = [obligation(10, "E", "F", 2_00), obligation(11, "F", "E", 2_00)]
    state = NettingState(pieces=(), obligations=ring + pair, limits={})
    for settings, reason in [
        (Settings(netting_component_members_max=3), "members-beyond-limit"),
        (Settings(netting_component_edges_max=3), "edges-beyond-limit"),
    ]:
        for mode in ("setoff", "novation"):
            report = preview(state, mode, settings)
            assert [(e["reason"], e["members"]) for e in report["excluded"]] == [(reason, 4)]
            assert report["edges_before"] == 2, report
        assert preview(state, "setoff", settings)["cleared"] == "4.00"
    assert preview(state, "setoff", Settings())["cleared"] == "8.00"


def _piece(piece_id: str, issuer: str, holder: str, amount_fen: int, maturity: date) -> Certificate:
    return Certificate(
        id=piece_id,
        root_id=piece_id,
        parent_ids=(),
        issuer=issuer,
        holder=holder,
        sender=None,
        amount_fen=amount_fen,
        maturity=maturity,
        state="active",
        level=1,
        trade={"contract_no": "C", "invoices": []},
        invoice_uses=(),
        expires_at=None,
        flags=(),
        memo=None,
        created_seq=2,
    )


def test_a_run_clears_earliest_due_first_certificates_before_obligations_on_a_day() -> None:
    """A owes B a piece and an obligation due the same day and an earlier obligation; B
    owes A 150. The 150 clears the earlier obligation (100), then the piece (50 of 80,
    split), and leaves the same-day obligation whole."""
    day, earlier = date(2027, 3, 1), date(2027, 2, 1)
    piece = _piece("c" * 32, "A", "B", 80_00, day)
    same_day = obligation(1, "A", "B", 70_00)
    same_day = Obligation(**{**same_day.__dict__, "id": "d" * 32, "due_date": day})
    early = Obligation(**{**obligation(2, "A", "B", 100_00).__dict__, "due_date": earlier})
    back = obligation(3, "B", "A", 150_00)
    state = NettingState(
        pieces=[piece],
        obligations=[same_day, early, back],
        limits={"A": IssuanceLimit("A", 1_000_00, 80_00)},
    )
    effects = run(state, RunBody.model_validate({"mode": "setoff", "as_of": "2026-11-26"}), CTX)
    owed = {o["id"]: (o["outstanding"], o["state"]) for o in effects["obligations"]}
    assert owed[early.id] == ("0.00", "settled")
    assert owed[back.id] == ("0.00", "settled")
    assert same_day.id not in owed  # untouched: the piece goes first on its day
    pieces = {(c["state"], c["amount"]) for c in effects["certificates"]}
    assert pieces == {("spent", "80.00"), ("settled", "50.00"), ("active", "30.00")}
    assert effects["limits"] == [IssuanceLimit("A", 1_000_00, 30_00).wire()]


def test_a_component_too_big_for_one_entry_is_netted_in_part_and_continued() -> None:
    """A owes B 400 pieces of 10.00; B owes A 4,000.00. With a 64 KiB entry one run
    cannot settle every piece: it clears what fits, both ways alike, and says so."""
    from ledger.canonical import canonical_bytes

    pieces = [
        replace(_piece(f"{i:032x}", "A", "B", 10_00, date(2027, 3, 1)), root_id="f" * 32)
        for i in range(400)
    ]
    back = obligation(1000, "B", "A", 4_000_00)
    limits = {"A": IssuanceLimit("A", 10_000_00, 4_000_00)}
    state = NettingState(pieces=pieces, obligations=[back], limits=limits)
    settings = Settings(entry_bytes_max=64 * 1024)
    ctx = Context(9, CTX.now, "0" * 64, settings)
    body = RunBody.model_validate({"mode": "setoff", "as_of": "2026-11-26"})
    effects = run(state, body, ctx)
    report = effects["netting"]
    cleared = {(r["debtor"], r["creditor"]): r["amount"] for r in report["reductions"]}
    assert cleared[("A", "B")] == cleared[("B", "A")]  # a circulation: nets unchanged
    assert int(report["cleared"].replace(".", "")) == 2 * int(cleared[("A", "B")].replace(".", ""))
    assert 0 < len(effects["certificates"]) < 400
    assert [e["reason"] for e in report["excluded"]] == ["partly-deferred"]
    assert all(row["before"] == row["after"] for row in report["nets"])
    assert len(canonical_bytes(effects)) < settings.entry_bytes_max
    # What was cleared is gone from the state; the next run carries on with the rest.
    settled = {c["id"] for c in effects["certificates"] if c["state"] in ("settled", "spent")}
    rest = [p for p in pieces if p.id not in settled] + [
        replace(_piece(c["id"], "A", "B", int(c["amount"].replace(".", "")), date(2027, 3, 1)))
        for c in effects["certificates"]
        if c["state"] == "active"
    ]
    [after] = effects["obligations"]
    left = replace(back, outstanding_fen=int(after["outstanding"].replace(".", "")))
    second = run(NettingState(rest, [left], limits), body, ctx)["netting"]
    assert second["cleared"] != "0.00"


def test_a_split_in_part_replaces_one_live_piece_with_one() -> None:
    """Netting 50.00 of an 80.00 piece splits it: the piece is spent, 50.00 settled and
    30.00 stays live — one live piece for one, so a root's live pieces never grow by
    netting and a split needs no room (``certificates.root_piece_fen_min``)."""
    piece = _piece("c" * 32, "A", "B", 80_00, date(2027, 3, 1))
    back = obligation(1, "B", "A", 50_00)
    state = NettingState([piece], [back], {"A": IssuanceLimit("A", 1_000_00, 80_00)})
    body = RunBody.model_validate({"mode": "setoff", "as_of": "2026-11-26"})
    effects = run(state, body, CTX)
    assert effects["netting"]["excluded"] == []
    states = sorted((c["state"], c["amount"]) for c in effects["certificates"])
    assert states == [("active", "30.00"), ("settled", "50.00"), ("spent", "80.00")]
