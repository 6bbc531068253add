"""The /calendar page."""
from __future__ import annotations

import time_machine

from tests import factories as f


def test_requires_login(client):
    assert client.get("/calendar/2026").status_code in (302, 401)


def test_year_grid_with_holidays_and_makeup_days(city, client):
    f.login(client, "gaj.applicant")
    assert client.get("/calendar").status_code == 302
    page = client.get("/calendar/2026").get_data(as_text=True)
    assert "2026年工作日历" in page and "调休上班" in page
    assert 'title="2026-10-10 调休上班（国庆节）"' in page
    assert "国庆节" in page and "临时日历" not in page
    assert "2027年节假日安排尚未加载" not in page  # alerts are for administrators
    assert "calendar.css" in page


def test_provisional_year_is_flagged_and_admin_alerted(city, client):
    f.login(client, "dsj.admin")
    page = client.get("/calendar/2027").get_data(as_text=True)
    assert "临时日历" in page
    assert client.get("/calendar/1999").status_code == 404


def test_administrators_see_the_missing_notice_alert_on_every_page(city, client):
    with time_machine.travel("2026-11-23 09:00 +0800", tick=False):
        f.login(client, "dsj.admin")
        assert "2027年节假日安排尚未加载" in client.get("/catalog/").get_data(as_text=True)
        client.post("/sign-out", data={"csrf_token": f.csrf_token(client, "/")})
        f.login(client, "gaj.applicant")
        assert "2027年节假日安排尚未加载" not in client.get("/catalog/").get_data(as_text=True)
