"""zh-CN by default; English is one click away and sticks for the session."""
from tests import factories as f


def test_pages_switch_to_english(city, client):
    f.login(client, "gaj.applicant")
    assert "资源目录" in client.get("/catalog/").get_data(as_text=True)
    r = client.post("/lang/en", data={"csrf_token": f.csrf_token(client, "/"), "next": "/catalog/"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/catalog/")
    page = client.get("/catalog/").get_data(as_text=True)
    assert 'lang="en"' in page and "Resource catalogue" in page
    assert "Applicant" in client.get("/").get_data(as_text=True)  # role names are translated too


def test_language_switch_refuses_open_redirects(city, client):
    f.login(client, "gaj.applicant")
    r = client.post("/lang/en", data={"csrf_token": f.csrf_token(client, "/"), "next": "//evil.example/"})
    assert r.headers["Location"].endswith("/")
    assert "evil" not in r.headers["Location"]
