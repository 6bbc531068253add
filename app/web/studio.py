"""The administrator's studio (SPEC §6): every flow's versions, the modeler with its checks,
drafts, deploy and making an older version active again, comparing versions and moving running
instances. The engine does the work (app/engine/versions.py, migration.py); these are its pages."""
from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.engine import expressions
from app.engine.elements import compare
from app.engine.errors import Conflict, DeployError, NotFound, ScriptError
from app.engine.migration import dry_run, migrate_safe
from app.engine.registry import SCRIPT_FUNCTIONS
from app.engine.versions import (
    check,
    deploy_version,
    discard_draft,
    draft_of,
    flow_versions,
    reactivate,
    save_draft,
    version,
)
from app.errors import Invalid, PlatformError, json_body
from app.extensions import db
from app.flows.base import actor_for
from app.flows.registry import flow_label
from app.org.models import User
from app.web.access import administrators_only
from app.web.errors import error_page
from app.web.headers import CONTENT_SECURITY_POLICY
from app.web.studio_choices import panel_choices

studio = administrators_only(Blueprint("studio", __name__, url_prefix="/admin/flows"))
CHANGE_NOTE_MAX = 500


def _versions_or_404(process_id: str):
    versions = flow_versions(process_id).get(process_id)
    if not versions:
        abort(404)
    return versions


def _problem_json(problems: list[DeployError]) -> list[dict]:
    return [{"element_id": p.element_id, "message": p.message, "line": p.line} for p in problems]


def _deployers(rows) -> dict[int, str]:
    ids = {r.definition.deployed_by for r in rows if r.definition.deployed_by}
    return dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()) if ids else {}


@studio.get("/")
def index():
    flows = flow_versions()
    drafts = {pid: draft_of(pid, current_user.id) for pid in flows}
    return render_template("studio/index.html", flows=flows, drafts=drafts, flow_label=flow_label)


@studio.get("/<process_id>")
def flow(process_id: str):
    versions = _versions_or_404(process_id)
    return render_template("studio/flow.html", process_id=process_id, label=flow_label(process_id),
                           versions=versions, deployers=_deployers(versions),
                           draft=draft_of(process_id, current_user.id))


@studio.get("/<process_id>/versions/<int:number>.bpmn")
def version_xml(process_id: str, number: int):
    row = _version_or_404(process_id, number)
    return row.bpmn_xml, 200, {"Content-Type": "application/xml; charset=utf-8"}


def _version_or_404(process_id: str, number: int):
    try:
        return version(process_id, number)
    except NotFound:
        abort(404)


@studio.get("/<process_id>/edit")
def edit(process_id: str):
    versions = _versions_or_404(process_id)
    draft = draft_of(process_id, current_user.id)
    page = render_template("studio/edit.html", process_id=process_id, label=flow_label(process_id),
                           active=versions[0].definition, draft=draft, choices=panel_choices())
    # The modeler's palette and context pad are built from HTML with style attributes (diagram-js):
    # this page allows those attributes, and nothing else inline (no <style>, no script).
    return page, 200, {"Content-Security-Policy": f"{CONTENT_SECURITY_POLICY}; style-src-attr 'unsafe-inline'"}


@studio.get("/<process_id>/edit/diagram")
def edit_diagram(process_id: str):
    """What the modeler opens: the administrator's draft, else the active version."""
    active = _versions_or_404(process_id)[0].definition
    draft = draft_of(process_id, current_user.id)
    return jsonify(xml=draft.bpmn_xml if draft else active.bpmn_xml, active_version=active.version,
                   from_draft=draft is not None,
                   base_version=draft.base_version if draft else active.version)


def _posted_xml() -> bytes:
    payload = request.get_json(silent=True) or {}
    xml = payload.get("xml")
    if not isinstance(xml, str) or not xml.strip():
        raise Invalid({"xml": [_("没有收到流程图")]})
    return xml.encode("utf-8")


@studio.errorhandler(PlatformError)
def _platform_error(exc: PlatformError):
    """The modeler's calls are JSON and are answered in JSON (field errors included); pages as pages."""
    if request.is_json:
        return jsonify(json_body(exc)), int(exc.status)
    return error_page(exc)


@studio.post("/<process_id>/check")
def check_diagram(process_id: str):
    _versions_or_404(process_id)
    return jsonify(problems=_problem_json(check(process_id, _posted_xml())))


@studio.post("/expression")
def check_expression():
    source = (request.get_json(silent=True) or {}).get("source")
    if not isinstance(source, str):
        raise Invalid({"source": [_("没有收到表达式")]})
    try:
        expressions.check(source, SCRIPT_FUNCTIONS)
    except ScriptError as exc:
        return jsonify(ok=False, message=str(exc))
    return jsonify(ok=True, message=None)


