"""Jurisdiction policy profiles (SPEC §5): one YAML file per regulation in ``profiles/``.

A profile holds the coordinating office, every deadline as {amount, unit, article}, the
reminder lead, retention figures and the switches, each citing its article of the city's
regulation. Where the regulation is silent the value is a documented default:
``article: null`` plus a ``note`` that starts with 默认值. `load_profile` refuses a bad file with a
`PolicyError` naming the file and the field.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path

import yaml
from flask import current_app, has_app_context

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = "nantong"

# Stable names: BPMN timers and the engine refer to these (ARCHITECTURE.md "one concept, one name").
DEADLINE_NAMES: tuple[str, ...] = (
    "formal_review",           # office formal review of an application (南通 art. 21)
    "platform_authorisation",  # office authorises platform-managed resources (南通 art. 23)
    "provider_review",         # provider answers a conditional-share application (its step's name)
    "demand_publish",          # demand for an unpublished resource: publish (南通 art. 25)
    "demand_feedback",         # … or explain why not (南通 art. 25)
    "catalogue_update",        # catalogue update after a law/mandate change
    "rectification_default",   # rectification notice, when the office sets no other limit
    "objection_verification",  # provider verifies disputed data (宝鸡 art. 19, 南通 art. 29, 西城 art. 28)
    # Steps the regulations give no figure for: each profile states its default (article null, note)
    "amend_application",       # the applicant amends a returned application (补正)
    "negotiation",             # the two departments negotiate after a refusal (宝鸡 art. 16)
    "confirm_agreement",       # the provider confirms an agreement reached
    "office_arbitration",      # the office decides after a failed negotiation
    "three_party_agreement",   # the office records the three-party agreement (西城 art. 26)
    "confidentiality_agreement",  # the provider records the confidentiality agreement (西城 art. 31)
    "review_entry",            # the office reviews a catalogue entry (南通 art. 10: no figure)
    "revise_entry",            # the provider revises an entry the review sent back
    "idle_grant_decision",     # the provider decides on an idle grant (南通 art. 26: no figure)
    "rectification_verification",  # the office verifies a reported rectification
    "report_missed_rectification",  # the office reports / circulates a missed rectification
    "office_approval",         # the office approves a revocation (南通 art. 16: no figure)
    "route_demand",            # the office routes a demand for unpublished data to a provider
    "reroute_demand",          # … or to another one, or closes it
    "supervise_overdue",       # 督办 itself, by the office or (office overdue) by its supervisors
    "annual_report",           # the office compiles the departments' yearly reports (宝鸡 art. 24)
)
# Names deadlines had before they were named after the step they bound (profile files of a
# city's own may still use them; migrations/versions/c3e5f7a9b1d2 renamed the stored ones).
FORMER_DEADLINE_NAMES = {"provider_reply": "provider_review", "objection_verify": "objection_verification"}
SWITCH_NAMES: tuple[str, ...] = (
    "formal_review",
    "platform_authorisation",
    "refusal_reasons_required",
    "sealed_application_letter",
    "three_party_agreement",
    "confidentiality_agreement",
    "revocation_needs_approval",
    "idle_grant_withdrawal",
    "office_arbitration",
    "suspension_on_missed_rectification",
    "written_circular_on_missed_rectification",
    "annual_report",
    "basic_data_unconditional",
    "control_parameters",
)
UNITS = ("workday", "month")
ARTICLE = re.compile(r"^arts?\. \d+\S*(, \d+\S*)*$")  # "art. 21", "arts. 18, 23"
KEY = re.compile(r"^[a-z][a-z0-9_]*$")
HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
REMINDER_TIME = time(9, 0)  # reminders fire at 09:00 local; a close of business must be later


class PolicyError(ValueError):
    """A profile is unreadable or breaks a rule; the message names the file and the field."""

    def __init__(self, file: str | Path, field: str, message: str, zh: str | None = None):
        self.file = str(file)
        self.field = field
        self.zh = zh or message  # what the administrator's form shows beside the field
        super().__init__(f"{self.file}: {field}: {message}")


@dataclass(frozen=True)
class DeadlineRule:
    amount: int
    unit: str  # workday | month
    article: str | None
    note: str | None = None


@dataclass(frozen=True)
class Switch:
    value: bool
    article: str | None
    note: str | None = None


@dataclass(frozen=True)
class Policy:
    key: str
    city: str
    regulation_title: str
    regulation_number: str | None
    regulation_issued: date | None
    coordinating_office: str
    close_of_business: time | None  # None = 24:00 (民法典 art. 203)
    deadlines: dict[str, DeadlineRule]
    reminder_lead: int  # working days before a deadline
    idle_grant_months: int
    log_retention_years: int
    switches: dict[str, Switch]
    source: str  # file path
    grant_expiry_notice: int = 5  # working days before a grant's last day its holder is told
    due_soon_workdays: int = 2    # a task is due soon with at most this many working days left
    on_time_target: int = 95      # per cent of steps completed on time: the SLA desk's target line

    def deadline(self, name: str) -> DeadlineRule:
        try:
            return self.deadlines[name]
        except KeyError:
            raise UnknownDeadline(name) from None

    def switch(self, name: str) -> bool:
        try:
            return self.switches[name].value
        except KeyError:
            raise KeyError(f"unknown policy switch {name!r}; known: {', '.join(SWITCH_NAMES)}") from None


def article_text(article: str | None) -> str:
    """'art. 15' → '第15条' (and 'arts. 18, 23' → '第18、23条'), as a Chinese message cites it."""
    match = re.fullmatch(r"arts?\.\s*(.+)", article or "")
    if not match:
        return article or ""
    return "第" + "、".join(part.strip() for part in match.group(1).split(",")) + "条"


class UnknownDeadline(KeyError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown policy deadline {self.name!r}; known: {', '.join(DEADLINE_NAMES)}"


# ---- validation -----------------------------------------------------------------------------
def _mapping(value, file, field) -> dict:
    if not isinstance(value, dict):
        raise PolicyError(file, field, "required mapping is missing or not a mapping")
    return value


def _text(item: dict, key: str, file, field, *, required=True) -> str | None:
    value = item.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise PolicyError(file, f"{field}.{key}", "required field is missing or empty", zh="必填")
        return None
    if not isinstance(value, str):
        raise PolicyError(file, f"{field}.{key}", f"expected text, got {value!r}", zh="应为文字")
    return value.strip()


def _int(item: dict, key: str, file, field, minimum: int) -> int:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(file, f"{field}.{key}", f"expected a whole number, got {value!r}", zh="请填写整数")
    if value < minimum:
        raise PolicyError(file, f"{field}.{key}", f"must be at least {minimum}, got {value}", zh=f"不能小于 {minimum}")
    return value


def _citation(item: dict, file, field) -> tuple[str | None, str | None]:
    """article (or null) and note; a null article needs a note saying why (默认值…)."""
    if "article" not in item:
        raise PolicyError(file, f"{field}.article", "required field is missing (write null if the "
                          "regulation is silent, and explain the default in note)")
    article = _text(item, "article", file, field, required=False)
    note = _text(item, "note", file, field, required=False)
    if article is not None and not ARTICLE.match(article):
        raise PolicyError(file, f"{field}.article", f"write it as 'art. 21' or 'arts. 18, 23', got {article!r}",
                          zh="条款写作 art. 21 或 arts. 18, 23")
    if article is None and note is None:
        raise PolicyError(file, f"{field}.note", "article is null, so a note must document the default",
                          zh="没有引用条款时，须在说明中写明这是默认值及其理由")
    return article, note


def _close_of_business(item: dict, file) -> time | None:
    field = "close_of_business"
    _citation(item, file, field)
    value = item.get("value")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        raise PolicyError(file, f"{field}.value", "write the time quoted, e.g. \"17:30\" "
                          "(unquoted 17:30 is read by YAML as a number)")
    if not isinstance(value, str) or not HHMM.match(value):
        raise PolicyError(file, f"{field}.value", f"expected \"HH:MM\" or null, got {value!r}")
    hours, minutes = map(int, value.split(":"))
    result = time(hours, minutes)
    if result <= REMINDER_TIME:
        raise PolicyError(file, f"{field}.value", f"must be later than {REMINDER_TIME:%H:%M}, got {value}")
    return result


def parse_profile(raw, source: str | Path, expected_key: str | None = None) -> Policy:
    file = str(source)
    doc = _mapping(raw, file, "(document)")
    key = _key(doc, file, expected_key)
    city = _text(doc, "city", file, "(document)")
    title, number, issued = _regulation(_mapping(doc.get("regulation"), file, "regulation"), file)
    office = _mapping(doc.get("coordinating_office"), file, "coordinating_office")
    office_name = _text(office, "name", file, "coordinating_office")
    _citation(office, file, "coordinating_office")
    cob = _close_of_business(_mapping(doc.get("close_of_business"), file, "close_of_business"), file)
    deadlines = _deadlines(doc, file)
    reminder_lead = _workdays(doc, file, "reminder_lead", 0)
    figures = {}
    for name in ("idle_grant_months", "log_retention_years"):
        item = _mapping(doc.get(name), file, name)
        _citation(item, file, name)
        figures[name] = _int(item, "amount", file, name, 1)
    return Policy(key, city, title, number, issued, office_name, cob, deadlines, reminder_lead,
                  figures["idle_grant_months"], figures["log_retention_years"],
                  _switches(doc, file), file,
                  grant_expiry_notice=_workdays(doc, file, "grant_expiry_notice", 1),
                  due_soon_workdays=_workdays(doc, file, "due_soon_workdays", 0),
                  on_time_target=_percent(doc, file, "on_time_target"))


def _percent(doc: dict, file: str, name: str) -> int:
    """A percentage (1–100), with its citation (or the note saying it is a default)."""
    item = _mapping(doc.get(name), file, name)
    if item.get("unit") != "percent":
        raise PolicyError(file, f"{name}.unit", f"must be percent, got {item.get('unit')!r}")
    _citation(item, file, name)
    value = _int(item, "amount", file, name, 1)
    if value > 100:
        raise PolicyError(file, f"{name}.amount", f"must be at most 100, got {value}")
    return value


def _workdays(doc: dict, file: str, name: str, minimum: int) -> int:
    """A lead time in working days, with its citation (or the note saying it is a default)."""
    lead = _mapping(doc.get(name), file, name)
    if lead.get("unit") != "workday":
        raise PolicyError(file, f"{name}.unit", f"must be workday, got {lead.get('unit')!r}")
    _citation(lead, file, name)
    return _int(lead, "amount", file, name, minimum)


def _key(doc: dict, file: str, expected_key: str | None) -> str:
    key = _text(doc, "key", file, "(document)")
    if not KEY.match(key):
        raise PolicyError(file, "key", f"must be lower_snake_case, got {key!r}")
    if expected_key is not None and key != expected_key:
        raise PolicyError(file, "key", f"file is named {expected_key}.yaml but key is {key!r}")
    return key


def _regulation(regulation: dict, file: str) -> tuple[str, str | None, date | None]:
    title = _text(regulation, "title", file, "regulation")
    for required in ("number", "issued"):
        if required not in regulation:
            raise PolicyError(file, f"regulation.{required}", "required field is missing (write null if unknown)")
    number = _text(regulation, "number", file, "regulation", required=False)
    issued = regulation.get("issued")
    if issued is not None and not isinstance(issued, date):
        raise PolicyError(file, "regulation.issued", f"expected a date YYYY-MM-DD or null, got {issued!r}")
    return title, number, issued


def _named_section(doc: dict, file: str, section: str, known: tuple[str, ...], what: str) -> dict:
    """The section's mapping, refusing names outside `known` (a typo would silently not apply)."""
    raw = _mapping(doc.get(section), file, section)
    unknown = sorted(set(map(str, raw)) - set(known))
    if unknown:
        raise PolicyError(file, f"{section}.{unknown[0]}", f"{what}; known: {', '.join(known)}")
    return raw


