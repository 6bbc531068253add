"""A user task's web form, rendered from the marshmallow schema the engine validates with.

The schema (in its flow's module, app/flows/<flow>.py, registered by name in the BPMN `form`
property) is the single source of the fields, their labels, hints and choices, and which
choice reveals a field (the fields' metadata); this module only decides widgets and translates
the labels. Validation stays in the schema: the page shows the schema's own field errors.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from flask_babel import gettext as _
from marshmallow import fields, validate
from werkzeug.datastructures import MultiDict

from app.flows.registry import FORMS, PERIOD_FORMS, start_choice_labels

# The choices of the start forms, to show a record's filed details.
CHOICE_LABELS = start_choice_labels()


def label_of(name: str, fld=None) -> str:
    """A field's label, translated (its schema metadata; the field name when it has none)."""
    metadata = fld.metadata if fld is not None else {}
    label = metadata.get("label") or metadata.get("description")
    return _(label) if label else name


def choice_label(name: str, value) -> str:
    label = CHOICE_LABELS.get(name, {}).get(value)
    return _(label) if label else value


@dataclass
class FormField:
    name: str
    label: str
    widget: str                      # radio | select | textarea | text | date | checkboxes | number | json | file
    required: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: object = None
    shown_when: tuple[str, str] | None = None
    hint: str | None = None


def schema_for(form_name: str | None):
    return FORMS.get(form_name) if form_name else None


def _choices(fld) -> list[tuple[str, str]] | None:
    for v in fld.validators:
        if isinstance(v, validate.OneOf):
            labels = fld.metadata.get("choices", {})
            return [(str(c), _(labels[c]) if c in labels else str(c)) for c in v.choices]
    return None


def _max_length(fld) -> int | None:
    for v in fld.validators:
        if isinstance(v, validate.Length) and v.max:
            return v.max
    return None


def build(form_name: str | None, defaults: dict, item_choices: list[str],
          options: dict[str, list[tuple[str, str]]] | None = None) -> list[FormField]:
    """The fields of a task's form, with `defaults` (e.g. the requested scope and period) filled in."""
    schema_cls = schema_for(form_name)
    if schema_cls is None:
        return []
    return build_schema(schema_cls, defaults, item_choices, options,
                        skip=lambda name: form_name in PERIOD_FORMS and name.startswith("requested_"))


def build_schema(schema_cls, defaults: dict, item_choices: list[str],
                 options: dict[str, list[tuple[str, str]]] | None = None, skip=None) -> list[FormField]:
    """The fields of any form schema (a task form, or a case flow's start form). `options` turns
    a field into a list to pick from (departments, catalogue entries)."""
    options = options or {}
    schema_fields = schema_cls().fields
    out = []
    for name, fld in schema_fields.items():
        if fld.dump_only or (skip and skip(name)):
            continue  # e.g. the platform fills the requested period in itself (app/flows/tasks.py)
        choices = _choices(fld)
        if name in options:
            widget, choices = "select", options[name]
        elif choices:
            widget = "radio" if len(choices) <= 4 else "select"
        elif isinstance(fld, fields.List):
            # the entry's items, or those a field says it picks from (e.g. the items asked for)
            source = fld.metadata.get("choices_from")
            picks = defaults.get(source) or [] if source else item_choices
            widget, choices = "checkboxes", [(i, i) for i in picks]
        elif isinstance(fld, fields.Date):
            widget = "date"
        elif isinstance(fld, fields.Integer):
            widget = "number"
        elif isinstance(fld, fields.Dict):
            widget = "json"
        else:
            widget = "textarea" if (_max_length(fld) or 0) > 200 else "text"
        when, hint = fld.metadata.get("shown_when"), fld.metadata.get("hint")
        out.append(FormField(name=name, label=label_of(name, fld), widget=widget, choices=choices or [],
                             required=fld.required or bool(when and fld.metadata.get("required_when_shown")),
                             value=defaults.get(name), shown_when=when, hint=_(hint) if hint else None))
    return out


def read(form_fields: list[FormField], form: MultiDict) -> dict:
    """The submitted values, shaped for the schema (lists for checkboxes, absent when blank)."""
    data: dict = {}
    for f in form_fields:
        if f.widget == "checkboxes":
            data[f.name] = form.getlist(f.name)
            continue
        value = (form.get(f.name) or "").strip()
        if value and f.widget == "json":
            try:
                data[f.name] = json.loads(value)
            except ValueError:
                data[f.name] = value  # the schema answers 格式不正确
        elif value:
            data[f.name] = value
    return data


def refill(form_fields: list[FormField], data: dict) -> None:
    """Show what was submitted again after a refused submission."""
    for f in form_fields:
        value = data.get(f.name)
        f.value = json.dumps(value, ensure_ascii=False) if f.widget == "json" and isinstance(value, dict) else value
