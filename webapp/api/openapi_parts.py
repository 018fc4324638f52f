"""Building blocks of the API v1 OpenAPI document: error responses, references, parameters."""

from __future__ import annotations

from typing import Any

ERROR_CODES = {
    "400": "请求格式有误（MALFORMED_JSON、NOT_JSON、BODY_NOT_OBJECT、BAD_CHARACTERS、JSON_TOO_DEEP、BAD_PAGING、"
    "BAD_WAIT、DATA_NOT_OBJECT、FILE_EMPTY…）",
    "401": "缺少或无效的接入凭据（API_KEY_MISSING、API_KEY_INVALID）",
    "403": "无权执行（OPS_ONLY、FORBIDDEN）",
    "404": "不存在或不可见（PROCESS_NOT_FOUND、INSTANCE_NOT_FOUND、TASK_NOT_FOUND、NO_WAITING_INSTANCE）",
    "409": "状态冲突（TASK_NOT_READY、CONCURRENT_UPDATE、IDEMPOTENCY_KEY_REUSED、INSTANCE_SUSPENDED…）",
    "413": "请求体过大（PAYLOAD_TOO_LARGE、FILE_TOO_LARGE）",
    "422": "业务校验失败（FORM_INVALID：details.fields 列出每个字段的中文提示；FIELD_REQUIRED、FIELD_TOO_LONG；"
    "上传文件：FILE_TYPE_UNSUPPORTED、FILE_NOT_IMAGE）",
}


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def responses(ok: dict[str, Any], *codes: str) -> dict[str, Any]:
    """The success responses plus the JSON error response of each listed status code."""
    out = dict(ok)
    for code in codes:
        out[code] = {"description": ERROR_CODES[code], "content": {"application/json": {"schema": ref("Error")}}}
    return out


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A response or body with a JSON schema."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    """A path, query or header parameter (path parameters are always required)."""
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
    }
