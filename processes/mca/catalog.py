"""The MCA 3.0 interface catalogue: code → group, Chinese title, fields, and the service that answers it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from processes.platform import Platform
from processes.stepping import Actor

# The 17 interface groups of REQUIREMENTS B1, plus 0 for the shared instance query.
GROUPS: dict[int, str] = {
    0: "通用：受理进度查询",
    1: "B1.1 房屋信息查询（精确、模糊）",
    2: "B1.2 房屋居住人员及可办业务查询",
    3: "B1.3 居住证新办",
    4: "B1.4 制证照片重拍",
    5: "B1.5 居住证发放",
    6: "B1.6 签注",
    7: "B1.7 居住证地址迁移",
    8: "B1.8 居住证一般信息变更",
    9: "B1.9 居住证身份信息变更",
    10: "B1.10 挂失／解除挂失",
    11: "B1.11 补领证件",
    12: "B1.12 居住登记",
    13: "B1.13 居住登记地址迁移",
    14: "B1.14 居住登记一般信息变更",
    15: "B1.15 居住登记身份信息变更",
    16: "B1.16 邮寄信息上传及临时卡回收",
    17: "B1.17 统一校验",
}


@dataclass(frozen=True)
class CallContext:
    """What an interface's service gets besides the request: the platform, the acting app and request."""

    platform: Platform
    actor: Actor
    app_id: str
    interface_code: str
    request_id: str | None


Handler = Callable[[CallContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Interface:
    """One interface: its code (also the URL's last part), group, title, fields and service."""

    code: str
    group: int
    title: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    handler: Handler
    writes: bool  # starts or changes business (a POST that is not a query)


INTERFACES: dict[str, Interface] = {}


def interface(
    code: str,
    group: int,
    title: str,
    required: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
    writes: bool = False,
) -> Callable[[Handler], Handler]:
    """Register a function as the service of an interface code."""

    def register(func: Handler) -> Handler:
        if code in INTERFACES:
            raise ValueError(f"MCA interface {code!r} registered twice")
        INTERFACES[code] = Interface(code, group, title, tuple(required), tuple(optional), func, writes)
        return func

    return register


def find(code: str) -> Interface | None:
    """The interface with this code, or None."""
    from processes.mca import services  # noqa: F401  (registers every interface on first use)

    return INTERFACES.get(code)


def all_interfaces() -> list[Interface]:
    """Every interface, by group then code."""
    from processes.mca import services  # noqa: F401

    return sorted(INTERFACES.values(), key=lambda i: (i.group, i.code))
