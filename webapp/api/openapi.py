"""The OpenAPI 3 description of API v1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from webapp.api import api_v1, files
from webapp.api.openapi_parts import json_content, param, ref, responses
from webapp.api.openapi_sms import SMS_SCHEMAS, sms_paths


def document() -> dict[str, Any]:
    """Build the OpenAPI document."""
    instance_id = param("instance_id", "path", {"type": "string", "maxLength": 64}, "流程实例编号")
    task_id = param("task_id", "path", {"type": "integer"}, "任务编号")
    reason_body = {
        "content": {
            "application/json": {
                "schema": {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 120}}}
            }
        }
    }
    instance_ok = json_content(ref("Instance"), "流程实例")
    ops_paths = {
        f"/instances/{{instance_id}}/{action}": {
            "post": {
                "summary": summary,
                "tags": ["运维"],
                "parameters": [instance_id],
                "requestBody": reason_body,
                "responses": responses({"200": instance_ok}, "401", "403", "404", "409", "422"),
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
                        param("process_key", "path", {"type": "string"}, "流程标识，如 residence_registration"),
                        param(
                            "Idempotency-Key",
                            "header",
                            {"type": "string", "maxLength": 120},
                            "幂等键：同一渠道重复提交返回同一实例（200）",
                        ),
                        param(
                            "wait",
                            "query",
                            {"type": "number", "minimum": 0},
                            "最多等待的秒数，直到自动核验完成（如人社实时核验）再返回",
                        ),
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ref("StartRequest")}},
                    },
                    "responses": responses(
                        {
                            "201": json_content(ref("Instance"), "已发起"),
                            "200": json_content(ref("Instance"), "幂等重放，返回已有实例"),
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
                    "responses": responses({"200": instance_ok}, "401", "404"),
                }
            },
            "/instances/{instance_id}/history": {
                "get": {
                    "summary": "流程实例历史（运维）",
                    "tags": ["运维"],
                    "parameters": [instance_id],
                    "responses": responses({"200": json_content({"type": "object"}, "事件列表")}, "401", "403", "404"),
                }
            },
            "/tasks": {
                "get": {
                    "summary": "本渠道待办任务",
                    "tags": ["任务"],
                    "parameters": [
                        param(
                            "status", "query", {"type": "string", "enum": ["ready", "completed", "cancelled"]}, "状态"
                        ),
                        param("process_key", "query", {"type": "string"}, "流程标识"),
                        param("business_key", "query", {"type": "string"}, "业务编号"),
                        param("page", "query", {"type": "integer", "minimum": 1}, "页码"),
                        param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 200}, "每页条数"),
                    ],
                    "responses": responses({"200": json_content(ref("TaskPage"), "任务分页")}, "400", "401"),
                }
            },
            "/tasks/{task_id}": {
                "get": {
                    "summary": "任务详情（含表单定义）",
                    "tags": ["任务"],
                    "parameters": [task_id],
                    "responses": responses({"200": json_content(ref("Task"), "任务")}, "401", "404"),
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
                    "responses": responses(
                        {
                            "200": json_content(
                                {"type": "object", "properties": {"task": ref("Task"), "instance": ref("Instance")}},
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
                    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("Message")}}},
                    "responses": responses({"200": instance_ok}, "400", "401", "404", "409", "422"),
                }
            },
            "/incidents/{incident_id}/retry": {
                "post": {
                    "summary": "重试故障的服务任务（运维）",
                    "tags": ["运维"],
                    "parameters": [param("incident_id", "path", {"type": "integer"}, "故障编号")],
                    "responses": responses(
                        {"200": json_content({"type": "object"}, "已重新排队")}, "401", "403", "404", "409"
                    ),
                }
            },
            **files.openapi_paths(),
            **ops_paths,
            **sms_paths(),
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
                        "items": {"type": "array", "items": ref("Task")},
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
                        "current_tasks": {"type": "array", "items": ref("Task")},
                        "waiting_for": {"type": "array", "items": {"type": "object"}},
                        "result": {"type": "object", "description": "流程公开的结果变量（如 hrss_check 社保核验反馈）"},
                        "incidents": {"type": "array", "items": {"type": "object"}},
                    },
                },
                **SMS_SCHEMAS,
            },
        },
    }


@api_v1.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI document (no authentication needed)."""
    return document()
