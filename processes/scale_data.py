"""`permitflow demo-data --scale N`: realistic history for N persons, fast, with valid field protection.

Per person: a photo, a residence registration (10 % later deregistered, some deaths put on the death list),
a permit with its card-production item and e-licence push, yearly endorsements, and the permit's
`permit_application` process instance with 4–6 steps in process_event (≈ 6 events per permit).
Rows are written in chunks: PostgreSQL through COPY (psycopg), SQLite through executemany.

Protection: every row of a protected table goes through models.protection.seal_values (the same functions
the ORM hooks use) with the current keys fetched once, so ID numbers, mobiles and addresses are SM4-GCM
ciphertexts, blind indexes are HMAC-SM3 and every key-field MAC verifies when the row is loaded. Bulk-made
instances are history only: all completed (also those whose card is still in production) and without an
engine snapshot, so nothing can try to resume them.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import func, insert, select, text

from models import (
    ChannelClient,
    Deregistration,
    Endorsement,
    IntegrationCall,
    Permit,
    Person,
    Photo,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ProductionBatch,
    ProductionItem,
    ResidenceRegistration,
    SmsBlock,
    db,
)
from models.protection import (
    ENC_PURPOSE,
    INDEX_PURPOSE,
    MAC_PURPOSE,
    Sealed,
    current_keys,
    seal_values,
    spec_of,
    stored_form,
)

CHUNK = 20_000
HISTORY_DAYS = 3 * 365
AREAS = ("310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112", "310113", "310115")
DISTRICTS = ("黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区", "杨浦区", "闵行区", "宝山区", "浦东新区")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅志强玉兰海燕"
CHANNELS = ("counter", "suishenban", "mca3", "terminal")
PHOTO_SOURCES = ("counter", "channel", "social_security", "retake")
REASONS = ("request", "moved_away", "expired", "deceased")
# (task_spec, task_name, kind, hours after the previous step: (min, max))
STEPS = (
    ("Task_clerk_review", "网点审核", "task_completed", (0.5, 30.0)),
    ("Task_l1_review", "业务审核（一级）", "task_completed", (1.0, 48.0)),
    ("Task_approve", "审批通过，进入制证队列", "service_completed", (0.001, 0.02)),
)
# Rows per person at most, per table (ids are allocated in these strides).
SLOTS = {
    "person": 1,
    "photo": 1,
    "residence_registration": 1,
    "permit": 1,
    "process_instance": 1,
    "deregistration": 1,
    "sms_block": 1,
    "production_item": 1,
    "integration_call": 1,
    "endorsement": 5,
    "process_event": 6,
}
TABLES = (Person, Photo, ResidenceRegistration, Permit, Endorsement, Deregistration, ProcessInstance)


def id_checksum(first17: str) -> str:
    """The GB 11643 check character of an ID number's first 17 digits."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def id_number(k: int) -> str:
    """A valid, unique ID number for the k-th generated person (unique while k < 18,000,000)."""
    group, seq = divmod(k, 1000)
    born = date(1960, 1, 1) + timedelta(days=(group * 11) % 18000)
    first17 = f"{AREAS[group % len(AREAS)]}{born:%Y%m%d}{seq:03d}"
    return first17 + id_checksum(first17)


class Writer:
    """Appends rows to a table: COPY of pre-encoded text on PostgreSQL, executemany elsewhere."""

    def __init__(self) -> None:
        self.pg = db.engine.dialect.name == "postgresql"
        self.counts: dict[str, int] = {}

    def write(self, model: Any, rows: list[dict[str, Any]] | tuple[list[str], str, int]) -> None:
        """Write rows given as dicts, or (on PostgreSQL) as (columns, COPY text, row count) from `encode`."""
        table = model.__table__
        if isinstance(rows, list):
            if not rows:
                return
            if not self.pg:
                self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
                db.session.execute(insert(table), rows)
                return
            rows = encode(rows)
        columns, data, count = rows
        if not count:
            return
        self.counts[table.name] = self.counts.get(table.name, 0) + count
        cursor = db.session.connection().connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(data)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: Any) -> str:
    if value is None:
        return "\\N"
    stored = stored_form(value)
    if stored is not None:
        return stored
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).translate(_ESCAPES)
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    return str(value)


def encode(rows: list[dict[str, Any]]) -> tuple[list[str], str, int]:
    """Rows as PostgreSQL COPY text (tab-separated, \\N for NULL); done in the worker processes."""
    if not rows:
        return [], "", 0
    columns = list(rows[0])
    lines = ["\t".join([_text(row[c]) for c in columns]) for row in rows]
    return columns, "\n".join(lines) + "\n", len(rows)