@studio.post("/<process_id>/draft")
def save(process_id: str):
    _versions_or_404(process_id)
    base = (request.get_json(silent=True) or {}).get("base_version")
    try:
        problems = save_draft(process_id, current_user.id, _posted_xml(), base if isinstance(base, int) else None)
    except DeployError as exc:  # too large to keep
        raise Invalid({"xml": [exc.message]}) from None
    return jsonify(saved=True, problems=_problem_json(problems))


@studio.route("/<process_id>/draft/discard", methods=["GET", "POST"])
def discard(process_id: str):
    """Asks first (a draft discarded is gone), then discards."""
    draft = draft_of(process_id, current_user.id)
    if draft is None:
        return redirect(url_for("studio.flow", process_id=process_id))
    if request.method == "POST":
        discard_draft(process_id, current_user.id)
        flash(_("草稿已放弃"), "success")
        return redirect(url_for("studio.flow", process_id=process_id))
    return render_template("studio/discard.html", process_id=process_id, label=flow_label(process_id),
                           draft=draft)


def _change_note(payload: dict) -> str:
    note = payload.get("change_note")
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise Invalid({"change_note": [_("请填写变更说明：改了什么、为什么改")]})
    if len(note) > CHANGE_NOTE_MAX:
        raise Invalid({"change_note": [_("变更说明不能超过 %(n)s 个字", n=CHANGE_NOTE_MAX)]})
    return note


@studio.post("/<process_id>/deploy")
def deploy(process_id: str):
    _versions_or_404(process_id)
    payload = request.get_json(silent=True) or {}
    if payload.get("confirm") is not True:
        raise Invalid({"confirm": [_("部署前请确认")]})
    note, xml = _change_note(payload), _posted_xml()
    seen = payload.get("seen_version") if isinstance(payload.get("seen_version"), int) else None
    try:
        row = deploy_version(process_id, xml, note, current_user.id, seen)
    except DeployError as exc:
        return jsonify(problems=_problem_json(exc.problems)), 422
    except Conflict as exc:
        return jsonify(message=str(exc)), 409
    flash(_("已部署第 %(v)s 版，新办件将按此版本运行；运行中的办件仍按原版本办理", v=row.version), "success")
    return jsonify(version=row.version, url=url_for("studio.flow", process_id=process_id))


@studio.route("/<process_id>/versions/<int:number>/reactivate", methods=["GET", "POST"])
def reactivate_version(process_id: str, number: int):
    row = _version_or_404(process_id, number)
    errors: dict = {}
    if request.method == "POST":
        try:
            new = reactivate(process_id, number, _change_note(request.form), current_user.id)
        except Invalid as exc:
            errors = exc.errors
        except DeployError as exc:
            errors = {"version": [p.message for p in exc.problems]}
        else:
            flash(_("第 %(old)s 版已作为第 %(new)s 版重新启用", old=number, new=new.version), "success")
            return redirect(url_for("studio.flow", process_id=process_id))
    return render_template("studio/reactivate.html", process_id=process_id, label=flow_label(process_id),
                           row=row, errors=errors, form=request.form)


def _pair_numbers(versions) -> tuple[int, int]:
    newest = versions[0].definition.version
    b = request.args.get("b", newest, type=int)
    a = request.args.get("a", max(b - 1, 1), type=int)
    return a, b


@studio.get("/<process_id>/compare")
def compare_versions(process_id: str):
    versions = _versions_or_404(process_id)
    a, b = _pair_numbers(versions)
    old, new = _version_or_404(process_id, a), _version_or_404(process_id, b)
    return render_template("studio/compare.html", process_id=process_id, label=flow_label(process_id),
                           old=old, new=new, versions=versions, changes=compare(old.bpmn_xml, new.bpmn_xml))


@studio.route("/<process_id>/migrate", methods=["GET", "POST"])
def migrate(process_id: str):
    versions = _versions_or_404(process_id)
    a, b = _pair_numbers(versions)
    old, new = _version_or_404(process_id, a), _version_or_404(process_id, b)
    if request.method == "POST":
        if request.form.get("confirm") != "yes":
            flash(_("请先勾选确认再迁移"), "error")
        else:
            moved, left = migrate_safe(old, new, actor_for(current_user))
            flash(_("已迁移 %(n)s 个办件到第 %(v)s 版；%(m)s 个不能迁移，仍按原版本办理",
                    n=len(moved), v=new.version, m=len(left)), "success")
        return redirect(url_for("studio.migrate", process_id=process_id, a=a, b=b))
    return render_template("studio/migrate.html", process_id=process_id, label=flow_label(process_id),
                           old=old, new=new, versions=versions, verdicts=dry_run(old, new))

