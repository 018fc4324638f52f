"""The deterministic simulated population: persons whose records cover every rule branch."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from integrations import idnumber

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "华",
    "慧",
    "建国",
    "海燕",
    "晓东",
    "志强",
    "雪梅",
    "子涵",
    "浩然",
    "欣怡",
    "宇轩",
    "梓萱",
]
RARE_GIVEN = ["䶮", "堃", "喆", "㛃", "昇", "燚", "犇", "淼"]
REGIONS = ["320102", "340104", "420106", "510107", "410105", "430103", "360102", "370102", "130102", "610103"]
EMPLOYERS = ["上海浦江科技有限公司", "上海申城物流有限公司", "上海东方餐饮管理有限公司", "上海静安建筑工程有限公司"]

# Social-insurance profiles, cycled over the population so that every branch has many persons.
HRSS_PROFILES = ("long", "exactly6", "exactly5", "gap", "none", "suspended", "new2", "long")


@dataclass(frozen=True)
class Person:
    """One simulated person and what every external system knows of them."""

    index: int
    id_number: str
    name: str
    gender: str
    birth_date: str
    mobile: str
    hrss_profile: str
    rare_name: bool
    deceased: bool
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@lru_cache(maxsize=4)
def population(seed: int = 20260101, size: int = 240) -> tuple[Person, ...]:
    """The same persons for the same seed, on every machine."""
    rng = random.Random(seed)
    persons = []
    for i in range(size):
        rare = i % 25 == 7
        given = rng.choice(RARE_GIVEN) if rare else rng.choice(GIVEN)
        name = rng.choice(SURNAMES) + given
        born = date(1965 + rng.randrange(0, 40), 1 + rng.randrange(12), 1 + rng.randrange(28))
        id_number = idnumber.make(REGIONS[i % len(REGIONS)], born, 100 + i)
        persons.append(
            Person(
                index=i,
                id_number=id_number,
                name=name,
                gender=idnumber.gender(id_number),
                birth_date=born.isoformat(),
                mobile=f"139{rng.randrange(10**8):08d}",
                hrss_profile=HRSS_PROFILES[i % len(HRSS_PROFILES)],
                rare_name=rare,
                deceased=i % 40 == 13,
            )
        )
    return tuple(persons)


@lru_cache(maxsize=4)
def by_id_number(seed: int = 20260101) -> dict[str, Person]:
    """Index of the population by ID number."""
    return {p.id_number: p for p in population(seed)}


def contribution_history(person: Person, as_of: date) -> list[dict]:
    """Monthly contributions for the 24 months before `as_of`, oldest first, per the person's profile."""
    months = []
    year, month = as_of.year, as_of.month
    for _ in range(24):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        months.append(f"{year:04d}-{month:02d}")
    months.reverse()  # oldest first; the last entry is the month before as_of
    paid_pattern = {
        "long": [True] * 24,
        "exactly6": [False] * 18 + [True] * 6,
        "exactly5": [False] * 19 + [True] * 5,
        # Alternate gap shapes: an old gap with 7 recent months (passes), a recent gap with 3 (fails).
        "gap": [True] * 15 + [False, False] + [True] * 7
        if person.index // 8 % 2
        else [True] * 20 + [False] + [True] * 3,
        "none": None,
        "suspended": [True] * 20 + [False] * 4,
        "new2": [False] * 22 + [True] * 2,
    }[person.hrss_profile]
    if paid_pattern is None:
        return []
    employer = EMPLOYERS[person.index % len(EMPLOYERS)]
    first_paid = paid_pattern.index(True)
    return [
        {"month": m, "paid": paid, "employer": employer if paid else ""}
        for m, paid in list(zip(months, paid_pattern, strict=True))[first_paid:]
    ]


def consecutive_months(history: list[dict]) -> int:
    """Paid months counted back from the most recent month without a break."""
    count = 0
    for entry in reversed(history):
        if not entry["paid"]:
            break
        count += 1
    return count


# ---------------------------------------------------------------------------------------------------------
# What the other external systems know: houses, social-security-card photos, e-licences and deaths.
# Everything below derives from a person's index and ID number, never from the population's own random
# stream, so the persons above (and every test built on them) stay exactly as they are.
# ---------------------------------------------------------------------------------------------------------

