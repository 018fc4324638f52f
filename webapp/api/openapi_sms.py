"""The SMS part of the API v1 OpenAPI document: template and message schemas, operations paths."""

from __future__ import annotations

from typing import Any

from webapp.api.openapi_parts import json_content, param, ref, responses

SMS_SCHEMAS: dict[str, Any] = {
    "SmsTemplate": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]{1,39}$", "description": "短信平台登记的模板编码"},
            "name": {"type": "string", "maxLength": 60},
            "body": {"type": "string", "maxLength": 300, "description": "正文，{参数名} 为占位符"},
            "placeholders": {"type": "array", "items": {"type": "string"}, "description": "允许的参数名"},
            "active": {"type": "boolean"},
            "version": {"type": "integer"},
            "updated_by": {"type": "string"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "SmsTemplateSave": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 60},
            "body": {"type": "string", "maxLength": 300},
            "placeholders": {"type": "array", "items": {"type": "string"}},
            "active": {"type": "boolean"},
            "expected_version": {"type": "integer", "description": "乐观锁：与当前版本不符时返回409"},
        },
    },
    "SmsSend": {
        "type": "object",
        "required": ["template_code", "mobile", "params"],
        "properties": {
            "template_code": {"type": "string"},
            "mobile": {"type": "string", "pattern": "^1[3-9][0-9]{9}$"},
            "params": {"type": "object", "additionalProperties": {"type": "string"}},
            "id_number": {"type": "string", "description": "收信人身份证号：在短信禁发名单中则不发送（blocked）"},
            "business_key": {"type": "string", "maxLength": 120},
        },
    },
    "SmsMessage": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "template_code": {"type": "string"},
            "template_version": {"type": "integer"},
            "mobile": {"type": "string", "description": "脱敏手机号，如 139****1234"},
            "business_key": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "sent", "delivered", "failed", "blocked"]},
            "status_reason": {"type": "string"},
            "attempts": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "sent_at": {"type": "string", "format": "date-time"},
            "final_at": {"type": "string", "format": "date-time"},
            "body": {"type": "string", "description": "短信内容（仅详情）"},
            "history": {"type": "array", "items": {"type": "object"}, "description": "状态历史（仅详情）"},
        },
    },
}


def sms_paths() -> dict[str, Any]:
    """The SMS operations paths (B2/B3)."""
    code = param("code", "path", {"type": "string", "maxLength": 40}, "模板编码")
    template_ok = json_content(ref("SmsTemplate"), "短信模板")
    message_ok = json_content(ref("SmsMessage"), "短信记录")
    ops = ["短信（运维）"]
    return {
        "/sms/templates": {
            "get": {
                "summary": "短信模板列表",
                "tags": ops,
                "responses": responses(
                    {"200": json_content({"type": "object", "properties": {"items": {"type": "array"}}}, "模板")},
                    "401",
                    "403",
                ),
            }
        },
        "/sms/templates/{code}": {
            "get": {
                "summary": "查看短信模板",
                "tags": ops,
                "parameters": [code],
                "responses": responses({"200": template_ok}, "401", "403", "404"),
            },
            "put": {
                "summary": "新建（201）或修改（200）短信模板；422 的 details.problems 逐条列出问题",
                "tags": ops,
                "parameters": [code],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref("SmsTemplateSave")}}},
                "responses": responses({"200": template_ok, "201": template_ok}, "400", "401", "403", "409", "422"),
            },
        },
        "/sms/messages": {
            "get": {
                "summary": "短信记录（手机号脱敏），按状态、模板、业务编号、手机号筛选",
                "tags": ops,
                "parameters": [
                    param("status", "query", {"type": "string"}, "queued、sent、delivered、failed 或 blocked"),
                    param("template_code", "query", {"type": "string"}, "模板编码"),
                    param("business_key", "query", {"type": "string"}, "业务编号"),
                    param("mobile", "query", {"type": "string"}, "手机号（按摘要匹配）"),
                    param("page", "query", {"type": "integer", "minimum": 1}, "页码"),
                    param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 200}, "每页条数"),
                ],
                "responses": responses({"200": json_content({"type": "object"}, "分页")}, "400", "401", "403"),
            },
            "post": {
                "summary": "发送（测试）短信；Idempotency-Key 重放返回第一条（200）",
                "tags": ops,
                "parameters": [param("Idempotency-Key", "header", {"type": "string", "maxLength": 200}, "去重键")],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref("SmsSend")}}},
                "responses": responses(
                    {"202": json_content(ref("SmsMessage"), "已排队（或已拦截）"), "200": message_ok},
                    "400",
                    "401",
                    "403",
                    "404",
                    "409",
                    "422",
                ),
            },
        },
        "/sms/messages/{message_id}": {
            "get": {
                "summary": "短信详情（含内容与状态历史）",
                "tags": ops,
                "parameters": [param("message_id", "path", {"type": "integer"}, "短信编号")],
                "responses": responses({"200": message_ok}, "401", "403", "404"),
            }
        },
        "/callbacks/sms": {
            "post": {
                "summary": "短信平台送达回执（回调）：以 URL 中按短信签发的 sig（HMAC-SM3）认证，不用 X-Api-Key",
                "tags": ["回调"],
                "security": [],
                "parameters": [param("sig", "query", {"type": "string"}, "发送时随回调地址下发的签名", True)],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["msg_id", "client_msg_id", "status"],
                                "properties": {
                                    "msg_id": {"type": "string"},
                                    "client_msg_id": {"type": "string"},
                                    "status": {"type": "string", "enum": ["delivered", "failed", "pending"]},
                                    "error_code": {"type": "string"},
                                    "reported_at": {"type": "string", "format": "date-time"},
                                },
                            }
                        }
                    },
                },
                "responses": responses({"200": json_content({"type": "object"}, "已处理")}, "400", "401", "404", "422"),
            }
        },
    }
