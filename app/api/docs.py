"""What the OpenAPI document says beyond each view's own decorators, so it matches what is sent.

- Every error an operation can answer is listed with the error body's shape (`ErrorOut`): no
  catch-all `default` response, so a status nobody documented is a finding, not a match.
  401 (sign-in guard) and 422 (field errors, NUL bytes) can answer any operation, 404 any with a
  path parameter (an id out of range matches no route), 400 (CSRF for cookie callers, unreadable
  body) and 413 (body too large) any write; 403 and 409 are declared per operation (`refuses`).
- `X-Pagination` is a header, so flask-smorest sends its metadata as a JSON *string*; it is
  documented as one (the object schema it documented by default never matched the header).
"""
from __future__ import annotations

from http import HTTPStatus

from apispec import BasePlugin
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import fields

from app.validation import Schema


class ErrorOut(Schema):
    code = fields.Integer(required=True, metadata={"description": "HTTP 状态码"})
    status = fields.String(required=True, metadata={"description": "状态名称，如 Not Found"})
    message = fields.String(metadata={"description": "说明（中文）"})
    errors = fields.Dict(metadata={
        "description": "字段错误：位置（json、query、form、files、path）→ 字段 → 错误信息列表"})


# Descriptions of the error responses the API documents (the body is always ErrorOut).
ERROR_DESCRIPTIONS = {
    400: "请求有误：以会话 Cookie 调用写操作时 CSRF 校验失败，或请求体无法解析",
    401: "未登录或令牌无效",
    403: "无权执行此操作（角色、部门或暂停资格）",
    404: "对象不存在（路径中的编号超出范围时同样如此）",
    405: "不支持的请求方法（Allow 头列出支持的方法）",
    409: "状态冲突：已被他人处理、已提交或已不在可操作状态",
    413: "请求体过大",
    422: "提交的数据有误：字段错误，或请求中含有空字符（\\0）",
}

PAGINATION_HEADER = {
    "description": (
        "分页信息，为 JSON 字符串（须再解析一次）：total 总条数、total_pages 总页数，"
        "有数据时另有 first_page、last_page、page，以及 previous_page、next_page（如有）。"
        "page_size 为 1–100；页码超过末页时返回空列表（此时没有 page 字段）。"
    ),
    "schema": {"type": "string",
               "example": '{"total": 42, "total_pages": 5, "first_page": 1, "last_page": 5, '
                          '"page": 2, "previous_page": 1, "next_page": 3}'},
}


def refuses(*codes: int):
    """Declare the refusals an operation answers besides the common ones (403, 409)."""
    return Blueprint.doc(responses={str(code): HTTPStatus(code).name for code in codes})


class ApiBlueprint(Blueprint):
    def _document_pagination_metadata(self, spec, resp_doc):
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = PAGINATION_HEADER


class ErrorResponses(BasePlugin):
    """Adds the common error responses to every operation as references to the shared ones."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        for method, operation in (operations or {}).items():
            codes = [401, 422]
            if rule is not None and rule.arguments:
                codes.append(404)
            if method.lower() not in ("get", "head"):
                codes += [400, 413]
            responses = operation.setdefault("responses", {})
            for code in codes:
                if code not in responses and str(code) not in responses:
                    responses[str(code)] = HTTPStatus(code).name


class PlatformApi(Api):
    """flask-smorest would answer every HTTP error in JSON, web pages included; we register
    one dispatcher ourselves (app.api.register_api) that sends JSON only under /api/.

    The document lists each operation's error responses (app.api.docs) instead of a catch-all
    `default`, in Chinese, with the error body's shape."""

    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self):
        pass

    def _init_spec(self, *args, extra_plugins=None, **kwargs):
        self.ERROR_SCHEMA = ErrorOut
        super()._init_spec(*args, extra_plugins=[ErrorResponses(), *(extra_plugins or ())], **kwargs)

    def _register_responses(self):
        """One shared response per error status (referenced, hence emitted, only where used)."""
        for status in HTTPStatus:
            if status < 400:
                continue
            response = {"description": ERROR_DESCRIPTIONS.get(status, status.phrase),
                        "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)


# The app's one API object (bound in create_app).
api = PlatformApi()
