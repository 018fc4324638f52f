"""C2.2 rare-character library (生僻字库): characters entered and reviewed through change requests, kept
before production, and used by card export to tell the factory which names it can print."""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import select

from handlers.registry import HandlerError
from models import db, utcnow
from models.changes import RareCharacter
from processes.changes.registry import ChangeType, Prepared, form, register


def is_common(char: str) -> bool:
    """True for a character of the common national set (GB 2312), which every card font has."""
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def active_characters(chars: set[str] | None = None) -> set[str]:
    """The library's active characters (only those asked about, when given)."""
    query = select(RareCharacter.character).where(RareCharacter.status == "active")
    if chars is not None:
        if not chars:
            return set()
        query = query.where(RareCharacter.character.in_(sorted(chars)))
    return set(db.session.execute(query).scalars())


def rare_characters(name: str) -> set[str]:
    """The characters of a name the card factory needs from the library: outside GB 2312, or entered in it."""
    chars = set(name)
    return {c for c in chars if not is_common(c)} | active_characters(chars)


def name_ready(name: str) -> bool:
    """True when a name has rare characters and every one of them is in the active library (card export)."""
    needed = rare_characters(name)
    return bool(needed) and needed <= active_characters(needed)


def _character(fields: dict[str, Any]) -> str:
    char = fields["character"].strip()
    if len(char) != 1 or not unicodedata.category(char).startswith("Lo"):
        raise HandlerError("CHARACTER_INVALID", "请输入一个汉字")
    return char


def _row(char: str) -> RareCharacter | None:
    return db.session.execute(select(RareCharacter).where(RareCharacter.character == char)).scalar_one_or_none()


def _state(row: RareCharacter | None) -> dict[str, Any]:
    return {"status": row.status if row else None, "description": row.description if row else None}


def _prepare_add(fields: dict[str, Any]) -> Prepared:
    char = _character(fields)
    row = _row(char)
    if row is not None and row.status == "active":
        raise HandlerError("CHARACTER_EXISTS", f"“{char}”已在生僻字库中")
    proposed = {"status": "active", "description": fields["description"]}
    return Prepared(f"{char}（U+{ord(char):04X}）", char, None, _state(row), proposed)


def _apply_add(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    char = _character(fields)
    row = _row(char)
    if _state(row) != before:
        raise HandlerError("CHANGED_SINCE_SUBMIT", "提交后该字已被其他申请修改，本次变更未执行")
    if row is None:
        row = RareCharacter(character=char, codepoint=f"U+{ord(char):04X}")
        db.session.add(row)
    row.status, row.description = "active", fields["description"]
    row.glyph, row.request_number, row.updated_at = fields.get("glyph"), number, utcnow()
    db.session.flush()
    return _state(row)


def _prepare_retire(fields: dict[str, Any]) -> Prepared:
    char = _character(fields)
    row = _row(char)
    if row is None or row.status != "active":
        raise HandlerError("CHARACTER_NOT_ACTIVE", f"“{char}”不在生僻字库中")
    return Prepared(f"{char}（{row.codepoint}）", char, None, _state(row), {"status": "retired"})


def _apply_retire(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    char = _character(fields)
    row = _row(char)
    if _state(row) != before:
        raise HandlerError("CHANGED_SINCE_SUBMIT", "提交后该字已被其他申请修改，本次变更未执行")
    row.status, row.request_number, row.updated_at = "retired", number, utcnow()
    return _state(row)


def library() -> list[RareCharacter]:
    """Every character of the library, active first."""
    return list(
        db.session.execute(select(RareCharacter).order_by(RareCharacter.status, RareCharacter.character)).scalars()
    )


CHAR_FIELD = {"name": "character", "label": "生僻字", "type": "string", "required": True, "max_length": 2}
register(
    ChangeType(
        code="rare_char_add",
        label="生僻字入库",
        group="rare_chars",
        levels=1,
        form=form(
            "rare_char_add",
            "生僻字入库",
            [
                CHAR_FIELD,
                {
                    "name": "description",
                    "label": "字形说明（部件、读音）",
                    "type": "string",
                    "required": True,
                    "max_length": 200,
                },
                {"name": "glyph", "label": "字形图片", "type": "file"},
            ],
        ),
        prepare=_prepare_add,
        apply=_apply_add,
        description="制证前录入生僻字（字形说明、字形图片），经审核后入库；批量制证导出时据此告知制卡厂。",
    )
)
register(
    ChangeType(
        code="rare_char_retire",
        label="生僻字停用",
        group="rare_chars",
        levels=1,
        form=form("rare_char_retire", "生僻字停用", [CHAR_FIELD]),
        prepare=_prepare_retire,
        apply=_apply_retire,
        description="停用字库中的生僻字（记录保留），此后导出的制证数据不再标注该字已备字。",
    )
)
