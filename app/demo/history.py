"""`flask demo history`: months of realistic finished and open work for the demo city, run
through the real conditional-share flow on a moving clock — time-machine moves the process
clock from event to event, so every deadline, reminder and 督办 fires as it would have — so
the supervisor's desk (时效监督) has figures to show on `make run`. Seeded: the same seed gives
the same history. Most steps are answered in a day or two, some near their last day, a few
late; the newest ones are left open."""
from __future__ import annotations

import heapq
import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app.catalog.grants import record_use, refusal_reason
from app.catalog.models import CatalogEntry, Grant, GrantStatus, PublishState
from app.clock import LOCAL_TZ, as_utc, to_local, utcnow
from app.db import transaction
from app.engine import fire_due_timers
from app.engine.models import HumanTask, TaskState
from app.extensions import db
from app.flows.applications import start_application
from app.flows.models import Application, Case
from app.flows.tasks import complete_task
from app.legaltime import get_calendar
from app.org.models import Role, User
from app.sla.rollup import forget

LETTER = b"%PDF-1.4\n% demo sealed application letter\n%%EOF\n"
MARKER = "demo-history"  # in every generated purpose: a second run adds nothing


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    act: Callable[[], None] = field(compare=False)


class History:
    """The event queue and the random choices of one run."""

    def __init__(self, rng: random.Random, traveller, end: datetime):
        self.rng, self.traveller, self.end = rng, traveller, end
        self.queue: list[_Event] = []
        self.seq = 0
        self.scheduled: set[int] = set()
        self.applications = 0
        self.completed = 0

    def at(self, when: datetime, act: Callable[[], None]) -> None:
        if when < self.end:
            self.seq += 1
            heapq.heappush(self.queue, _Event(when, self.seq, act))

    def run(self) -> None:
        self._drain()
        self.schedule_uses()
        self._drain()
        self.traveller.move_to(self.end)
        fire_due_timers()

    def _drain(self) -> None:
        while self.queue:
            event = heapq.heappop(self.queue)
            self.traveller.move_to(event.at)
            fire_due_timers()
            event.act()
            self.schedule_new_tasks()

    def schedule_uses(self) -> None:
        """Most grants are in use: each is used once in the last weeks (a few stay idle, so the
        platform's idle-grant proposal, 南通 art. 26, has something to propose)."""
        for grant in db.session.scalars(select(Grant).where(Grant.status == GrantStatus.ACTIVE.value).order_by(Grant.id)):
            if self.rng.random() < 0.88:
                when = self.end - timedelta(days=self.rng.uniform(1, 45))
                self.at(_office_hours(max(when, as_utc(grant.valid_from))), lambda gid=grant.id: self.use(gid))

    def use(self, grant_id: int) -> None:
        grant = db.session.get(Grant, grant_id)
        user = _member(grant.grantee_department_id, Role.APPLICANT.value)
        if user is not None and refusal_reason(grant) is None:
            record_use(grant, user)

    # ---- steps -------------------------------------------------------------------------------

    def schedule_new_tasks(self) -> None:
        """Each step that arrived gets its answer at a time drawn like real work: mostly within
        two days, some near the last day, a few after it."""
        for task in db.session.scalars(select(HumanTask).where(HumanTask.state == TaskState.READY)):
            if task.id in self.scheduled:
                continue
            self.scheduled.add(task.id)
            arrived, due = as_utc(task.created_at), as_utc(task.due_at) if task.due_at else None
            draw = self.rng.random()
            if due is None or draw < 0.72:
                when = arrived + timedelta(hours=self.rng.uniform(1, 40))
            elif draw < 0.92:
                when = due - timedelta(hours=self.rng.uniform(2, 20))
            else:
                when = due + timedelta(hours=self.rng.uniform(4, 72))
            self.at(_office_hours(max(when, arrived + timedelta(minutes=5))), lambda tid=task.id: self.answer(tid))

    def answer(self, task_id: int) -> None:
        task = db.session.get(HumanTask, task_id)
        if task is None or task.state != TaskState.READY:
            return  # done by a boundary event or cancelled meanwhile
        user = _member(task.candidate_department_id, task.candidate_role)
        data = _answer(self.rng, task)
        if user is None or data is None:
            return
        complete_task(user, task.id, data)
        self.completed += 1

    # ---- applications ------------------------------------------------------------------------

    def apply(self, applicant: User, entry: CatalogEntry) -> None:
        today = to_local(utcnow()).date()
        letter = FileStorage(io.BytesIO(LETTER), filename="申请函.pdf", content_type="application/pdf")
        start_application(applicant, entry, {
            "entry_id": entry.id, "purpose": f"依法履职核验（{MARKER}）", "requested_scope": "本部门行政审批业务",
            "items": [item.name for item in entry.items][:2], "legal_basis": "《政务信息资源共享管理暂行办法》",
            "requested_valid_from": (today + timedelta(days=7)).isoformat(),
            "requested_valid_until": (today + timedelta(days=372)).isoformat()}, letter)
        self.applications += 1


