"""The MCA 3.0 OpenAPI document, generated from the interface catalogue and the one field table."""

from __future__ import annotations

from typing import Any

from processes.mca.catalog import GROUPS, all_interfaces
from processes.mca.fields import FIELDS

ENVELOPE = """全部接口采用统一报文信封（国密）：

**请求**：`POST /api/mca/v3/{接口编码}`，报文头：
- `X-Mca-App-Id` 应用编号（已在平台登记SM2公钥）
- `X-Mca-Interface` 接口编码（与路径一致）
- `X-Mca-Timestamp` 毫秒级Unix时间戳（UTC），与平台时钟相差不得超过 MCA_TIMESTAMP_WINDOW_SECONDS（默认300秒）
- `X-Mca-Nonce` 16至64位随机串（字母、数字、下划线、连字符），同一应用不得重复使用
- `X-Mca-Key-Id` 平台SM2加密公钥编号（`GET /api/mca/v3/server-key` 获取）
- `X-Mca-Signature` SM2签名（SM3杂凑，用户标识1234567812345678，DER编码）的Base64

报文体：`{"encryptedKey": Base64(SM2加密的16字节SM4会话密钥，C1C3C2，ASN.1), "cipherText": Base64(SM4-GCM：\
12字节随机数‖密文‖16字节标签)}`，明文为UTF-8编码的JSON业务报文。

**待签名串**（UTF-8，以换行符 \\n 连接，末尾无换行）：
`appId\\ninterfaceCode\\ntimestamp\\nnonce\\nkeyId\\nSM3(原始HTTP报文体字节)的小写十六进制`

**密钥方案**：每次请求由调用方随机生成SM4会话密钥并用平台SM2公钥加密（数字信封）。选择理由：无需为每个应用\
分发、保管和轮换对称密钥；平台只持有SM2私钥（密钥管理服务中），会话密钥一次一密；应答用同一会话密钥加密，调用方无需再做SM2解密。

**应答**：报文头同上（`X-Mca-App-Id`、`X-Mca-Interface`、`X-Mca-Nonce` 原样回带请求的值，`X-Mca-Key-Id` 为平台\
签名密钥编号，`X-Mca-Timestamp` 为平台时间），另有 `X-Mca-Request-Sm3`（所应答请求报文体的SM3小写十六进制；仅\
MCA_BODY_TOO_LARGE 时为 `-`）。应答待签名串将应答绑定到请求：\
`appId\\ninterfaceCode\\ntimestamp\\nnonce\\nkeyId\\nSM3(原始应答报文体字节)\\nSM3(原始请求报文体字节)`（均为小写十六进制）；\
调用方须核对应用编号、接口编码、随机串与请求报文体SM3，并使用预先配置（固定）的平台公钥验签。应答报文体：\
`{"code", "message", "requestId", "details", "cipherText"}`，`code` 为 `OK` 表示成功，业务结果在 `cipherText`\
（用请求的会话密钥SM4-GCM加密的JSON）；失败时 `cipherText` 为 null，`code` 为错误码，`details` 说明原因。

**命名与长度约定**：字段一律小驼峰（lowerCamelCase），区分大小写；未定义的字段被拒绝（MCA_FIELD_UNKNOWN）；\
字符串两端空白被去除；各字段类型与最大长度见各接口定义；日期为 YYYY-MM-DD。

**防重放**：时间戳窗口 + 随机串（启用Redis时由Redis SET NX EX 共享，否则由数据库随机串表的唯一约束跨进程共享）。\
**审计**：每次调用记录调用方、接口、时间、结果码、耗时、请求与应答报文的SM3摘要、验签结果、业务编号，保存不少于180天；\
记录以HMAC-SM3链式校验；审计记录无法写入时调用不生效，返回 MCA_AUDIT_UNAVAILABLE。
"""

ERRORS: dict[str, tuple[int, str]] = {
    "MCA_HEADER_MISSING": (400, "缺少报文头字段"),
    "MCA_HEADER_INVALID": (400, "报文头字段格式不正确"),
    "MCA_INTERFACE_MISMATCH": (400, "报文头接口编码与路径不一致"),
    "MCA_BODY_TOO_LARGE": (413, "请求报文超过大小限制"),
    "MCA_APP_UNKNOWN": (401, "应用未注册"),
    "MCA_APP_DISABLED": (403, "应用已停用"),
    "MCA_TIMESTAMP_EXPIRED": (401, "时间戳超出允许范围"),
    "MCA_SIGNATURE_INVALID": (401, "签名验证失败"),
    "MCA_NONCE_REPLAYED": (409, "随机串重复使用（重放）"),
    "MCA_INTERFACE_UNKNOWN": (404, "接口编码不存在"),
    "MCA_ENVELOPE_MALFORMED": (400, "报文体不是 {encryptedKey, cipherText}"),
    "MCA_KEY_UNKNOWN": (400, "平台密钥编号不存在"),
    "MCA_DECRYPT_FAILED": (400, "会话密钥或密文无法解密（被篡改）"),
    "MCA_JSON_MALFORMED": (400, "解密后不是JSON对象"),
    "MCA_FIELD_UNKNOWN": (422, "含未定义字段"),
    "MCA_FIELD_REQUIRED": (422, "缺少必填字段"),
    "MCA_FIELD_TOO_LONG": (422, "字段超长"),
    "MCA_FIELD_INVALID": (422, "字段格式或取值错误"),
    "MCA_APP_CHANNEL_MISSING": (403, "应用对应的接入渠道不存在"),
    "MCA_NONCE_STORE_UNAVAILABLE": (503, "防重放服务不可用"),
    "MCA_UPSTREAM_UNAVAILABLE": (502, "相关业务系统暂不可用"),
    "MCA_AUDIT_UNAVAILABLE": (503, "审计记录无法写入，调用未生效"),
}