HOUSED_PERSONS = 220  # persons 0-219 live in a house on record; 220-239 have no housing record
HOUSE_SIZES = (2, 3, 1, 4)  # occupants per house, cycled over houses (h % 4)
HOUSE_LEGALITY = ("legal", "legal", "legal", "illegal", "unknown")  # cycled over houses (h % 5)
PROPERTY_STATUS = ("owned", "leased", "public")  # cycled over houses (h % 3)
# (district code, district, road): house h stands on road h % 8, so every road holds about 11 houses.
ROADS = (
    ("310115", "浦东新区", "张杨路"),
    ("310104", "徐汇区", "漕溪北路"),
    ("310106", "静安区", "共和新路"),
    ("310112", "闵行区", "莘庄路"),
    ("310113", "宝山区", "牡丹江路"),
    ("310110", "杨浦区", "国定路"),
    ("310115", "浦东新区", "川沙路"),
    ("310107", "普陀区", "曹杨路"),
)
REGION_NAMES = {
    "320102": ("南京市", "玄武"),
    "340104": ("合肥市", "蜀山"),
    "420106": ("武汉市", "武昌"),
    "510107": ("成都市", "武侯"),
    "410105": ("郑州市", "金水"),
    "430103": ("长沙市", "天心"),
    "360102": ("南昌市", "东湖"),
    "370102": ("济南市", "历下"),
    "130102": ("石家庄市", "长安"),
    "610103": ("西安市", "碑林"),
}
SCHOOLS = ("南京大学", "武汉理工大学", "四川大学", "郑州大学", "湖南师范大学", "南昌航空大学")
EDUCATION_LEVELS = ("大学专科", "大学本科", "硕士研究生")
PHOTO_FAILURES = (
    ("背景颜色不符合要求（应为白色）",),
    ("人像模糊，五官不清晰",),
    ("面部有遮挡（眼镜反光或头发遮挡眉眼）", "头部姿态不端正"),
    ("与身份证件照片比对相似度过低",),
)
LICENCE_TYPES = {
    "id_card": "居民身份证",
    "household_register": "居民户口簿",
    "marriage": "结婚证",
    "education": "学历证书",
}
DEATH_EPOCH = date(2024, 1, 1)


@dataclass(frozen=True)
class House:
    """One house in the housing data, with the persons registered as living there (first: owner/tenant)."""

    index: int
    house_id: str
    address_code: str
    address: str
    district: str
    property_status: str  # owned | leased | public
    legality: str  # legal | illegal | unknown
    stability_rating: str  # A stable (owned) | B basically stable | C unstable (illegal) | unrated
    area_m2: float
    occupants: tuple[int, ...]  # person indexes


@dataclass(frozen=True)
class PhotoProfile:
    """A person's social-security-card photo and the verdict automatic review gives it."""

    content: bytes
    taken_at: str
    passed: bool
    score: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class LicenceRecord:
    """One e-licence held by a person."""

    licence_no: str
    type_code: str
    issuer: str
    issued_on: str
    valid_until: str | None  # None: valid without end (长期)
    details: tuple[tuple[str, str], ...]


