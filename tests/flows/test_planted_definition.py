"""A flow version planted in the database behind deploy's back is refused over HTTP, not run."""
from __future__ import annotations

import hashlib
from html import escape

from sqlalchemy import func, insert, select

from app.engine.definitions import _SPEC_CACHE
from app.engine.models import ProcessDefinition, ProcessInstance
from app.extensions import db
from app.flows.models import Application
from tests.engine.test_expressions import FRAME_WALK
from tests.factories import commit
from tests.flows.conftest import BPMN_FILE


def test_applying_on_a_planted_script_answers_503_and_runs_nothing(flow, entries, city, clock, tmp_path):
    target = tmp_path / "pwned.txt"
    script = escape(FRAME_WALK.format(target=target))
    xml = BPMN_FILE.read_text().replace(
        '<bpmn:startEvent id="start" name="提交共享申请">',
        '<bpmn:startEvent id="start" name="提交共享申请"><bpmn:extensionElements>'
        f'<spiffworkflow:preScript>{script}</spiffworkflow:preScript></bpmn:extensionElements>', 1)
    db.session.execute(insert(ProcessDefinition).values(
        process_id="conditional_share", name="planted", version=2, bpmn_xml=xml,
        content_hash=hashlib.sha256(xml.encode()).hexdigest(), file_name="conditional_share.bpmn"))
    commit()
    _SPEC_CACHE.clear()

    response = flow.submit(city.health_applicant, entries.conditional)

    assert response.status_code == 503, response.json
    assert "未通过安全检查" in response.json["message"]
    assert not target.exists()
    assert db.session.scalar(select(func.count()).select_from(ProcessInstance)) == 0
    assert db.session.scalar(select(func.count()).select_from(Application)) == 0