def _headers() -> list[dict[str, Any]]:
    names = {
        "X-Mca-App-Id": ("应用编号", 32),
        "X-Mca-Interface": ("接口编码", 64),
        "X-Mca-Timestamp": ("毫秒级时间戳", 16),
        "X-Mca-Nonce": ("随机串（16-64位）", 64),
        "X-Mca-Key-Id": ("平台SM2公钥编号", 64),
        "X-Mca-Signature": ("SM2签名（Base64）", 200),
    }
    return [
        {"name": n, "in": "header", "required": True, "description": d, "schema": {"type": "string", "maxLength": m}}
        for n, (d, m) in names.items()
    ]


def _envelope_schemas() -> dict[str, Any]:
    return {
        "McaRequestEnvelope": {
            "type": "object",
            "required": ["encryptedKey", "cipherText"],
            "properties": {
                "encryptedKey": {"type": "string", "format": "byte", "description": "SM2加密的SM4会话密钥（Base64）"},
                "cipherText": {"type": "string", "format": "byte", "description": "SM4-GCM加密的业务报文（Base64）"},
            },
        },
        "McaResponseEnvelope": {
            "type": "object",
            "required": ["code", "message", "requestId", "details", "cipherText"],
            "properties": {
                "code": {"type": "string", "description": "结果码：OK 成功，其余为错误码"},
                "message": {"type": "string", "description": "结果说明（中文）"},
                "requestId": {"type": "string", "description": "平台请求编号（审计可查）"},
                "details": {"type": "object", "description": "错误详情，如各字段的问题"},
                "cipherText": {
                    "type": "string",
                    "format": "byte",
                    "nullable": True,
                    "description": "SM4-GCM加密的业务结果（Base64），失败时为 null",
                },
            },
        },
    }


def document() -> dict[str, Any]:
    """The whole document: envelope, error codes, and per interface its plaintext request schema."""
    paths: dict[str, Any] = {}
    schemas = _envelope_schemas()
    for spec in all_interfaces():
        name = "Req_" + spec.code.replace(".", "_")
        schemas[name] = {
            "type": "object",
            "additionalProperties": False,
            "required": list(spec.required),
            "properties": {f: FIELDS[f].schema() for f in (*spec.required, *spec.optional)},
        }
        paths[f"/api/mca/v3/{spec.code}"] = {
            "post": {
                "operationId": spec.code,
                "summary": spec.title,
                "tags": [GROUPS[spec.group]],
                "description": f"业务报文（加密前明文）见 `#/components/schemas/{name}`；结果在应答 cipherText 中"
                + ("；受理类接口以 businessKey 幂等" if spec.writes else ""),
                "parameters": _headers(),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/McaRequestEnvelope"}}},
                },
                "x-plaintext-request": {"$ref": f"#/components/schemas/{name}"},
                "responses": {
                    "200": {
                        "description": "成功（已签名、加密）",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/McaResponseEnvelope"}}
                        },
                    },
                    "4XX": {"description": "失败（已签名）：见 x-error-codes"},
                },
            }
        }
    paths["/api/mca/v3/server-key"] = {
        "get": {
            "summary": "获取平台当前SM2公钥及其编号（用于加密会话密钥、验证应答签名）",
            "tags": ["通用"],
            "responses": {"200": {"description": "{keyId, publicKeyPem, algorithm, userId}"}},
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "上海市居住证系统 民政3.0一口受理接口", "version": "3.0", "description": ENVELOPE},
        "servers": [{"url": "/"}],
        "tags": [{"name": GROUPS[g], "description": GROUPS[g]} for g in sorted(GROUPS)] + [{"name": "通用"}],
        "paths": paths,
        "components": {"schemas": schemas},
        "x-error-codes": {code: {"status": s, "message": m} for code, (s, m) in ERRORS.items()},
    }
