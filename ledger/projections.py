"""Projections: tables derived from the journal by applying each entry's effects.

Every rule returns effects as ``{collection: [full new row in wire shape, ...]}``.
Applying an entry means upserting those rows; replaying the journal means applying
every entry in order. The same :data:`PROJECTIONS` drive the writer
(:func:`apply_effects`) and the auditor (``ledger.verify``), so what ``dcc verify``
rebuilds is by construction what the service wrote — unless someone edited a row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from ledger import models

Row = dict[str, Any]


@dataclass(frozen=True)
class Projection:
    collection: str  # the key in effects
    table: Table
    key_column: str
    to_row: Callable[[Mapping[str, Any]], Row]  # wire shape -> columns (without updated_seq)


def _member_row(wire: Mapping[str, Any]) -> Row:
    return {
        "id": wire["id"],
        "name": wire["name"],
        "roles": ",".join(wire["roles"]),
        "status": wire["status"],
        "key_id": wire["key_id"],
        "public_key": wire["public_key"],
        "admitted_seq": wire["admitted_seq"],
    }


def _key_row(wire: Mapping[str, Any]) -> Row:
    return {
        "key_id": wire["key_id"],
        "member_id": wire["member"],
        "public_key": wire["public_key"],
        "added_seq": wire["added_seq"],
        "retired_seq": wire["retired_seq"],
    }


PROJECTIONS: dict[str, Projection] = {
    p.collection: p
    for p in (
        Projection("members", models.members, "id", _member_row),
        Projection("keys", models.member_keys, "key_id", _key_row),
    )
}


def register(projection: Projection) -> None:
    assert projection.collection not in PROJECTIONS, projection.collection
    PROJECTIONS[projection.collection] = projection


def rows_of(effects: Mapping[str, Any], seq: int) -> dict[str, list[Row]]:
    """The projection rows an entry's effects write, each stamped with ``seq``."""
    result: dict[str, list[Row]] = {}
    for collection, projection in PROJECTIONS.items():
        wires = effects.get(collection)
        if wires:
            result[collection] = [projection.to_row(wire) | {"updated_seq": seq} for wire in wires]
    return result


def apply_effects(conn: Connection, effects: Mapping[str, Any], seq: int) -> None:
    """Upsert the rows of one entry's effects (one statement per collection)."""
    for collection, rows in rows_of(effects, seq).items():
        projection = PROJECTIONS[collection]
        conn.execute(_upsert(conn, projection), rows)


def _upsert(conn: Connection, projection: Projection) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(projection.table)
    updated = {
        column.name: statement.excluded[column.name]
        for column in projection.table.columns
        if column.name != projection.key_column
    }
    return statement.on_conflict_do_update(index_elements=[projection.key_column], set_=updated)
