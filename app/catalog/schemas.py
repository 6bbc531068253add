"""Input rules for catalogue entries (SPEC §2), shared by the API and the web form."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from app.catalog import labels
from app.policy import active_policy, article_text
from app.validation import Schema, choice, required_text

RESOURCE_CODE = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9_.\-/]{1,63}$",
    error="资源代码只能包含字母、数字和 _ . - /，长度 2–64",
)


class InformationItemInput(Schema):
    name = required_text(100, metadata={"description": "信息项名称"})
    data_type = choice(list(labels.DATA_TYPE), labels.DATA_TYPE, required=True)


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _basic_data_rule() -> str | None:
    """The active profile's basic-data rule as the message cites it, or None where it has none."""
    policy = active_policy()
    switch = policy.switches.get("basic_data_unconditional")
    if switch is None or not switch.value:
        return None
    return f"《{policy.regulation_title}》{article_text(switch.article)}"


class CatalogEntryInput(Schema):
    resource_code = fields.String(required=True, validate=RESOURCE_CODE)
    name = required_text(200)
    summary = fields.String(load_default="", validate=validate.Length(max=2000, error="摘要最多 2000 字"))
    resource_format = choice(list(labels.RESOURCE_FORMAT), labels.RESOURCE_FORMAT, required=True)
    share_type = choice(list(labels.SHARE_TYPE), labels.SHARE_TYPE, required=True)
    share_conditions = fields.String(load_default=None, allow_none=True)
    share_scope = fields.String(load_default=None, allow_none=True)
    legal_basis = fields.String(load_default=None, allow_none=True)
    share_method = choice(list(labels.SHARE_METHOD), labels.SHARE_METHOD, required=True)
    authorisation_mode = choice(list(labels.AUTHORISATION_MODE), labels.AUTHORISATION_MODE,
                                load_default="provider")
    open_attribute = choice(list(labels.OPEN_ATTRIBUTE), labels.OPEN_ATTRIBUTE, load_default="not_open")
    update_cycle = choice(list(labels.UPDATE_CYCLE), labels.UPDATE_CYCLE, required=True)
    sensitive = fields.Boolean(load_default=False)
    basic_data = fields.Boolean(load_default=False, metadata={
        "description": "基础信息资源的基础信息项（人口、法人、空间地理、电子证照等）"})
    needs_control_parameters = fields.Boolean(load_default=False, metadata={
        "description": "无条件共享但需要管控参数（南通 art. 18：由提供部门授权）"})
    items = fields.List(
        fields.Nested(InformationItemInput), required=True,
        validate=validate.Length(min=1, error="至少填写一个信息项"),
    )

    @validates_schema
    def _share_type_rules(self, data: dict, **_kwargs) -> None:
        errors: dict[str, list[str]] = {}
        share_type = data.get("share_type")
        if share_type == "conditional":
            # 南通 art. 8: a conditional entry must state its share scope (and conditions)
            if _blank(data.get("share_conditions")):
                errors["share_conditions"] = ["有条件共享的资源必须填写共享条件（南通细则第八条）"]
            if _blank(data.get("share_scope")):
                errors["share_scope"] = ["有条件共享的资源必须填写共享范围（南通细则第八条）"]
        if share_type == "unconditional" and data.get("sensitive"):
            # 宝鸡 art. 15(4): data involving state secrets or personal privacy is not unconditional
            errors["share_type"] = ["涉密或涉及个人隐私的资源不能列为无条件共享（宝鸡办法第十五条）"]
        basic_rule = _basic_data_rule()
        if (basic_rule and data.get("basic_data") and not data.get("sensitive")
                and share_type != "unconditional"):
            # 宝鸡 art. 15(2), 乌海 art. 8(2), 林州 art. 5 (a sensitive one stays under 15(4))
            errors.setdefault("share_type", []).append(
                f"基础信息资源的基础信息项应在部门间无条件共享（{basic_rule}）")
        if data.get("needs_control_parameters") and share_type != "unconditional":
            errors["needs_control_parameters"] = ["只有无条件共享的资源才需标明是否设定管控参数"]
        if share_type == "not_shared" and _blank(data.get("legal_basis")):
            # 宝鸡 art. 15(1), 南通 art. 8: not shared only with a law, regulation or policy basis
            errors["legal_basis"] = ["不予共享的资源必须提供法律、法规或政策依据（宝鸡办法第十五条、南通细则第八条）"]
        if errors:
            raise ValidationError(errors)

