"""Every inbox response carries the security headers: a Content-Security-Policy with no inline script and
no framing, nosniff, a referrer policy; and the templates and script give the policy nothing to refuse."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import ROOT
from tests.web_helpers import add_user, login, open_ticket, try_login

TEMPLATES = ROOT / "web" / "templates"
PHONE = "+15035550123"


def _assert_secure_headers(response, what: str) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives.get("script-src") == "'self'", what
    assert directives.get("default-src") == "'self'", what
    assert directives.get("frame-ancestors") == "'none'", what
    assert directives.get("object-src") == "'none'", what
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, what
    assert response.headers.get("X-Content-Type-Options") == "nosniff", what
    assert response.headers.get("Referrer-Policy") == "same-origin", what
    assert response.headers.get("X-Frame-Options") == "DENY", what


def test_every_kind_of_response_has_the_security_headers(app, engine, now):
    billing = open_ticket(engine, PHONE, "billing", now)
    clinical = open_ticket(engine, "+15035550124", "clinical", now)
    add_user(engine, "bea", "billing", now)
    anonymous = app.test_client()
    responses = {
        "login form": anonymous.get("/login"),
        "health": anonymous.get("/healthz"),
        "redirect to login": anonymous.get("/"),
        "API without login": anonymous.get("/api/queue"),
        "static script": anonymous.get("/static/inbox.js"),
        "static style": anonymous.get("/static/style.css"),
        "wrong password": try_login(anonymous, "bea", "wrong"),
    }
    client = app.test_client()
    csrf = login(client, "bea")
    responses.update({
        "queue": client.get("/"),
        "queue API": client.get("/api/queue"),
        "ticket": client.get(f"/tickets/{billing}"),
        "transcript API": client.get(f"/api/tickets/{billing}/transcript"),
        "another queue's ticket (403)": client.get(f"/tickets/{clinical}"),
        "no such page (404)": client.get("/nowhere"),
        "reports": client.get("/reports/"),
        "admin only (403)": client.get("/admin/"),
        "a POST": client.post(f"/tickets/{billing}/note", data={"body": "x", "csrf_token": csrf}),
    })
    assert {what: r.status_code for what, r in responses.items()}["no such page (404)"] == 404
    for what, response in responses.items():
        _assert_secure_headers(response, what)
    for what in ("queue", "queue API", "ticket", "transcript API", "reports", "login form", "a POST"):
        # patient data never stays in a browser's cache on a shared front-desk computer
        assert responses[what].headers.get("Cache-Control") == "no-store", what


def test_a_server_error_page_has_them_too(engine, clock):
    from tests.web_helpers import make_app

    app = make_app(engine, clock)
    app.config["TESTING"] = False  # render the 500 page instead of raising

    @app.get("/_boom")
    def boom():
        raise RuntimeError("boom")

    from web import auth
    auth.PUBLIC_ENDPOINTS.add("boom")
    try:
        response = app.test_client().get("/_boom")
    finally:
        auth.PUBLIC_ENDPOINTS.discard("boom")
    assert response.status_code == 500
    _assert_secure_headers(response, "500")


@pytest.mark.parametrize("template", sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")))
def test_templates_have_no_inline_script_style_or_event_handler(template):
    html = (TEMPLATES / template).read_text()
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S | re.I):
        assert script.strip() == "", f"inline script in {template}"
    assert re.findall(r"<script\b(?![^>]*\bsrc=)[^>]*>", html, re.I) == [], template
    assert not re.search(r"\son[a-z]+\s*=", html, re.I), f"event handler attribute in {template}"
    assert not re.search(r"\sstyle\s*=|<style\b", html, re.I), f"inline style in {template}"
    assert "javascript:" not in html.lower(), template


def test_the_script_builds_no_inline_code_or_style():
    script = Path(ROOT / "web" / "static" / "inbox.js").read_text()
    for forbidden in ("eval(", "new Function", "innerHTML", ".style.", "setAttribute(\"on", "setTimeout(\""):
        assert forbidden not in script, forbidden
