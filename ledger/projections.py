"""Projections: tables derived from the journal by applying each entry's effects.

Every rule returns effects as ``{collection: [full new row in wire shape, ...]}``.
Applying an entry means upserting those rows; replaying the journal means applying
every entry in order. The same :data:`PROJECTIONS` drive the writer (:func:`write_rows`,
which the sequencer's batch calls once per table) and the auditor (``ledger.verify``), so
what ``dcc verify`` rebuilds is by construction what the service wrote — unless someone
edited a row.

One index is derived from the whole entry rather than from one collection:
``entry_parties`` (member, seq) lists every member an entry touched, for wallet history.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from ledger import models
from ledger.certificates import OVERDUE
from ledger.entities import ENTITIES
from ledger.financing import FinancingState

Row = dict[str, Any]
PARTIES = "parties"


@dataclass(frozen=True)
class Projection:
    collection: str  # the key in effects
    table: Table
    key_columns: tuple[str, ...]
    to_row: Callable[[Mapping[str, Any]], Row]  # wire shape -> columns (without updated_seq)
    stamped: bool = True  # has an updated_seq column

    def key_of(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(row[column] for column in self.key_columns)


def _party_row(wire: Mapping[str, Any]) -> Row:
    return dict(wire)


# Each entity's projection is derived from its declaration (ledger.entities).
PROJECTIONS: dict[str, Projection] = {
    collection: Projection(collection, entity.table, entity.key_columns, entity.to_row)
    for collection, entity in ENTITIES.items()
} | {
    PARTIES: Projection(
        PARTIES, models.entry_parties, ("member_id", "seq"), _party_row, stamped=False
    )
}


def parties_of(command: Mapping[str, Any], effects: Mapping[str, Any]) -> set[str]:
    """Every member an entry touched: its signer, and the members its effects name."""
    parties = {command["signer"]} if command.get("signer") else set()
    parties.update(member["id"] for member in effects.get("members", ()))
    parties.update(limit["member"] for limit in effects.get("limits", ()))
    for obligation in effects.get("obligations", ()):
        parties.update((obligation["debtor"], obligation["creditor"]))
    for financing in effects.get("financings", ()):
        parties.update((financing["applicant"], financing["bank"]))
        if financing["state"] == FinancingState.APPROVED:  # the notice of assignment, to the debtor
            parties.add(financing["core"])
    for certificate in effects.get("certificates", ()):
        parties.add(certificate["holder"])
        if certificate["sender"]:
            parties.add(certificate["sender"])
        if certificate["id"] == certificate["root_id"] or certificate["state"] == OVERDUE:
            parties.add(certificate["issuer"])
    for payment in effects.get("payments", ()):
        parties.update((payment["issuer"], payment["holder"]))
    parties.update(notice["issuer"] for notice in effects.get("notices", ()))
    return parties


def rows_of(
    command: Mapping[str, Any],
    effects: Mapping[str, Any],
    seq: int,
    collections: Collection[str] = PROJECTIONS.keys(),
) -> dict[str, list[Row]]:
    """The projection rows one entry writes to ``collections`` (by default, all), each
    stamped with ``seq``."""
    result: dict[str, list[Row]] = {}
    for collection, projection in PROJECTIONS.items():
        if collection == PARTIES or collection not in collections:
            continue
        wires = effects.get(collection)
        if wires:
            result[collection] = [projection.to_row(wire) | {"updated_seq": seq} for wire in wires]
    parties = parties_of(command, effects) if PARTIES in collections else None
    if parties:
        result[PARTIES] = [{"member_id": member, "seq": seq} for member in sorted(parties)]
    return result


Replayed = dict[str, dict[Any, Row]]  # collection -> key -> row (with updated_seq)


def replay(
    replayed: Replayed,
    command: Mapping[str, Any],
    effects: Mapping[str, Any],
    seq: int,
    collections: Collection[str] = PROJECTIONS.keys(),
) -> None:
    """Apply an entry's effects on ``collections`` (by default, all) to in-memory
    projections (the auditor's copy)."""
    for collection, rows in rows_of(command, effects, seq, collections).items():
        projection = PROJECTIONS[collection]
        for row in rows:
            replayed[collection][projection.key_of(row)] = row


def apply_effects(
    conn: Connection, command: Mapping[str, Any], effects: Mapping[str, Any], seq: int
) -> None:
    """Upsert the rows of one entry (one statement per collection)."""
    for collection, rows in rows_of(command, effects, seq).items():
        write_rows(conn, collection, rows)


def write_rows(conn: Connection, collection: str, rows: list[Row]) -> None:
    """Upsert ``rows`` of a collection (from :func:`rows_of`; at most one per key) in one
    statement: how the sequencer writes a batch, and :func:`apply_effects` one entry."""
    if rows:
        conn.execute(upsert_statement(conn, PROJECTIONS[collection]), rows)


_UPSERTS: dict[tuple[str, str], Any] = {}


def upsert_statement(conn: Connection, projection: Projection) -> Any:
    """The upsert statement of a projection for this dialect, built once."""
    cache_key = (conn.dialect.name, projection.collection)
    statement = _UPSERTS.get(cache_key)
    if statement is None:
        statement = _UPSERTS[cache_key] = _build_upsert(conn.dialect.name, projection)
    return statement


def _build_upsert(dialect_name: str, projection: Projection) -> Any:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(projection.table)
    updated = {
        column.name: statement.excluded[column.name]
        for column in projection.table.columns
        if column.name not in projection.key_columns
    }
    if not updated:
        return statement.on_conflict_do_nothing(index_elements=list(projection.key_columns))
    return statement.on_conflict_do_update(
        index_elements=list(projection.key_columns), set_=updated
    )
