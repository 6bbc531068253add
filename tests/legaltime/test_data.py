"""Calendar data files: the shipped ones are valid; bad ones are refused with clear messages."""
from __future__ import annotations

from datetime import date

import pytest
import yaml

from app.legaltime.data import CalendarDataError, load_directory, load_year_file, parse_year
from app.legaltime.service import REPO_CALENDAR_DIR

GOOD = {
    "year": 2030,
    "notices": {"n": {"title": "国务院办公厅关于2030年部分节假日安排的通知", "number": None,
                      "date": date(2029, 11, 1)}},
    "holidays": [
        {"festival": "new_year", "name": "元旦", "start": date(2030, 1, 1), "end": date(2030, 1, 1), "notice": "n"},
        {"festival": "labour_day", "name": "劳动节", "start": date(2030, 5, 1), "end": date(2030, 5, 5),
         "notice": "n"},
    ],
    "makeup_workdays": [{"date": date(2030, 4, 28), "festival": "labour_day", "name": "劳动节", "notice": "n"}],
}


def doc(**changes):
    data = yaml.safe_load(yaml.safe_dump(GOOD, allow_unicode=True))
    for key, value in changes.items():
        data[key] = value
    return data


def test_shipped_years_are_valid_and_cover_2018_to_2026():
    years = load_directory(REPO_CALENDAR_DIR)
    assert sorted(years) == list(range(2018, 2027))
    for data in years.values():
        assert data.notices and all(n.title.startswith("国务院办公厅") for n in data.notices.values())


def test_the_known_traps_are_in_the_data():
    years = load_directory(REPO_CALENDAR_DIR)
    # 2019 notice: its New Year's range and make-up day are filed under 2018.
    ny = [h for h in years[2018].holidays if h.start == date(2018, 12, 30)][0]
    assert ny.notice.number == "国办发明电〔2018〕15号" and ny.end == date(2018, 12, 31)
    assert [m.notice.key for m in years[2018].makeup_workdays if m.day == date(2018, 12, 29)] == ["notice-2019"]
    # 2019 Labour Day amendment: 1–4 May, make-up 28 April and 5 May.
    labour = [h for h in years[2019].holidays if h.festival == "labour_day"][0]
    assert (labour.start, labour.end, labour.notice.number) == (date(2019, 5, 1), date(2019, 5, 4),
                                                                "国办发明电〔2019〕2号")
    # 2020 Spring Festival extension to 2 Feb; the 1 Feb make-up day was cancelled.
    ext = [h for h in years[2020].holidays if h.festival == "spring_festival_extension"][0]
    assert ext.end == date(2020, 2, 2) and ext.notice.number == "国办发明电〔2020〕1号"
    assert date(2020, 2, 1) not in {m.day for m in years[2020].makeup_workdays}
    # 2026 notice: number not verified -> null, never invented.
    assert years[2026].notices["notice-2026"].number is None
    assert years[2026].notices["notice-2026"].issued == date(2025, 11, 4)


def test_good_document_parses():
    data = parse_year(doc(), "2030.yaml", 2030)
    assert data.year == 2030 and len(data.holidays) == 2 and data.makeup_workdays[0].day == date(2030, 4, 28)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"makeup_workdays": [{"date": "2030-04-29", "festival": "labour_day", "name": "劳动节", "notice": "n"}]},
     "makeup_workdays[0].date", "must be a Saturday or Sunday"),
    ({"holidays": [*GOOD["holidays"], {"festival": "qingming", "name": "清明节", "start": "2030-05-04",
                                       "end": "2030-05-06", "notice": "n"}]},
     "holidays", "ranges overlap"),
    ({"holidays": [{"festival": "new_year", "name": "元旦", "start": "2029-12-31", "end": "2030-01-01",
                    "notice": "n"}]},
     "holidays[0].start", "belongs to 2029.yaml"),
    ({"makeup_workdays": [{"date": "2029-12-29", "festival": "new_year", "name": "元旦", "notice": "n"}]},
     "makeup_workdays[0].date", "belongs to 2029.yaml"),
    ({"holidays": [{"festival": "new_year", "start": "2030-01-01", "end": "2030-01-01", "notice": "n"}]},
     "holidays[0].name", "required field is missing"),
    ({"notices": {"n": {"title": "t", "date": "2029-11-01"}}}, "notices.n.number", "write null"),
    ({"holidays": [{"festival": "new_year", "name": "元旦", "start": "2030-01-01", "end": "2030-01-01",
                    "notice": "other"}]},
     "holidays[0].notice", "not listed under notices"),
    ({"holidays": [{"festival": "new_year", "name": "元旦", "start": "2030-01-03", "end": "2030-01-01",
                    "notice": "n"}]},
     "holidays[0].end", "ends before it starts"),
    ({"makeup_workdays": None}, "makeup_workdays", "required list is missing"),
    ({"year": "2030"}, "year", "required 4-digit year"),
    ({"holidays": [{"festival": "New Year", "name": "元旦", "start": "2030-01-01", "end": "2030-01-01",
                    "notice": "n"}]},
     "holidays[0].festival", "lower_snake_case"),
])
def test_bad_documents_are_refused_with_file_field_and_date(changes, field, message):
    with pytest.raises(CalendarDataError) as caught:
        parse_year(doc(**changes), "calendars/2030.yaml", 2030)
    text = str(caught.value)
    assert text.startswith("calendars/2030.yaml: ") and field in text and message in text


def test_error_names_the_date():
    bad = doc(makeup_workdays=[{"date": "2030-04-29", "festival": "labour_day", "name": "劳动节", "notice": "n"}])
    with pytest.raises(CalendarDataError, match=r"\(2030-04-29\)"):
        parse_year(bad, "2030.yaml", 2030)


def test_file_name_and_year_must_agree(tmp_path):
    path = tmp_path / "2031.yaml"
    path.write_text(yaml.safe_dump(GOOD, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CalendarDataError, match="file is named for 2031 but says 2030"):
        load_year_file(path)


def test_unreadable_yaml(tmp_path):
    path = tmp_path / "2030.yaml"
    path.write_text("year: [unclosed", encoding="utf-8")
    with pytest.raises(CalendarDataError, match="not valid YAML"):
        load_year_file(path)