def _current_names(doc: dict, file: str) -> dict:
    """The profile with its deadlines under their current names (a city's own profile file may
    still use a former one)."""
    raw = dict(_mapping(doc.get("deadlines"), file, "deadlines"))
    for old, new in FORMER_DEADLINE_NAMES.items():
        if old in raw:
            if new in raw:
                raise PolicyError(file, f"deadlines.{old}", f"former name of deadlines.{new}, which is also given")
            raw[new] = raw.pop(old)
    return {**doc, "deadlines": raw}


def _deadlines(doc: dict, file: str) -> dict[str, DeadlineRule]:
    raw = _named_section(_current_names(doc, file), file, "deadlines", DEADLINE_NAMES, "unknown deadline name")
    deadlines = {}
    for name in DEADLINE_NAMES:
        field = f"deadlines.{name}"
        item = _mapping(raw.get(name), file, field)
        amount = _int(item, "amount", file, field, 1)
        unit = item.get("unit")
        if unit not in UNITS:
            raise PolicyError(file, f"{field}.unit", f"must be one of {', '.join(UNITS)}, got {unit!r}",
                              zh="单位应为工作日或月")
        deadlines[name] = DeadlineRule(amount, unit, *_citation(item, file, field))
    return deadlines


def _switches(doc: dict, file: str) -> dict[str, Switch]:
    raw = _named_section(doc, file, "switches", SWITCH_NAMES, "unknown switch")
    switches = {}
    for name in SWITCH_NAMES:
        field = f"switches.{name}"
        item = _mapping(raw.get(name), file, field)
        value = item.get("value")
        if not isinstance(value, bool):
            raise PolicyError(file, f"{field}.value", f"expected true or false, got {value!r}", zh="应为开或关")
        switches[name] = Switch(value, *_citation(item, file, field))
    return switches


