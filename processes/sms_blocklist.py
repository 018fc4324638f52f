"""The SMS block list (短信禁发表, B3): who must never get a message, fed by the death list (C1.3)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any

from sqlalchemy import select

from integrations import idnumber
from models import SmsBlock, SmsMessage, db
from models.protection import blind_index, blind_indexes
from processes.errors import ValidationFailed
from processes.stepping import Actor
from processes.unit_of_work import transaction

log = logging.getLogger(__name__)

SYNC_CHUNK = 200  # persons blocked per transaction while reading the death list


def person_digest(id_number: str) -> str:
    """Keyed blind index (HMAC-SM3, current key) under which an ID number is stored for matching."""
    return blind_index(id_number.upper())


def mobile_digest(mobile: str) -> str:
    """Keyed blind index (HMAC-SM3, current key) under which a mobile number is stored for matching."""
    return blind_index(mobile)


def person_digests(id_number: str) -> list[str]:
    """The ID number's blind index under every known key: what look-ups match (rows outlive rotations)."""
    return blind_indexes(id_number.upper())


def mobile_digests(mobile: str) -> list[str]:
    """The mobile's blind index under every known key."""
    return blind_indexes(mobile)


def block_reason(id_digest: str | list[str] | None, mobile_hash: str | list[str] | None) -> str | None:
    """Why this person or mobile must not get SMS, or None (digests: one stored value or every version)."""
    # Blocked by ID number, by a mobile on the block list, or by a mobile we once messaged for a blocked
    # person (the number is theirs). Each is an indexed look-up; the first hit answers.
    ids = [id_digest] if isinstance(id_digest, str) else list(id_digest or ())
    mobiles = [mobile_hash] if isinstance(mobile_hash, str) else list(mobile_hash or ())
    queries = []
    if ids:
        queries.append(select(SmsBlock.reason).where(SmsBlock.id_digest.in_(ids)))
    if mobiles:
        queries.append(select(SmsBlock.reason).where(SmsBlock.mobile_digest.in_(mobiles)))
        queries.append(
            select(SmsBlock.reason)
            .join(SmsMessage, SmsMessage.id_digest == SmsBlock.id_digest)
            .where(SmsMessage.mobile_digest.in_(mobiles))
        )
    for query in queries:
        reason = db.session.execute(query.limit(1)).scalar()
        if reason is not None:
            return reason
    return None


def is_blocked(id_number: str | None = None, mobile: str | None = None) -> bool:
    """True when the person (by ID number) or the mobile must not receive SMS."""
    ids = person_digests(id_number) if id_number else None
    return block_reason(ids, mobile_digests(mobile) if mobile else None) is not None


def block_person(
    id_number: str,
    *,
    reason: str,
    source: str,
    actor: Actor,
    batch_ref: str | None = None,
    mobile: str | None = None,
) -> tuple[SmsBlock, bool]:
    """Put a person on the block list; (entry, created). Blocking twice keeps the first entry."""
    fields: dict[str, str] = {}
    problem = idnumber.id_number_problem(id_number)
    if problem:
        fields["id_number"] = problem
    for name, value, limit in (("reason", reason, 32), ("source", source, 32), ("batch_ref", batch_ref or "-", 64)):
        if not isinstance(value, str) or not 0 < len(value.strip()) <= limit:
            fields[name] = f"{name} 应为1到{limit}个字符"
    if fields:
        raise ValidationFailed("SMS_BLOCK_INVALID", "禁发名单条目有误", {"fields": fields})
    with transaction():
        entry, created = _block(id_number, reason, source, actor.name, batch_ref, mobile)
    return entry, created


def _block(
    id_number: str, reason: str, source: str, by: str, batch_ref: str | None, mobile: str | None
) -> tuple[SmsBlock, bool]:
    # id_digest is the blind index of the (encrypted) id_number: the model layer keeps it up to date.
    entry = db.session.execute(
        select(SmsBlock).where(SmsBlock.id_digest.in_(person_digests(id_number)))
    ).scalar_one_or_none()
    if entry is not None:
        if mobile and not entry.mobile_digest:
            entry.mobile_digest = mobile_digest(mobile)
        return entry, False
    entry = SmsBlock(
        id_number=id_number.upper(),
        mobile_digest=mobile_digest(mobile) if mobile else None,
        reason=reason,
        source=source,
        batch_ref=batch_ref,
        created_by=by,
    )
    db.session.add(entry)
    return entry, True


@dataclass
class DeathListSync:
    """What one read of the death list did."""

    seen: int = 0
    blocked: int = 0
    already: int = 0
    invalid: int = 0


def sync_death_list(platform: Any, since: date | str, actor: Actor | None = None) -> DeathListSync:
    """Block every person the population office recorded dead on or after `since` (idempotent).

    Pages are read outside any transaction; each chunk of persons is blocked in its own.
    """
    by = (actor or Actor.system()).name
    result = DeathListSync()
    deaths = platform.clients["population"].deaths_since(since)
    while chunk := list(islice(deaths, SYNC_CHUNK)):
        with transaction():
            for death in chunk:
                result.seen += 1
                if idnumber.id_number_problem(death.id_number):
                    result.invalid += 1  # a bad row in the feed must not stop the others
                    continue
                _, created = _block(
                    death.id_number, "deceased", "death_list", by, f"death_list:{death.reported_on}", None
                )
                result.blocked += created
                result.already += not created
    log.info("death list since %s: %s", since, result)
    return result
