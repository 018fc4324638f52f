"""Shared pieces of the scale-data generator (processes.scale_data): constants, ID numbers, id allocation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from sqlalchemy import func, select

from models import (
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
