"""Field-level validation shared by the web pages, the REST API and the workflow forms.

Every schema in the product derives from `Schema` here, so a missing field reads
"此项为必填项" wherever it is reported. `FieldErrors` carries errors from service code
(uniqueness, permissions on a field …) in the same shape marshmallow uses.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, ValidationError, fields, validate
from marshmallow import Schema as _Schema

from app.errors import Invalid
from app.safe_input import INT32_MAX, INT32_MIN, NUL, NUL_MESSAGE

_ZH = {
    fields.Field: {"required": "此项为必填项", "null": "此项不能为空", "validator_failed": "取值无效"},
    fields.String: {"invalid": "请输入文本"},
    fields.Integer: {"invalid": "请输入整数"},
    fields.Number: {"invalid": "请输入数字", "too_large": "数值过大"},
    fields.Boolean: {"invalid": "请选择是或否"},
    fields.DateTime: {"invalid": "日期时间格式不正确", "invalid_awareness": "日期时间须带时区",
                      "format": "日期时间格式不正确"},
    fields.Date: {"invalid": "日期格式不正确（YYYY-MM-DD）", "format": "日期格式不正确"},
    fields.List: {"invalid": "应为列表"},
    fields.Nested: {"type": "格式不正确"},
    fields.Dict: {"invalid": "格式不正确"},
}
for _cls, _messages in _ZH.items():
    _cls.default_error_messages = {**_cls.default_error_messages, **_messages}


# Every integer we store is a 32-bit INTEGER column: a larger value is a field error here, not a
# database error later. apispec documents the range as minimum/maximum.
_INT32 = validate.Range(min=INT32_MIN, max=INT32_MAX, error="数值须在 {min} 到 {max} 之间")


def _no_nul(value) -> None:
    if isinstance(value, str) and NUL in value:
        raise ValidationError(NUL_MESSAGE)


def _within_int32(field: fields.Field) -> bool:
    return any(isinstance(v, validate.Range) and v.min is not None and v.max is not None
               and v.min >= INT32_MIN and v.max <= INT32_MAX for v in field.validators)


def _guard_field(field: fields.Field) -> None:
    """The shared rules every field of every schema gets: integers in range, text without NUL.
    They run first, so a field's own validators (some look rows up) only see values that fit."""
    if isinstance(field, fields.Integer) and not _within_int32(field):
        field.validators.insert(0, _INT32)
    elif isinstance(field, fields.String) and _no_nul not in field.validators:
        field.validators.insert(0, _no_nul)
    for inner in (getattr(field, "inner", None), getattr(field, "value_field", None)):
        if isinstance(inner, fields.Field):
            _guard_field(inner)


class Schema(_Schema):
    class Meta:
        unknown = EXCLUDE

    error_messages = {"unknown": "未知字段", "type": "数据格式不正确"}

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        _guard_field(field_obj)


def required_text(max_len: int, **kwargs) -> fields.String:
    """A non-blank string of at most `max_len` characters."""
    return fields.String(
        required=True,
        validate=[validate.Length(min=1, max=max_len, error=f"须为 1–{max_len} 个字符"),
                  validate.Regexp(r".*\S", error="不能只填空白")],
        **kwargs,
    )


def N_(text: str) -> str:
    """Marks a label for translation (pybabel extracts `N_`) and leaves it as it is: the domain
    keeps the Chinese text (it goes into notices and records); a page translates it when shown."""
    return text


def meta(label, *, hint=None, shown_when: tuple[str, str] | None = None,
         required_when_shown: bool = False, **extra) -> dict:
    """A field's metadata as the pages and the API read it: its label, the hint under it, and
    the choice that reveals it (`(field, value)`: e.g. reasons only for a refusal), marked
    required when `required_when_shown` (the schema requires it only for that choice)."""
    out = {"label": label, **extra}
    if hint is not None:
        out["hint"] = hint
    if shown_when is not None:
        out["shown_when"] = shown_when
        out["required_when_shown"] = required_when_shown
    return out


def choice(values: list[str], labels: dict[str, str] | None = None, **kwargs) -> fields.String:
    """One of `values`; `labels` (value → label) go on the field's metadata as `choices`."""
    shown = "、".join(labels[v] for v in values) if labels else "、".join(values)
    if labels:
        kwargs["metadata"] = {**kwargs.get("metadata", {}), "choices": labels}
    return fields.String(validate=validate.OneOf(values, error=f"请从以下选项中选择：{shown}"), **kwargs)


class FieldErrors(Invalid):
    """Validation failed; `errors` maps field name → list of Chinese messages (HTTP 422)."""


def load(schema, data: dict, **kwargs) -> dict:
    """`schema.load(data)`, its ValidationError as FieldErrors (field → Chinese messages)."""
    try:
        return schema.load(data, **kwargs)
    except ValidationError as exc:
        raise FieldErrors(exc.messages) from None


def flat_errors(errors: dict) -> dict[str, list[str]]:
    """Field → list of messages, marshmallow's nested errors ({'items': {0: [...]}},
    {'changes': {'name': [...]}}) folded into their top-level field."""
    out: dict[str, list[str]] = {}
    for name, value in errors.items():
        if isinstance(value, dict):
            out[str(name)] = [f"{k}：{m}" for k, msgs in flat_errors(value).items() for m in msgs]
        else:
            out[str(name)] = [str(m) for m in (value if isinstance(value, list | tuple) else [value])]
    return out


def optional_text(max_len: int, **kwargs) -> fields.String:
    """An optional string (None when absent) of at most `max_len` characters."""
    return fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(max=max_len, error=f"不能超过 {max_len} 个字符"), **kwargs)


def is_blank(value) -> bool:
    return value is None or not str(value).strip()