# ---- loading ----------------------------------------------------------------------------------
def profile_dir() -> Path:
    if has_app_context() and current_app.config.get("POLICY_DIR"):
        return Path(current_app.config["POLICY_DIR"])
    return PROFILE_DIR


def profile_keys(directory: str | Path | None = None) -> list[str]:
    directory = Path(directory) if directory is not None else profile_dir()
    return sorted(p.stem for p in directory.glob("*.yaml"))


_cache: dict[str, tuple[int, Policy]] = {}
_cache_lock = threading.Lock()


def load_profile(key: str, directory: str | Path | None = None) -> Policy:
    """The validated profile ``key``; re-read when its file changes (administrators edit them)."""
    directory = Path(directory) if directory is not None else profile_dir()
    if not KEY.match(key or ""):
        raise PolicyError(directory / f"{key}.yaml", "key", f"not a profile name: {key!r}")
    path = directory / f"{key}.yaml"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        known = ", ".join(profile_keys(directory)) or "none"
        raise PolicyError(path, "(file)", f"no such policy profile {key!r}; available: {known}") from None
    cached = _cache.get(str(path))
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PolicyError(path, "(file)", f"not valid YAML: {exc}") from exc
    policy = parse_profile(raw, path, expected_key=key)
    with _cache_lock:
        _cache[str(path)] = (mtime, policy)
    return policy


def validate_profiles(directory: str | Path | None = None) -> list[PolicyError]:
    problems = []
    for key in profile_keys(directory):
        try:
            load_profile(key, directory)
        except PolicyError as exc:
            problems.append(exc)
    return problems