def _at(day: date, hour: float) -> datetime:
    return datetime.combine(day, dtime(), UTC) + timedelta(hours=hour)


def _next_ids() -> dict[str, int]:
    ids = {}
    for model in (*TABLES, ProcessEvent, ProductionItem, ProductionBatch, IntegrationCall, SmsBlock):
        ids[model.__tablename__] = (db.session.execute(select(func.max(model.id))).scalar() or 0) + 1
    return ids


def _definition_id(platform: Any) -> int:
    row = db.session.execute(
        select(ProcessDefinition.id)
        .where(ProcessDefinition.kind == "bpmn", ProcessDefinition.key == "permit_application")
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).scalar()
    if row is None:
        from pathlib import Path

        from processes.deployment import deploy_files

        paths = sorted(Path(__file__).resolve().parent.parent.joinpath("bpmn").glob("*.*n"))
        deploy_files(platform, paths, "scale-data", "scale data")
        return _definition_id(platform)
    return row


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


# Parents before children (foreign keys), process instances before the permits that name them.
WRITE_ORDER = (
    Person,
    Photo,
    ResidenceRegistration,
    ProcessInstance,
    Permit,
    Endorsement,
    Deregistration,
    ProcessEvent,
    ProductionItem,
    IntegrationCall,
    SmsBlock,
)


_WORKER: dict[str, Any] = {}
_SEALED = "__sealed__"


def _init_worker(app: Any, generator: Generator, pg: bool) -> None:
    # Forked: never touch the parent's pooled connections; field protection needs an app context.
    db.engine.dispose(close=False)
    context = app.app_context()
    context.push()
    _WORKER.update(generator=generator, pg=pg, context=context)


def _build(span: tuple[int, int]) -> dict[str, Any]:
    rows = _WORKER["generator"].chunk(*span)
    if _WORKER["pg"]:
        return {model.__tablename__: encode(value) for model, value in rows.items()}
    # A Sealed value pickles as plain text (by design), which would lose the ciphertext the MAC covers.
    return {model.__tablename__: [_pack(row) for row in value] for model, value in rows.items()}


def _pack(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (_SEALED, str(v), v.stored, v.label) if stored_form(v) is not None else v for k, v in row.items()}


def _unpack(rows: Any) -> Any:
    if not isinstance(rows, list):
        return rows
    return [
        {k: Sealed(v[1], v[2], v[3]) if isinstance(v, tuple) and v and v[0] == _SEALED else v for k, v in row.items()}
        for row in rows
    ]


def generate(
    platform: Any,
    scale: int,
    *,
    seed: int = 7,
    today: date | None = None,
    workers: int = 1,
    chunk: int = CHUNK,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Generate history for `scale` persons (chunks built by `workers` processes), then rebuild the summary."""
    from flask import current_app

    from processes.reports.summary import refresh

    started = time.perf_counter()
    zone = platform.settings.zone
    today = today or datetime.now(zone).date()
    gen = Generator(platform, scale, seed, today)
    writer = Writer()
    writer.write(ProductionBatch, gen.batch_rows())
    db.session.commit()
    spans = [(first, min(chunk, scale - first)) for first in range(0, scale, chunk)]
    by_name = {model.__tablename__: model for model in WRITE_ORDER}
    app = current_app._get_current_object()
    pool = None
    if workers > 1:
        pool = multiprocessing.get_context("fork").Pool(workers, _init_worker, (app, gen, writer.pg))
        chunks = pool.imap(_build, spans)
    else:
        _WORKER.update(generator=gen, pg=writer.pg)
        chunks = map(_build, spans)
    done = 0
    try:
        for (_first, count), rows in zip(spans, chunks, strict=True):
            for name in [m.__tablename__ for m in WRITE_ORDER]:
                writer.write(by_name[name], _unpack(rows[name]))
            db.session.commit()
            done += count
            if progress:
                progress(f"{done}/{scale} persons, {time.perf_counter() - started:.0f}s")
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if writer.pg:
        _fix_sequences()
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    loaded = time.perf_counter() - started
    summary = refresh(None, None, zone)
    db.session.commit()
    return {
        "rows": writer.counts,
        "load_seconds": round(loaded, 1),
        "summary_seconds": summary["seconds"],
        "seconds": round(time.perf_counter() - started, 1),
    }


def _fix_sequences() -> None:
    # COPY wrote explicit ids: move each identity sequence past them.
    for model in (*WRITE_ORDER, ProductionBatch):
        table = model.__tablename__
        db.session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))")
        )
