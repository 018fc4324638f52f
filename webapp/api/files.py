"""API: upload a file (a retaken photo) once; workflow forms then reference it by id (DESIGN-NOTES §3)."""

from __future__ import annotations

from typing import Any

from flask import request

from processes import files as service
from webapp.api import actor, api_v1, platform
from webapp.api.openapi_parts import json_content, responses


@api_v1.post("/files")
def upload() -> Any:
    """Store the raw body (Content-Type image/jpeg or image/png); 201 with {id, sm3, size, mime}, 200 if known."""
    mime = (request.mimetype or "").lower()
    content = request.get_data(cache=False)  # over API_MAX_BODY_BYTES: 413 from the request itself
    ref, created = service.upload_file(content, mime, actor(), platform().settings.API_MAX_BODY_BYTES)
    return ref, 201 if created else 200


def openapi_paths() -> dict[str, Any]:
    """The OpenAPI description of /files."""
    file_ref = {
        "type": "object",
        "required": ["id", "sm3", "size", "mime"],
        "properties": {
            "id": {"type": "string", "description": "文件编号：在表单的 file 字段中引用"},
            "sm3": {"type": "string", "description": "内容的SM3摘要（十六进制）"},
            "size": {"type": "integer", "description": "字节数"},
            "mime": {"type": "string", "enum": list(service.FILE_MIMES)},
        },
    }
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "/files": {
            "post": {
                "summary": "上传文件（如重拍照片）：请求体为图片原始字节；同一内容重复上传返回同一编号（200）。"
                "流程数据只保存 {id, sm3, size, mime}；渠道只能在表单中引用本渠道上传的文件",
                "tags": ["文件"],
                "requestBody": {"required": True, "content": {mime: binary for mime in service.FILE_MIMES}},
                "responses": responses(
                    {
                        "201": json_content(file_ref, "已保存"),
                        "200": json_content(file_ref, "本接入方已上传过相同内容"),
                    },
                    "400",
                    "401",
                    "409",
                    "413",
                    "422",
                ),
            }
        }
    }
