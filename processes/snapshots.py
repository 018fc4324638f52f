"""Re-sealing stored workflow snapshots: after a key rotation, and once for snapshots written in clear."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from models import ProcessInstance
from processes.batches import id_batches
from processes.engine.sealing import PURPOSE, SnapshotSealer, SnapshotTampered
from processes.platform import Platform


@dataclass
class ResealResult:
    """What a re-sealing pass did."""

    scanned: int = 0
    resealed: int = 0
    refused: int = 0  # snapshots that did not open: left untouched for the security administrator


def reseal_snapshots(platform: Platform, *, batch: int = 200, connection: Connection | None = None) -> ResealResult:
    """Bring every snapshot onto the current "field-enc" key, in id batches (one transaction each).

    Each update applies only if the snapshot is unchanged since it was read, so a step taken meanwhile
    wins (it wrote a snapshot under the current key anyway); readers accept every known key id, so the
    system keeps serving while this runs.
    """
    sealer: SnapshotSealer = platform.engine.sealer
    current = platform.keys.symmetric_key(PURPOSE).key_id
    table = ProcessInstance.__table__
    result = ResealResult()
    query = select(table.c.id, table.c.public_id, table.c.snapshot)
    for conn, rows in id_batches(query, table.c.id, batch, connection):
        changes = []
        for row in rows:
            result.scanned += 1
            snapshot, public_id = row["snapshot"], row["public_id"]
            if not snapshot or SnapshotSealer.key_id(snapshot) == current:
                continue
            try:
                clear = sealer.open(snapshot, public_id)
            except SnapshotTampered:  # reported, never rewritten: re-sealing would launder tampering
                result.refused += 1
                continue
            changes.append((row["id"], snapshot, sealer.seal(clear, public_id)))
        for row_id, old, new in changes:
            done = conn.execute(
                update(table).where(table.c.id == row_id, table.c.snapshot == old).values(snapshot=new)
            ).rowcount
            result.resealed += done
    return result
