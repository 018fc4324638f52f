"""The OpenAPI 3 description of API v1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from webapp.api import api_v1, files

ERROR_CODES = {
    "400": "请求格式有误（MALFORMED_JSON、NOT_JSON、BODY_NOT_OBJECT、BAD_PAGING、BAD_WAIT、DATA_NOT_OBJECT、"
    "FILE_EMPTY…）",
    "401": "缺少或无效的接入凭据（API_KEY_MISSING、API_KEY_INVALID）",
    "403": "无权执行（OPS_ONLY、FORBIDDEN）",
    "404": "不存在或不可见（PROCESS_NOT_FOUND、INSTANCE_NOT_FOUND、TASK_NOT_FOUND、NO_WAITING_INSTANCE）",
    "409": "状态冲突（TASK_NOT_READY、CONCURRENT_UPDATE、IDEMPOTENCY_KEY_REUSED、INSTANCE_SUSPENDED…）",
    "413": "请求体过大（PAYLOAD_TOO_LARGE、FILE_TOO_LARGE）",
    "422": "业务校验失败（FORM_INVALID：details.fields 列出每个字段的中文提示；FIELD_REQUIRED、FIELD_TOO_LONG；"
    "上传文件：FILE_TYPE_UNSUPPORTED、FILE_NOT_IMAGE）",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _responses(ok: dict[str, Any], *codes: str) -> dict[str, Any]:
    out = dict(ok)
    for code in codes:
        out[code] = {"description": ERROR_CODES[code], "content": {"application/json": {"schema": _ref("Error")}}}
    return out


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str, where: str, schema: dict[str, Any], description: str, required: bool = False):
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
    }


def document() -> dict[str, Any]:
    """Build the OpenAPI document."""
    instance_id = _param("instance_id", "path", {"type": "string", "maxLength": 64}, "流程实例编号")
    task_id = _param("task_id", "path", {"type": "integer"}, "任务编号")
    reason_body = {
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 120}}}
            }
        }
    }
    instance_ok = _json(_ref("Instance"), "流程实例")
    ops_paths = {
        f"/instances/{{instance_id}}/{action}": {
            "post": {
                "summary": summary,
                "tags": ["运维"],
                "parameters": [instance_id],
                "requestBody": reason_body,
                "responses": _responses({"200": instance_ok}, "401", "403", "404", "409", "422"),
            }
        }
        for action, summary in (("suspend", "挂起流程实例"), ("resume", "恢复流程实例"), ("cancel", "撤销流程实例"))
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "PermitFlow 渠道接口 v1",
            "version": "1.0.0",
            "description": "居住证业务流程平台的渠道接入接口。所有请求以 X-Api-Key 认证；错误统一返回 "
            "{code, message, details}。时间为UTC的ISO 8601格式。",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"ApiKey": []}],
        "paths": {
            "/processes/{process_key}/instances": {
                "post": {
                    "summary": "发起业务流程（幂等）",
                    "tags": ["流程实例"],
                    "parameters": [
                        _param("process_key", "path", {"type": "string"}, "流程标识，如 residence_registration"),
                        _param(
                            "Idempotency-Key",
                            "header",
                            {"type": "string", "maxLength": 120},
                            "幂等键：同一渠道重复提交返回同一实例（200）",
                        ),
                        _param(
                            "wait",
                            "query",
                            {"type": "number", "minimum": 0},
                            "最多等待的秒数，直到自动核验完成（如人社实时核验）再返回",
                        ),
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("StartRequest")}},
                    },
                    "responses": _responses(
                        {
                            "201": _json(_ref("Instance"), "已发起"),
                            "200": _json(_ref("Instance"), "幂等重放，返回已有实例"),
                        },
                        "400",
                        "401",
                        "404",
                        "409",
                        "413",
                        "422",
                    ),
                }
            },
            "/instances/{instance_id}": {
                "get": {
                    "summary": "查询流程实例",
                    "tags": ["流程实例"],
                    "parameters": [instance_id],
                    "responses": _responses({"200": instance_ok}, "401", "404"),
                }
            },
            "/instances/{instance_id}/history": {
                "get": {
                    "summary": "流程实例历史（运维）",
                    "tags": ["运维"],
                    "parameters": [instance_id],
                    "responses": _responses({"200": _json({"type": "object"}, "事件列表")}, "401", "403", "404"),
                }
            },
            "/tasks": {
                "get": {
                    "summary": "本渠道待办任务",
                    "tags": ["任务"],
                    "parameters": [
                        _param(
                            "status", "query", {"type": "string", "enum": ["ready", "completed", "cancelled"]}, "状态"
                        ),
                        _param("process_key", "query", {"type": "string"}, "流程标识"),
                        _param("business_key", "query", {"type": "string"}, "业务编号"),
                        _param("page", "query", {"type": "integer", "minimum": 1}, "页码"),
                        _param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 200}, "每页条数"),
                    ],
                    "responses": _responses({"200": _json(_ref("TaskPage"), "任务分页")}, "400", "401"),
                }
            },
            "/tasks/{task_id}": {
                "get": {
                    "summary": "任务详情（含表单定义）",
                    "tags": ["任务"],
                    "parameters": [task_id],
                    "responses": _responses({"200": _json(_ref("Task"), "任务")}, "401", "404"),
                }
            },
            "/tasks/{task_id}/complete": {
                "post": {
                    "summary": "提交任务表单",
                    "tags": ["任务"],
                    "parameters": [task_id],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["data"],
                                    "properties": {"data": {"type": "object"}},
                                }
                            }
                        },
                    },
                    "responses": _responses(
                        {
                            "200": _json(
                                {"type": "object", "properties": {"task": _ref("Task"), "instance": _ref("Instance")}},
                                "已提交",
                            )
                        },
                        "400",
                        "401",
                        "404",
                        "409",
                        "413",
                        "422",
                    ),
                }
            },
            "/messages": {
                "post": {
                    "summary": "发送消息（按消息名+业务编号关联）",
                    "tags": ["流程实例"],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Message")}}},
                    "responses": _responses({"200": instance_ok}, "400", "401", "404", "409", "422"),
                }
            },
            "/incidents/{incident_id}/retry": {
                "post": {
                    "summary": "重试故障的服务任务（运维）",
                    "tags": ["运维"],
                    "parameters": [_param("incident_id", "path", {"type": "integer"}, "故障编号")],
                    "responses": _responses(
                        {"200": _json({"type": "object"}, "已重新排队")}, "401", "403", "404", "409"
                    ),
                }
            },
            **files.openapi_paths(_responses, _json),
            **ops_paths,
            **_sms_paths(),
        },
        "components": {
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "message", "details"],
                    "properties": {
                        "code": {"type": "string", "description": "机器可读的错误码"},
                        "message": {"type": "string", "description": "中文说明"},
                        "details": {"type": "object"},
                        "request_id": {"type": "string"},
                    },
                },
                "StartRequest": {
                    "type": "object",
                    "required": ["business_key"],
                    "properties": {
                        "business_key": {"type": "string", "maxLength": 120, "description": "业务编号（渠道受理号）"},
                        "idempotency_key": {"type": "string", "maxLength": 120},
                        "data": {"type": "object", "description": "启动表单数据，按流程的启动表单校验"},
                    },
                },
                "Message": {
                    "type": "object",
                    "required": ["message_name", "business_key"],
                    "properties": {
                        "message_name": {"type": "string"},
                        "business_key": {"type": "string"},
                        "payload": {"type": "object"},
                    },
                },
                "Task": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "role": {"type": "string"},
                        "form_key": {"type": "string"},
                        "form": {"type": "object"},
                        "status": {"type": "string"},
                        "due_at": {"type": "string", "format": "date-time"},
                        "overdue": {"type": "boolean"},
                    },
                },
                "TaskPage": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": _ref("Task")},
                        "page": {"type": "integer"},
                        "per_page": {"type": "integer"},
                        "total": {"type": "integer"},
                    },
                },
                "Instance": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "process_key": {"type": "string"},
                        "version": {"type": "integer"},
                        "business_key": {"type": "string"},
                        "status": {"type": "string", "enum": ["running", "waiting", "completed", "cancelled", "error"]},
                        "suspended": {"type": "boolean"},
                        "current_tasks": {"type": "array", "items": _ref("Task")},
                        "waiting_for": {"type": "array", "items": {"type": "object"}},
                        "result": {"type": "object", "description": "流程公开的结果变量（如 hrss_check 社保核验反馈）"},
                        "incidents": {"type": "array", "items": {"type": "object"}},
                    },
                },
                **SMS_SCHEMAS,
            },
        },
    }


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


def _sms_paths() -> dict[str, Any]:
    code = _param("code", "path", {"type": "string", "maxLength": 40}, "模板编码")
    template_ok = _json(_ref("SmsTemplate"), "短信模板")
    message_ok = _json(_ref("SmsMessage"), "短信记录")
    ops = ["短信（运维）"]
    return {
        "/sms/templates": {
            "get": {
                "summary": "短信模板列表",
                "tags": ops,
                "responses": _responses(
                    {"200": _json({"type": "object", "properties": {"items": {"type": "array"}}}, "模板")},
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
                "responses": _responses({"200": template_ok}, "401", "403", "404"),
            },
            "put": {
                "summary": "新建（201）或修改（200）短信模板；422 的 details.problems 逐条列出问题",
                "tags": ops,
                "parameters": [code],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("SmsTemplateSave")}}},
                "responses": _responses({"200": template_ok, "201": template_ok}, "400", "401", "403", "409", "422"),
            },
        },
        "/sms/messages": {
            "get": {
                "summary": "短信记录（手机号脱敏），按状态、模板、业务编号、手机号筛选",
                "tags": ops,
                "parameters": [
                    _param("status", "query", {"type": "string"}, "queued、sent、delivered、failed 或 blocked"),
                    _param("template_code", "query", {"type": "string"}, "模板编码"),
                    _param("business_key", "query", {"type": "string"}, "业务编号"),
                    _param("mobile", "query", {"type": "string"}, "手机号（按摘要匹配）"),
                    _param("page", "query", {"type": "integer", "minimum": 1}, "页码"),
                    _param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 200}, "每页条数"),
                ],
                "responses": _responses({"200": _json({"type": "object"}, "分页")}, "400", "401", "403"),
            },
            "post": {
                "summary": "发送（测试）短信；Idempotency-Key 重放返回第一条（200）",
                "tags": ops,
                "parameters": [_param("Idempotency-Key", "header", {"type": "string", "maxLength": 200}, "去重键")],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("SmsSend")}}},
                "responses": _responses(
                    {"202": _json(_ref("SmsMessage"), "已排队（或已拦截）"), "200": message_ok},
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
                "parameters": [_param("message_id", "path", {"type": "integer"}, "短信编号")],
                "responses": _responses({"200": message_ok}, "401", "403", "404"),
            }
        },
        "/callbacks/sms": {
            "post": {
                "summary": "短信平台送达回执（回调）：以 URL 中按短信签发的 sig（HMAC-SM3）认证，不用 X-Api-Key",
                "tags": ["回调"],
                "security": [],
                "parameters": [_param("sig", "query", {"type": "string"}, "发送时随回调地址下发的签名", True)],
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
                "responses": _responses({"200": _json({"type": "object"}, "已处理")}, "400", "401", "404", "422"),
            }
        },
    }


@api_v1.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI document (no authentication needed)."""
    return document()
