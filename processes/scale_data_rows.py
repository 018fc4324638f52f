"""The scale-data generator's row builder (processes.scale_data): one chunk of persons at a time."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from models import (
    ChannelClient,
    Deregistration,
    Endorsement,
    IntegrationCall,
    Permit,
    Person,
    Photo,
    ProcessEvent,
    ProcessInstance,
    ProductionItem,
    ResidenceRegistration,
    SmsBlock,
    db,
)
from models.protection import (
    ENC_PURPOSE,
    INDEX_PURPOSE,
    MAC_PURPOSE,
    current_keys,
    seal_values,
    spec_of,
)
from processes.scale_data_common import (
    CHANNELS,
    DISTRICTS,
    GIVEN,
    HISTORY_DAYS,
    PHOTO_SOURCES,
    REASONS,
    SLOTS,
    STEPS,
    SURNAMES,
    TABLES,
    _at,
    _definition_id,
    _next_ids,
    id_number,
)


class Generator:
    """Builds the rows of one chunk of persons at a time."""

    def __init__(self, platform: Any, scale: int, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.scale, self.today = scale, today
        self.start_day = today - timedelta(days=HISTORY_DAYS)
        self.ids = _next_ids()
        self.base = self.ids["person"]
        self.definition_id = _definition_id(platform)
        self.channel_ids = list(db.session.execute(select(ChannelClient.id)).scalars()) or [None]
        provider = current_keys()
        self.keys = {p: provider.symmetric_key(p) for p in (ENC_PURPOSE, MAC_PURPOSE, INDEX_PURPOSE)}
        self.specs = {m: spec_of(m) for m in (*TABLES, SmsBlock)}
        self._k, self._used = 0, {}

    def _seal(self, model: Any, row: dict[str, Any]) -> dict[str, Any]:
        return seal_values(self.specs[model], row, self.keys)

    def _take(self, table: str) -> int:
        # Ids are a pure function of the person's index, so chunks can be built in any process, in any order.
        j = self._used.get(table, 0)
        self._used[table] = j + 1
        if j >= SLOTS[table]:
            raise RuntimeError(f"more than {SLOTS[table]} {table} rows for one person")
        return self.ids[table] + self._k * SLOTS[table] + j

    def _batch(self, day: date, express: bool) -> int:
        return self.ids["production_batch"] + (day - self.start_day).days * 2 + int(express)

    def batch_rows(self) -> list[dict[str, Any]]:
        """One production batch per day and speed over the whole history (items refer to them by id)."""
        rows = []
        for offset in range((self.today - self.start_day).days + 1):
            day = self.start_day + timedelta(days=offset)
            done = day + timedelta(days=2) < self.today
            for express in (False, True):
                batch_id = self._batch(day, express)
                rows.append(
                    {
                        "id": batch_id,
                        "batch_ref": f"SB{batch_id:08d}{'E' if express else 'N'}{day:%Y%m%d}",
                        "factory_batch_id": f"F{batch_id:08d}",
                        "express": express,
                        "status": "imported" if done else "exported",
                        "exported_at": _at(day, 2.0),
                        "imported_at": _at(day + timedelta(days=2), 3.0) if done else None,
                    }
                )
        return rows

    def chunk(self, first: int, count: int) -> dict[Any, list[dict[str, Any]]]:
        """The rows of persons first … first+count-1 (k counts from the generator's base)."""
        out: dict[Any, list[dict[str, Any]]] = {
            m: [] for m in (*TABLES, ProcessEvent, ProductionItem, IntegrationCall, SmsBlock)
        }
        self.rng = random.Random(self.seed * 1_000_003 + first)
        for k in range(first, first + count):
            self._person(k, out)
        return out

    def _person(self, k: int, out: dict[Any, list[dict[str, Any]]]) -> None:
        self._k, self._used = k, {}
        rng = self.rng
        number = id_number(self.base + k)
        person_id = self._take("person")
        day = self.start_day + timedelta(days=rng.randrange(HISTORY_DAYS - 20))
        created = _at(day, rng.uniform(0, 10))
        mobile = f"13{(self.base + k) % 1_000_000_000:09d}"
        person = {
            "id": person_id,
            "id_number": number,
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else ""),
            "gender": "M" if int(number[16]) % 2 else "F",
            "birth_date": date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
            "ethnicity": "汉族" if rng.random() < 0.93 else "回族",
            "mobile": mobile,
            "household_address": f"某省某市某区某路{rng.randrange(1, 999)}号",
            "education": None,
            "employer": None,
            "rare_name": False,
            "deceased": False,
            "created_at": created,
            "updated_at": created,
        }
        photo_id = self._take("photo")
        out[Photo].append(
            self._seal(
                Photo,
                {
                    "id": photo_id,
                    "person_id": person_id,
                    "source": rng.choices(PHOTO_SOURCES, (50, 30, 15, 5))[0],
                    "sm3": f"{rng.getrandbits(256):064x}",
                    "size": rng.randrange(30_000, 200_000),
                    "mime": "image/jpeg",
                    "storage_key": f"scale/{photo_id}.jpg",
                    "taken_at": created,
                    "review_status": "passed",
                    "review_score": rng.randrange(80, 100),
                    "review_reasons": [],
                },
            )
        )
        reg_id = self._take("residence_registration")
        reg_years = rng.choice((1, 1, 2, 3))
        reg = {
            "id": reg_id,
            "number": f"SR{reg_id:010d}",
            "person_id": person_id,
            "status": "active",
            "address": f"上海市{rng.choice(DISTRICTS)}某路{rng.randrange(1, 2000)}弄{rng.randrange(1, 60)}号",
            "address_code": f"AC{rng.randrange(10**8):08d}",
            "house_id": f"H{rng.randrange(10**8):08d}",
            "district": rng.choice(DISTRICTS),
            "service_point": None,
            "reason": "work",
            "channel": rng.choices(CHANNELS, (45, 30, 15, 10))[0],
            "registered_on": day,
            "valid_until": day + timedelta(days=365 * reg_years),
            "insured_months": rng.randrange(0, 60),
            "photo_id": photo_id,
            "instance_id": None,
            "created_at": created,
            "ended_at": None,
            "previous_id": None,
        }
        if rng.random() < 0.1:
            self._deregister(reg, person, rng, out)
        out[ResidenceRegistration].append(self._seal(ResidenceRegistration, reg))
        out[Person].append(self._seal(Person, person))
        self._permit(person_id, reg_id, photo_id, day, out)

    def _deregister(self, reg: dict, person: dict, rng: random.Random, out: dict) -> None:
        ended = reg["registered_on"] + timedelta(days=rng.randrange(30, HISTORY_DAYS))
        if ended >= self.today:
            return
        reason = rng.choices(REASONS, (40, 35, 20, 5))[0]
        reg["status"], reg["ended_at"] = "deregistered", _at(ended, 3.0)
        out[Deregistration].append(
            self._seal(
                Deregistration,
                {
                    "id": self._take("deregistration"),
                    "registration_id": reg["id"],
                    "reason": reason,
                    "source": "death_list"
                    if reason == "deceased"
                    else ("system" if reason == "expired" else "channel"),
                    "details": {},
                    "notified": ["population"],
                    "status": "notified",
                    "created_at": _at(ended, 3.0),
                },
            )
        )
        if reason == "deceased":
            person["deceased"] = True
            out[SmsBlock].append(
                self._seal(
                    SmsBlock,
                    {
                        "id": self._take("sms_block"),
                        "id_number": person["id_number"],
                        "mobile_digest": None,
                        "reason": "deceased",
                        "source": "death_list",
                        "batch_ref": f"DL-{ended:%Y%m}",
                        "created_by": "scale-data",
                        "created_at": _at(ended.replace(day=1), 1.0),
                    },
                )
            )

    def _permit(self, person_id: int, reg_id: int, photo_id: int, day: date, out: dict) -> None:
        rng = self.rng
        permit_id, instance_id = self._take("permit"), self._take("process_instance")
        applied_day = day + timedelta(days=rng.randrange(0, 20))
        applied = _at(applied_day, rng.uniform(0, 9))
        express = rng.random() < 0.06
        cycle_days = rng.uniform(1.5, 4) if express else rng.uniform(5, 25)
        issued = applied + timedelta(days=cycle_days)
        done = issued.date() < self.today
        valid_from = issued.date() if done else None
        endorsements = 0
        if done:
            while endorsements < 5 and valid_from + timedelta(days=365 * (endorsements + 1)) <= self.today:
                if rng.random() > 0.85:
                    break
                endorsements += 1
        valid_until = valid_from + timedelta(days=365 * (1 + endorsements)) if done else None
        number = f"SP{permit_id:012d}"
        out[Permit].append(
            self._seal(
                Permit,
                {
                    "id": permit_id,
                    "number": number,
                    "person_id": person_id,
                    "registration_id": reg_id,
                    "status": "issued" if done else "producing",
                    "card_status": "delivered" if done else "queued",
                    "express": express,
                    "production_paused": False,
                    "expanded_eligibility": False,
                    "photo_id": photo_id,
                    "valid_from": valid_from,
                    "valid_until": valid_until,
                    "issued_at": issued if done else None,
                    "pickup": "post",
                    "waybill_no": None,
                    "rare_chars_ready": True,
                    "replaces_id": None,
                    "lost_at": None,
                    "lost_reported_by": None,
                    "endorsement_due": None,
                    "instance_id": instance_id,
                    "created_at": applied,
                },
            )
        )
        for j in range(1, endorsements + 1):
            auto = rng.random() < 0.8
            out[Endorsement].append(
                self._seal(
                    Endorsement,
                    {
                        "id": self._take("endorsement"),
                        "permit_id": permit_id,
                        "kind": "auto" if auto else "counter",
                        "endorsed_on": valid_from + timedelta(days=365 * j - rng.randrange(0, 30)),
                        "valid_until": valid_from + timedelta(days=365 * (j + 1)),
                        "decided_by": "system" if auto else "clerk",
                        "reasons": [],
                        "instance_id": None,
                        "created_at": _at(valid_from + timedelta(days=365 * j - 30), 1.0),
                    },
                )
            )
        self._history(instance_id, permit_id, number, applied, issued if done else None, express, out)

    def _history(
        self,
        instance_id: int,
        permit_id: int,
        number: str,
        applied: datetime,
        issued: datetime | None,
        express: bool,
        out: dict,
    ) -> None:
        rng = self.rng
        steps = [("started", None, None, applied)]
        at = applied
        for spec, name, kind, (low, high) in STEPS:
            at = at + timedelta(hours=rng.uniform(low, high))
            steps.append((kind, spec, name, at))
        if issued is not None:
            steps.append(("service_completed", "Task_issue_post", "发证（邮寄）", issued))
            pushed = issued + timedelta(minutes=rng.uniform(1, 30))
            steps.append(("service_completed", "Task_push_elicence", "生成并推送电子居住证", pushed))
            export_day = (issued - timedelta(days=3)).date()
            out[ProductionItem].append(
                {
                    "id": self._take("production_item"),
                    "batch_id": self._batch(max(export_day, at.date()), express),
                    "permit_id": permit_id,
                    "result": "made" if rng.random() < 0.98 else "failed",
                    "reason": None,
                }
            )
            ok = rng.random() < 0.98
            out[IntegrationCall].append(
                {
                    "id": self._take("integration_call"),
                    "system": "elicence",
                    "operation": "push_permit",
                    "direction": "outbound",
                    "business_key": number,
                    "request_sm3": f"{rng.getrandbits(256):064x}",
                    "response_sm3": f"{rng.getrandbits(256):064x}",
                    "status": "ok" if ok else "http_503",
                    "http_status": 200 if ok else 503,
                    "latency_ms": round(rng.uniform(20, 400), 1),
                    "attempts": 1 if ok else 3,
                    "error": None,
                    "at": pushed,
                }
            )
        last = steps[-1][3]
        out[ProcessInstance].append(
            {
                "id": instance_id,
                "public_id": f"sc{instance_id:016x}",
                "definition_id": self.definition_id,
                "process_key": "permit_application",
                "business_key": f"PA-{number}",
                "channel_id": rng.choice(self.channel_ids),
                "idempotency_key": None,
                "started_by": "scale-data",
                # History only (no engine snapshot): never left waiting, so no one can try to advance it.
                "status": "completed",
                "suspended": False,
                "snapshot": "",
                "waiting_on": [],
                "result": {},
                "request_id": None,
                "created_at": applied,
                "updated_at": last,
                "completed_at": last,
                "lock_version": 1,
            }
        )
        for kind, spec, name, when in steps:
            out[ProcessEvent].append(
                {
                    "id": self._take("process_event"),
                    "instance_id": instance_id,
                    "at": when,
                    "actor": "scale-data",
                    "kind": kind,
                    "task_spec": spec,
                    "task_name": name,
                    "details": {},
                    "request_id": None,
                }
            )
