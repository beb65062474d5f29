"""The report site behind `engagement serve`: a real server process, a login, and Chromium."""

from __future__ import annotations

import datetime as dt
import shutil

import httpx
import pytest
from conftest import ROOT, run_cli, screenshot, start_server
from helpers import ingest_docs

from pipelines.api import site


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A real server over the sample lake, with a viewer, a user without the permission, and a revoked one."""
    lake = tmp_path_factory.mktemp("site") / "lake"
    ingest_docs(lake, ROOT / "data" / "sample" / "rocketchat_sessions.json")
    tokens = {}
    for user, extra in (("boss", []), ("intern", ["--permission", "view-other"]), ("gone", [])):
        tokens[user] = run_cli("users", "add", "--lake", str(lake), user, *extra).stdout.splitlines()[-1]
    process, base = start_server(lake)
    yield lake, base, tokens
    process.terminate()
    process.wait(timeout=10)


def login(base: str, user: str, token: str, wanted: str = "/reports/") -> httpx.Response:
    data = {"user_id": user, "token": token, "next": wanted}
    return httpx.post(base + "/reports/login", data=data, follow_redirects=False)


def test_without_a_session_the_site_shows_only_the_login(served):
    lake, base, _ = served
    for path in ("/reports/", "/reports/index.html", "/reports/2023-05-19", "/reports/2023-05-19.html"):
        answer = httpx.get(base + path)
        assert answer.status_code == 303 and answer.headers["location"] == f"/reports/login?next={path}"
    page = httpx.get(base + "/reports/login?next=/reports/2023-05-19")
    assert page.status_code == 200 and 'name="token" type="password"' in page.text
    assert 'value="/reports/2023-05-19"' in page.text and "Chat activity, week ending" not in page.text


def test_a_login_gives_a_strict_httponly_session_that_opens_every_week(served):
    lake, base, tokens = served
    answer = login(base, "boss", tokens["boss"], "/reports/2023-05-19")
    assert answer.status_code == 303 and answer.headers["location"] == "/reports/2023-05-19"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/reports/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS the cookie is Secure (below)
    jar = answer.cookies
    page = httpx.get(base + "/reports/2023-05-19", cookies=jar)
    assert "<h1>Chat activity, week ending 19 May 2023</h1>" in page.text and 'id="logout"' in page.text
    other = httpx.get(base + "/reports/2023-05-12.html", cookies=jar)  # the pages' own relative links
    assert "<h1>Chat activity, week ending 12 May 2023</h1>" in other.text
    any_week = httpx.get(base + "/reports/2021-02-03", cookies=jar)  # any date, not only published weeks
    assert "week ending 3 February 2021" in any_week.text
    # a week the lake holds no day of: said so, with no number and no bar (not a week of zeros)
    assert "No number for this week" in any_week.text and "active users this week" not in any_week.text
    after = httpx.get(base + "/reports/2023-05-27", cookies=jar)
    assert "its last loaded day is 2023-05-19" in after.text and "<rect" not in after.text
    jump = httpx.get(base + "/reports/?date=2023-05-05", cookies=jar)
    assert jump.status_code == 303 and jump.headers["location"] == "/reports/2023-05-05"
    assert httpx.get(base + "/reports/?date=5 May", cookies=jar).status_code == 404
    index = httpx.get(base + "/reports/", cookies=jar)
    assert index.text.count('<a href="2023-05-19.html">') == 1 and "<polyline" in index.text
    out = httpx.post(base + "/reports/logout", cookies=jar)
    assert out.status_code == 303 and 'engagement_session=""' in out.headers["set-cookie"]


def test_wrong_tokens_permissions_and_revocations_get_the_login_again(served):
    lake, base, tokens = served
    wrong = login(base, "boss", "not-the-token")
    assert wrong.status_code == 401 and "That user id and token do not match" in wrong.text
    assert 'value="boss"' in wrong.text and "not-the-token" not in wrong.text  # the id kept, never the token
    hostile = login(base, '"><script>alert(1)</script>', "x")
    assert "<script>alert(1)" not in hostile.text and 'value="&#34;&gt;&lt;script&gt;' in hostile.text
    intern = login(base, "intern", tokens["intern"])
    assert intern.status_code == 403 and "intern may not view the engagement dashboard" in intern.text
    jar = login(base, "gone", tokens["gone"]).cookies
    assert httpx.get(base + "/reports/", cookies=jar).status_code == 200
    run_cli("users", "revoke", "--lake", str(lake), "gone")
    assert httpx.get(base + "/reports/", cookies=jar).status_code == 303  # out at once
    forged = {"engagement_session": site.make_session(b"another key" * 3, "boss")}
    assert httpx.get(base + "/reports/", cookies=forged).status_code == 303
    assert login(base, "boss", tokens["boss"]).status_code == 303  # the right token still works after failures


def test_sessions_expire_and_failures_have_a_budget():
    key = b"k" * 32
    value = site.make_session(key, "boss", "gen1", now=1000.0)
    assert site.session_user(key, value, now=1000.0 + 3600) == "boss"
    assert site.session_of(key, value, now=1000.0)[1:3] == ("boss", "gen1")
    assert site.session_user(key, value, now=1000.0 + site.SESSION_HOURS * 3600 + 1) is None
    assert site.session_user(key, value.replace(".", ".x", 1), now=1000.0) is None
    assert site.session_user(key, "garbage", now=1000.0) is None
    assert site.make_session(key, "boss", "gen1", now=1000.0) != value  # each session its own id
    failures = site.Failures()
    slots = [failures.take("10.0.0.1", "boss") for _ in range(6)]
    assert all(isinstance(s, tuple) for s in slots[:5]) and isinstance(slots[5], float) and slots[5] > 800
    assert isinstance(failures.take("10.0.0.1", "other"), tuple)  # the budget is per user id and client
    assert isinstance(failures.take("10.0.0.2", "boss"), tuple)  # and another client is not slowed
    failures.give_back("10.0.0.1", "boss", slots[0])  # a success gives its slot back
    assert isinstance(failures.take("10.0.0.1", "boss"), tuple)
    for n in range(30):  # 20 failures per client, whatever the user ids
        failures.take("10.0.0.3", f"u{n}")
    assert isinstance(failures.take("10.0.0.3", "fresh"), float)


def test_over_https_the_cookie_is_secure(tmp_path):
    import asyncio

    from pipelines.api.server import create_app

    lake = tmp_path / "lake"
    ingest_docs(lake, ROOT / "data" / "sample" / "rocketchat_sessions.json")
    token = run_cli("users", "add", "--lake", str(lake), "boss").stdout.splitlines()[-1]

    async def post():
        transport = httpx.ASGITransport(app=create_app(lake))
        async with httpx.AsyncClient(transport=transport, base_url="https://reports.example") as client:
            return await client.post("/reports/login", data={"user_id": "boss", "token": token})

    assert "Secure" in asyncio.run(post()).headers["set-cookie"]


def test_public_reports_need_no_login(tmp_path):
    import asyncio

    from pipelines.api.server import create_app

    lake = tmp_path / "lake"
    ingest_docs(lake, ROOT / "data" / "sample" / "rocketchat_sessions.json")

    async def get(path):
        transport = httpx.ASGITransport(app=create_app(lake, public_reports=True))
        async with httpx.AsyncClient(transport=transport, base_url="http://reports.example") as client:
            return await client.get(path)

    page = asyncio.run(get("/reports/2023-05-19"))
    assert page.status_code == 200 and "week ending 19 May 2023" in page.text and 'id="logout"' not in page.text
    # the API still asks for its headers
    assert asyncio.run(get("/api/v1/engagement-dashboard/users/chat-busier/weekly-data")).status_code == 401
    assert "--public-reports" in run_cli("serve", "--help").stdout


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_a_manager_logs_in_browses_and_logs_out_in_chromium(served, tmp_path):
    from playwright.sync_api import sync_playwright

    lake, base, tokens = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 900, "height": 1300})
        page.goto(base + "/reports/2023-05-19")
        assert "/reports/login" in page.url
        # styled like the reports: the product's name, what to enter, where to get a token
        assert page.locator(".product").inner_text().lower() == "chat-engagement"
        assert "engagement users add" in page.locator("#login").inner_text()
        assert page.eval_on_selector("button.primary", "b => getComputedStyle(b).backgroundColor") == "rgb(9, 105, 218)"
        screenshot(page, "site-login")
        page.fill("input[name=user_id]", "boss")
        page.fill("input[name=token]", "wrong")
        page.click("button[type=submit]")
        assert page.locator("#message").inner_text().startswith("That user id and token do not match")
        page.fill("input[name=user_id]", "boss")
        page.fill("input[name=token]", tokens["boss"])
        page.click("#login button[type=submit]")
        assert page.url == base + "/reports/2023-05-19"
        screenshot(page, "site-week")
        bars = page.eval_on_selector_all("g.bar", "gs => gs.map(g => [g.dataset.date, Number(g.dataset.users)])")
        from pipelines.metrics.weekly import weekly_data

        body = weekly_data(lake, dt.date(2023, 5, 19))
        shown = {f"{i['year']}-{i['month']:02d}-{i['day']:02d}": i["users"] for i in body["month"]}
        assert dict(bars) == shown and len(bars) == 8  # the chart's bars are the JSON's days
        page.click("a[rel=prev]")
        assert page.url == base + "/reports/2023-05-12.html"
        page.click("a[rel=next]")
        assert page.url == base + "/reports/2023-05-19.html"
        page.fill("input[name=date]", "2023-05-05")
        page.click("#site-bar button[type=submit]")
        assert page.url == base + "/reports/2023-05-05"
        assert page.locator("h1").inner_text() == "Chat activity, week ending 5 May 2023"
        page.goto(base + "/reports/")
        assert page.locator("h2").last.inner_text() == "Weeks"  # drawn on demand, not "published"
        assert page.locator("#history g.week").count() >= 3 and page.locator("#year g.legend").count() == 3
        screenshot(page, "site-index")
        page.click("#logout")
        assert "/reports/login" in page.url
        page.goto(base + "/reports/2023-05-19")
        assert "/reports/login" in page.url  # the session is gone
        browser.close()


NASTY_PATHS = [
    "/reports/9999-12-31",
    "/reports/0001-01-01.html",
    "/reports/2023-02-30",
    "/reports/%00",
    "/reports/..%2F..%2Fetc%2Fpasswd",
    "/reports/" + "9" * 5000,
    "/reports/2023-05-19/extra",
    "/reports/?date=",
    "/reports/?date=%F0%9F%92%A5",
    "/reports/?date=2023-05-19&date=2023-05-12",
    "/reports/login?next=//evil.example",
    "/reports/login?next=https://evil.example/reports/",
]


def test_hostile_requests_never_get_a_500_nor_leave_the_site(served):
    lake, base, tokens = served
    jar = login(base, "boss", tokens["boss"]).cookies
    for path in NASTY_PATHS:
        for cookies in (jar, {"engagement_session": "x" * 5000}, {"engagement_session": "a.b.c"}):
            answer = httpx.get(base + path, cookies=cookies)
            assert answer.status_code in (200, 303, 404), (path, answer.status_code)
            assert answer.headers.get("location", "/reports/").startswith("/reports/"), path
    forms = [
        b"",
        b"user_id=boss",
        b"token=x",
        b"user_id=%FF%FE&token=%00",
        b"\xff\xfe\x00garbage",
        b"user_id=boss&token=" + tokens["boss"].encode() + b"&next=//evil.example/",
        b"user_id=boss&token=" + tokens["boss"].encode() + b"&next=/reports/../../etc",
        b"user_id=" + b"a" * 100_000 + b"&token=b",
    ]
    for body in forms:
        answer = httpx.post(
            base + "/reports/login", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert answer.status_code in (303, 401, 413), (body[:40], answer.status_code)
        location = answer.headers.get("location", "/reports/")
        assert location.startswith("/reports/") and "//" not in location and ".." not in location, location
        assert login(base, "boss", tokens["boss"]).status_code == 303


def test_logouts_of_two_servers_between_read_and_write_both_stick(tmp_path, monkeypatch):
    """Two servers (two Logouts of one lake, each with its own in-process lock, as two processes have)
    end a session each, both paused between reading the logouts file and writing it: the file lock
    they share makes the second read what the first wrote, so both stay ended, for a third reader too."""
    import threading
    import time

    from pipelines.api import site

    root = tmp_path / "lake"
    root.mkdir()
    real = site.read_text_nofollow

    def slow_read(path):  # the window between reading the file and writing it again, widened
        text = real(path)
        time.sleep(0.3)
        return text

    monkeypatch.setattr(site, "read_text_nofollow", slow_read)
    (root / ".site_logouts").write_text("")
    first, second = site.Logouts(root), site.Logouts(root)
    later = int(time.time()) + 3600
    threads = [
        threading.Thread(target=lambda s=s, sid=sid: s.end(sid, later)) for s, sid in ((first, "a"), (second, "b"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.setattr(site, "read_text_nofollow", real)
    third = site.Logouts(root)
    assert [third.ended_session(sid) for sid in "ab"] == [True, True]
    assert [first.ended_session(sid) for sid in "ab"] == [True, True]
    assert [second.ended_session(sid) for sid in "ab"] == [True, True]


def test_parallel_logouts_through_two_server_processes_all_stick(served):
    """Two real `serve` processes on one lake; in each of three rounds 16 sessions log out at once,
    half through each server: every one is then refused by both (issue 33: 2, 3 and 7 stayed open)."""
    from concurrent.futures import ThreadPoolExecutor

    lake, first, tokens = served
    process, second = start_server(lake)
    try:
        for _ in range(3):
            cookies = [login(first, "boss", tokens["boss"]).cookies["engagement_session"] for _ in range(16)]

            def logout(i: int) -> int:
                base = (first, second)[i % 2]
                return httpx.post(base + "/reports/logout", cookies={"engagement_session": cookies[i]}).status_code

            with ThreadPoolExecutor(16) as pool:
                assert set(pool.map(logout, range(16))) == {303}
            still_open = [
                (base, i)
                for base in (first, second)
                for i, cookie in enumerate(cookies)
                if httpx.get(base + "/reports/2023-05-19", cookies={"engagement_session": cookie}).status_code == 200
            ]
            assert still_open == []
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_warmer_makes_the_index_once_per_new_snapshot(served, monkeypatch):
    """The site's index is made in the background at the start and for each new lake state, before
    anyone asks (a real AnswerCache over the served lake; its key is the one a request uses)."""
    import time

    from pipelines.api.server import AnswerCache

    lake, _, _ = served
    monkeypatch.setattr(site, "WARM_EVERY", 0.05)
    cache = AnswerCache(lake)
    made = []

    def make() -> bytes:
        made.append(cache.version())
        return b"index"

    site.warm(cache, make)
    deadline = time.monotonic() + 30
    while not made and time.monotonic() < deadline:
        time.sleep(0.05)
    key = (cache.version(), "index", (None,))
    assert made == [cache.version()] and cache.cache[key] == b"index"
    time.sleep(0.3)  # several looks at an unchanged state: made once
    assert len(made) == 1
    monkeypatch.setattr(cache, "version", lambda: (1, 2, 3))  # a nightly replaced the state
    while len(made) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert made[-1] == (1, 2, 3) and cache.cache[((1, 2, 3), "index", (None,))] == b"index"