def _office_hours(when: datetime) -> datetime:
    """`when`, or the next 09:00 local of a working day when it falls outside 09:00–17:30 of
    one (people act in office hours); the minutes are kept, so answers stay spread out."""
    local, calendar = to_local(when), get_calendar()
    if calendar.is_working_day(local.date()) and time(9, 0) <= local.time() <= time(17, 30):
        return when
    day = local.date()
    if not (calendar.is_working_day(day) and local.time() < time(9, 0)):
        day += timedelta(days=1)
        while not calendar.is_working_day(day):
            day += timedelta(days=1)
    return datetime.combine(day, time(9, local.minute % 60), tzinfo=LOCAL_TZ)


def _member(department_id: int | None, role: str | None) -> User | None:
    users = db.session.scalars(select(User).where(User.department_id == department_id, User.active.is_(True))
                               .order_by(User.id)).all()
    return next((u for u in users if role is None or u.has_role(Role(role))), None)


def _answer(rng: random.Random, task: HumanTask) -> dict | None:
    """A plausible answer for the step's form (None: the step is left to a person)."""
    form = task.form
    if form == "formal_review_form":
        return {"decision": "accept"} if rng.random() < 0.93 else {
            "decision": "return", "return_reasons": "申请函未写明具体履职事项，请补正"}
    if form == "amend_application_form":
        return {"decision": "resubmit", "amendment_note": "已补充履职事项说明"}
    if form == "authorisation_decision_form":
        if rng.random() < 0.85:
            record = db.session.scalar(select(Case).where(Case.instance_id == task.instance_id))
            return {"decision": "approve", "scope": "本部门行政审批业务",
                    "valid_from": record.requested_valid_from.isoformat(),
                    "valid_until": record.requested_valid_until.isoformat()}
        return {"decision": "refuse", "reasons": "该用途不在共享条件范围内"}
    if form == "negotiation_form":
        return {"decision": "abandon"} if rng.random() < 0.5 else {
            "decision": "fail", "negotiation_note": "双方对使用范围未达成一致"}
    if form == "agreement_confirmation_form":
        return {"decision": "fail", "negotiation_note": "提供部门不同意扩大使用范围"}
    if form == "supervise_form":
        return {"supervision_opinion": "已电话督促，请在两个工作日内办结"}
    if form in ("three_party_agreement_form", "confidentiality_agreement_form"):
        return {"agreement_no": f"XY-{task.id:06d}", "signed_on": to_local(utcnow()).date().isoformat()}
    return None


def generate(months: int, seed: int, per_day: float = 1.5) -> dict[str, int]:
    """Run `months` of work ending now; returns what was made. Needs time-machine (installed by
    `make setup`; a demo tool, not used by the product itself)."""
    try:
        import time_machine
    except ImportError:  # a production install has no demo tools
        raise RuntimeError("演示历史需要 time-machine（pip install -r requirements-dev.txt）") from None

    if _marked():
        return {"applications": 0, "completed": 0}
    rng = random.Random(seed)
    end = utcnow()
    start = end - timedelta(days=round(months * 30.4))
    applicants = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    applicants = [u for u in applicants if u.has_role(Role.APPLICANT)]
    entries = db.session.scalars(select(CatalogEntry).where(
        CatalogEntry.publish_state == PublishState.PUBLISHED.value, CatalogEntry.share_type == "conditional")
        .order_by(CatalogEntry.id)).all()
    if not applicants or not entries:
        raise RuntimeError("先运行 flask demo seed 并部署流程（flask bpmn deploy）")
    with time_machine.travel(start, tick=False) as traveller:
        history = History(rng, traveller, end)
        day = to_local(start).date()
        while day <= to_local(end).date():
            for tick in (time(0, 0, 30), time(9, 0, 30)):  # timers fire at their own instant
                history.at(datetime.combine(day, tick, tzinfo=LOCAL_TZ), lambda: None)
            if get_calendar().is_working_day(day):
                for _ in range(_poisson(rng, per_day)):
                    applicant = rng.choice(applicants)
                    choices = [e for e in entries if e.provider_department_id != applicant.department_id]
                    when = datetime.combine(day, time(9, 0), tzinfo=LOCAL_TZ) + timedelta(minutes=rng.randint(0, 480))
                    entry = rng.choice(choices)
                    history.at(when, lambda a=applicant, e=entry: history.apply(a, e))
            day += timedelta(days=1)
        history.run()
    with transaction():  # the steps were completed on days the scheduler may have summed meanwhile
        forget(to_local(start).date())
    return {"applications": history.applications, "completed": history.completed}


def _marked() -> bool:
    """Whether a history was generated already (its applications carry the marker)."""
    return db.session.scalar(select(Application.id).where(Application.purpose.contains(MARKER)).limit(1)) is not None


def _poisson(rng: random.Random, mean: float) -> int:
    """Applications on one working day (Knuth's method; means are small)."""
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
