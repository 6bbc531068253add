"""The active jurisdiction profile in the browser (/admin/policy): every deadline (amount, unit,
article cited, or the note of a default) and every switch, edited with the profile file's own
validation; before saving, what changes and which running steps count a changed deadline (they
keep their due dates); saved changes are audited and in force for steps that start afterwards."""
from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.flows.step_deadlines import step_deadlines
from app.policy import DEADLINE_NAMES, SWITCH_NAMES, PolicyError, active_policy
from app.policy.changes import items_of, proposed, save
from app.policy.in_force import overrides
from app.sla.policy_preview import steps_counting
from app.web.access import administrators_only
from app.web.errors import FORM_ERRORS_STATUS

policy_admin = administrators_only(Blueprint("policy_admin", __name__, url_prefix="/admin/policy"))


def _text(name: str) -> str | None:
    value = request.form.get(name, "").strip()
    return value or None


def _amount(name: str):
    value = request.form.get(name, "").strip()
    return int(value) if value.isdigit() else value  # anything else is refused beside its field


def _posted_items() -> dict:
    items = {}
    for name in DEADLINE_NAMES:
        p = f"deadlines-{name}-"
        items["deadlines", name] = {"amount": _amount(p + "amount"), "unit": request.form.get(p + "unit"),
                                    "article": _text(p + "article"), "note": _text(p + "note")}
    for name in SWITCH_NAMES:
        p = f"switches-{name}-"
        items["switches", name] = {"value": request.form.get(p + "value") == "y", "article": _text(p + "article"),
                                   "note": _text(p + "note")}
    return items


def _used_by() -> dict[str, list[str]]:
    """Each deadline → the steps it bounds, as the diagrams name them."""
    used: dict[str, list[str]] = {}
    for step in step_deadlines(current_app.config["BPMN_DIR"]):
        if step.deadline:
            used.setdefault(step.deadline, []).append(f"{step.label}（{step.flow_label}）")
    return used


def _form(items: dict, errors: dict):
    policy = active_policy()
    changed = {(r.section, r.name): r for r in overrides(policy.key)}
    return render_template("policy_admin/index.html", policy=policy, items=items, errors=errors,
                           changed=changed, used_by=_used_by(), deadline_names=DEADLINE_NAMES,
                           switch_names=SWITCH_NAMES), FORM_ERRORS_STATUS


@policy_admin.get("/")
def index():
    return _form(items_of(active_policy()), {})


@policy_admin.post("/")
def preview():
    """Checked as the profile file is checked; nothing is saved yet."""
    items = _posted_items()
    key = active_policy().key
    try:
        policy, edits = proposed(key, items)
    except PolicyError as exc:
        return _form(items, {exc.field.replace(".", "-"): [exc.zh]})
    if not edits:
        flash(_("没有改动"), "info")
        return redirect(url_for("policy_admin.index"))
    names = {e.name for e in edits if e.section == "deadlines"}
    total, steps = steps_counting(names, policy)
    return render_template("policy_admin/preview.html", policy=policy, edits=edits, total=total, steps=steps,
                           payload=json.dumps([[e.section, e.name, e.after] for e in edits], ensure_ascii=False),
                           errors={})


@policy_admin.post("/save")
def save_changes():
    """Confirmed: check again (another administrator may have saved meanwhile) and save."""
    key = active_policy().key
    try:
        posted = {(s, n): item for s, n, item in json.loads(request.form.get("edits", "[]"))
                  if isinstance(item, dict)
                  and ((s == "deadlines" and n in DEADLINE_NAMES) or (s == "switches" and n in SWITCH_NAMES))}
    except (ValueError, TypeError):
        abort(400)
    if request.form.get("confirm") != "yes":
        flash(_("请先勾选确认再保存"), "error")
        return redirect(url_for("policy_admin.index"))
    try:
        _policy, edits = proposed(key, posted)
    except PolicyError as exc:
        flash(_("未保存：%(e)s", e=exc.zh), "error")
        return redirect(url_for("policy_admin.index"))
    save(key, edits, current_user)
    flash(_("已保存 %(n)s 项改动，此后开始的环节按新规定计算期限；运行中的环节保持原期限", n=len(edits)), "success")
    return redirect(url_for("policy_admin.index"))
