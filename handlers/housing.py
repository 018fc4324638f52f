"""Housing handler: the lawful-stable-residence check behind A2 and A6."""

from __future__ import annotations

from typing import Any

from handlers.registry import operator
from integrations.errors import PermanentError
from integrations.housing import HousingClient

# What an applicant can bring when the housing data cannot confirm the house (unknown).
HOUSING_MATERIALS = ["房屋租赁合同（已登记备案）或房屋产权证明", "居住地址的标准地址编码（可在社区事务受理中心查询）"]
_STABLE = {"A": True, "B": True, "C": False, "unrated": False}


@operator("housing.check_residence", clients=("housing",), max_attempts=5, backoff_seconds=2.0)
def check_residence(*, housing: HousingClient, address_code: str = "", business_key: str = "") -> dict[str, Any]:
    """Lawful stable residence: the house by its address code is legal, illegal or unknown, and how stable."""
    if not address_code:
        return _unknown("未提供地址编码，无法在房屋数据中核实居住房屋")
    try:
        house = housing.house(address_code=address_code, business_key=business_key or None)
    except PermanentError as exc:
        if exc.code == "HOUSE_NOT_FOUND":
            return _unknown(f"房屋数据中未找到地址编码 {address_code} 对应的房屋")
        raise
    reason = {
        "legal": "合法稳定居所：房屋数据核验通过",
        "illegal": "该房屋在房屋数据中登记为违法建筑，须由受理员审核决定",
        "unknown": "房屋合法性在房屋数据中尚未认定",
    }[house.legality]
    return {
        "match": house.legality,
        "stable": _STABLE.get(house.stability_rating, False),
        "stability_rating": house.stability_rating,
        "house_id": house.house_id,
        "district": house.district,
        "address": house.address,
        "property_status": house.property_status,
        "reason": reason,
        "materials": HOUSING_MATERIALS if house.legality == "unknown" else [],
    }


def _unknown(reason: str) -> dict[str, Any]:
    return {
        "match": "unknown",
        "stable": False,
        "stability_rating": "unrated",
        "house_id": "",
        "district": "",
        "address": "",
        "property_status": "",
        "reason": reason,
        "materials": HOUSING_MATERIALS,
    }