@lru_cache(maxsize=1)
def houses() -> tuple[House, ...]:
    """Houses 0-87 and their occupants: every combination of size, legality and property status occurs."""
    result, person, h = [], 0, 0
    while person < HOUSED_PERSONS:
        size = min(HOUSE_SIZES[h % len(HOUSE_SIZES)], HOUSED_PERSONS - person)
        code, district, road = ROADS[h % len(ROADS)]
        number, building, room = 100 + (h // len(ROADS)) * 10, 1 + h % 3, 101 + (h % 6) * 100
        legality, status = HOUSE_LEGALITY[h % len(HOUSE_LEGALITY)], PROPERTY_STATUS[h % len(PROPERTY_STATUS)]
        rating = {"illegal": "C", "unknown": "unrated"}.get(legality, "A" if status == "owned" else "B")
        result.append(
            House(
                index=h,
                house_id=f"HS{h:06d}",
                address_code=f"{code}{h % len(ROADS):02d}{number:04d}{building:02d}{room:04d}",
                address=f"上海市{district}{road}{number}弄{building}号{room}室",
                district=district,
                property_status=status,
                legality=legality,
                stability_rating=rating,
                area_m2=float(25 + (h * 7) % 90),
                occupants=tuple(range(person, person + size)),
            )
        )
        person, h = person + size, h + 1
    return tuple(result)


def house_of(index: int) -> House | None:
    """The house a person (by index) is registered in, if any."""
    return next((h for h in houses() if index in h.occupants), None)


def registered_on(index: int) -> str:
    """The date a person was registered at their house."""
    return (date(2019, 1, 1) + timedelta(days=(index * 53) % 1800)).isoformat()


@lru_cache(maxsize=512)
def photo_profile(person: Person) -> PhotoProfile | None:
    """Index % 12 == 11: no photo on record; == 5: a photo that fails review; otherwise one that passes."""
    i = person.index
    if i % 12 == 11:
        return None
    rng = random.Random(f"photo:{person.id_number}")
    content = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + rng.randbytes(1536) + b"\xff\xd9"
    failed = i % 12 == 5
    taken = datetime(2018 + i % 7, 1 + i % 12, 1 + i % 28, 9 + i % 8, (i * 7) % 60)
    return PhotoProfile(
        content=content,
        taken_at=taken.isoformat(),
        passed=not failed,
        score=35 + rng.randrange(25) if failed else 80 + rng.randrange(20),
        reasons=PHOTO_FAILURES[(i // 12) % len(PHOTO_FAILURES)] if failed else (),
    )


def licences(person: Person) -> tuple[LicenceRecord, ...]:
    """Index % 10 == 3: none; == 6: an expired ID card; % 3 == 0 adds marriage, % 4 == 0 education."""
    i = person.index
    if i % 10 == 3:
        return ()
    city, district = REGION_NAMES[person.id_number[:6]]
    police = f"{city}公安局{district}分局"
    id_issued = date(2003, 5, 1) if i % 10 == 6 else date(2016 + i % 8, 1 + i % 12, 1 + i % 28)
    home = f"{city}{district}区人民路{10 + i % 90}号"
    records = [
        LicenceRecord(
            f"DZZZ01{i:06d}",
            "id_card",
            police,
            id_issued.isoformat(),
            id_issued.replace(year=id_issued.year + 20).isoformat(),
            (("address", home), ("gender", "男" if person.gender == "M" else "女"), ("birth_date", person.birth_date)),
        ),
        LicenceRecord(
            f"DZZZ02{i:06d}",
            "household_register",
            police,
            "2010-03-15",
            None,
            (("household_address", home), ("relation", "户主"), ("ethnicity", "汉族")),
        ),
    ]
    if i % 3 == 0:
        records.append(
            LicenceRecord(
                f"DZZZ03{i:06d}",
                "marriage",
                f"{city}{district}区民政局",
                date(2015 + i % 9, 5, 20).isoformat(),
                None,
                (("marital_status", "已婚"),),
            )
        )
    if i % 4 == 0:
        records.append(
            LicenceRecord(
                f"DZZZ04{i:06d}",
                "education",
                SCHOOLS[i % len(SCHOOLS)],
                date(2010 + i % 12, 6, 30).isoformat(),
                None,
                (("level", EDUCATION_LEVELS[i % len(EDUCATION_LEVELS)]), ("school", SCHOOLS[i % len(SCHOOLS)])),
            )
        )
    return tuple(records)


def licence_file(licence: LicenceRecord) -> bytes:
    """The licence's file (a stand-in PDF): the same bytes on every call."""
    rng = random.Random(f"licence:{licence.licence_no}")
    return b"%PDF-1.4\n% simulated e-licence " + licence.licence_no.encode() + b"\n" + rng.randbytes(512)


def death_record(person: Person) -> tuple[str, str] | None:
    """(date of death, date the population office recorded it) for deceased persons, else None."""
    if not person.deceased:
        return None
    died = DEATH_EPOCH + timedelta(days=(person.index * 37) % 600)
    return died.isoformat(), (died + timedelta(days=1 + person.index % 9)).isoformat()
