"""The chat UI in a real browser (Debian's Chromium via Playwright), over a real small index.

One server per module on a copy of the 24-paper index (the upload test adds papers to it).
Screenshots go to test-artifacts/ for a human look.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ARTIFACTS, free_port, make_settings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),  # inside gradio's queue
]

CHROMIUM = Path("/usr/bin/chromium")


@contextlib.contextmanager
def served(settings, **launch_args) -> Iterator[str]:
    """The app for `settings` on a free loopback port; yields its base URL and closes it afterwards."""
    from ui.app import launch

    port = free_port()
    demo = launch(settings, "127.0.0.1", port, block=False, quiet=True, **launch_args)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUESTION = "Which papers speed up linear attention?"
FOLLOW_UP = "and which of those scales to 175 billion parameters?"
ANSWER_TIMEOUT = 90_000  # ms; the first answer loads the embedding model in the server


@pytest.fixture(scope="module")
def ui_url(small_index, tmp_path_factory) -> Iterator[str]:
    """The app on a free loopback port, serving a private copy of the small index."""
    data = tmp_path_factory.mktemp("ui-index") / "data"
    shutil.copytree(small_index.data_dir, data)
    with served(make_settings(data)) as url:
        yield url


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    if not CHROMIUM.exists():
        message = "no /usr/bin/chromium: run scripts/setup.sh (installs Debian's chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a missing browser is a broken set-up, not a reason to skip
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        context.set_default_timeout(30_000)
        yield context
        context.close()


@pytest.fixture
def page(browser_context, ui_url):
    page = browser_context.new_page()
    page.goto(ui_url)
    page.wait_for_selector("#rag-question textarea")
    yield page
    page.close()


def ask(page, question: str) -> None:
    page.fill("#rag-question textarea", question)
    page.keyboard.press("Enter")


def test_chat_cites_sources_and_answers_a_follow_up(page):
    from playwright.sync_api import expect

    ask(page, QUESTION)
    card = page.locator("#cite-0-1")
    expect(card).to_be_visible(timeout=ANSWER_TIMEOUT)
    chat = page.locator("#rag-chat")
    expect(chat.locator("a.rag-cite", has_text="[1]").first).to_be_visible()
    expect(chat).to_contain_text("checked against the cited abstracts")
    assert card.locator("mark").count() >= 1, "the supporting sentence should be highlighted"
    assert card.locator(".rag-meta").inner_text().strip(), "date and source file should be shown"
    assert page.input_value("#rag-question textarea") == "", "the box is cleared after sending"

    chat.locator("a.rag-cite", has_text="[1]").first.click()
    expect(card).to_be_in_viewport()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-chat.png"))

    ask(page, FOLLOW_UP)
    expect(page.locator("#cite-1-1")).to_be_attached(timeout=ANSWER_TIMEOUT)
    expect(chat).to_contain_text("Follow-up: searched together with")
    expect(page.locator("#rag-sources details.rag-older")).to_have_count(1)
    assert chat.locator("a.rag-cite[href^='#cite-1-']").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "ui-follow-up.png"), full_page=True)


def test_tokens_stream_in_before_the_verified_answer(page, monkeypatch):
    """Generated answers arrive token by token; the UI shows them, then the verified version."""
    import time

    import rag

    real = rag.ask_stream

    def slow_stream(question, **kwargs):
        *_, final = real(question, **kwargs)
        for word in final.text.split(" "):
            time.sleep(0.05)
            yield word + " "
        yield final

    monkeypatch.setattr(rag, "ask_stream", slow_stream)
    from playwright.sync_api import expect

    ask(page, QUESTION)
    chat = page.locator("#rag-chat")
    expect(chat).to_contain_text("citations are checked once the answer is complete", timeout=ANSWER_TIMEOUT)
    expect(chat).to_contain_text("checked against the cited abstracts", timeout=ANSWER_TIMEOUT)
    expect(chat).not_to_contain_text("citations are checked once")


def test_bad_date_filter_is_a_one_line_message(page):
    from playwright.sync_api import expect

    page.click("#rag-settings")
    page.fill("#rag-from textarea, #rag-from input", "2024-13-01")
    ask(page, "linear attention")
    error = page.locator("#rag-chat .rag-error")
    expect(error).to_contain_text("is not a date: use YYYY-MM-DD")
    assert "Traceback" not in page.locator("#rag-chat").inner_text()


def test_corpus_upload_adds_two_papers(page, tmp_path):
    from playwright.sync_api import expect

    from rag.corpus.loader import BUNDLED_DIR, load_corpus

    papers, _, _, _ = load_corpus([BUNDLED_DIR])
    upload = tmp_path / "two_new_papers.jsonl"
    rows = [{"title": p.title, "abstract": p.abstract, "date": p.date} for p in papers[30:32]]
    upload.write_text("".join(json.dumps(row) + "\n" for row in rows))
    page.get_by_role("tab", name="Corpus").click()
    count = page.locator("#rag-paper-count")
    expect(count).to_contain_text("papers")
    before = int(count.inner_text().split()[0])

    page.set_input_files("#rag-upload input[type=file]", str(upload))
    # the download link appears once the upload reached the server
    expect(page.locator("#rag-upload a[href$='two_new_papers.jsonl']")).to_be_attached()
    page.click("#rag-ingest")
    expect(page.locator("#rag-report")).to_contain_text("2 added", timeout=ANSWER_TIMEOUT)
    expect(count).to_contain_text(f"{before + 2} papers")
    expect(page.locator("#rag-stats")).to_contain_text("two_new_papers.jsonl")
    page.screenshot(path=str(ARTIFACTS / "ui-corpus.png"), full_page=True)


# -- corpus text cannot steer the page (issue 10, item 2) ------------------------------------------


@pytest.fixture(scope="module")
def tracker():
    """A local HTTP server standing in for a tracking pixel / phishing host; counts what it receives."""
    import http.server
    import threading

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def hostile_ui_url(small_index, tracker, tmp_path_factory) -> Iterator[str]:
    """The app over the small index plus three papers whose titles and abstracts carry live-looking markup."""
    from rag import ingest

    track, _ = tracker
    rows = [
        {
            "title": f"Quantum sparrow routing [click me]({track}/title-link) ![pixel]({track}/title.png)",
            "abstract": (
                "Quantum sparrow routing cuts the latency of sparrow networks by 40 percent. The quantum sparrow "
                f"code is at [this link]({track}/abstract-link) and ![chart]({track}/abstract.png) shows it. "
                f"<img src={track}/raw.png onerror=\"document.title='pwned'\"> quantum sparrow routing "
                f"<script>document.title='pwned'</script> works as {track}/bare and www.example.org describe [9]."
            ),
        },
        {
            "title": "<img src=x onerror=\"document.title='pwned'\"> Sparrow quantum caching <script>alert(1)</script>",
            "abstract": (
                f"Quantum sparrow caching gives 3.5x faster sparrow routing [1][2]. As [1]({track}/fake-cite) "
                "reports, the quantum sparrow cache stores routing tables. Contact sparrow@example.org."
            ),
        },
        {
            "title": "Sparrow routing tables in $$\\href{http://127.0.0.1:9/x}{x}$$ form",
            "abstract": "Quantum sparrow routing tables are compressed 12-fold with **bold** _claims_ and `code`.",
        },
    ]
    base = tmp_path_factory.mktemp("hostile-ui")
    data = base / "data"
    shutil.copytree(small_index.data_dir, data)
    corpus = base / "hostile.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = make_settings(data)
    assert ingest([corpus], settings=settings).added == 3
    with served(settings) as url:
        yield url


def test_corpus_markup_stays_text_in_the_browser(browser_context, hostile_ui_url, tracker):
    from playwright.sync_api import expect

    track, hits = tracker
    page = browser_context.new_page()
    try:
        page.goto(hostile_ui_url)
        page.wait_for_selector("#rag-question textarea")
        # the answer quotes the title with a markdown link and image, and the sentence with another link
        ask(page, "Where is the quantum sparrow code and what does the chart show?")
        expect(page.locator("#cite-0-1")).to_be_visible(timeout=ANSWER_TIMEOUT)
        chat, sources = page.locator("#rag-chat"), page.locator("#rag-sources")
        expect(chat).to_contain_text("checked against the cited abstracts")
        for fold in chat.get_by_text("Verifier removed").all():  # open the removed-sentences list, if any
            fold.click()
        page.wait_for_timeout(1000)  # give any image a chance to load

        links = page.eval_on_selector_all(
            "#rag-chat a, #rag-sources a", "els => els.map(e => [e.className, e.getAttribute('href')])"
        )
        assert links, "the answer's own citation links are there"
        for cls, href in links:
            assert cls == "rag-cite" and href.startswith("#cite-0-") and href[8:].isdigit(), (cls, href)
        assert "#cite-0-9" not in [href for _, href in links], "a forged [9] is not a link"
        assert page.locator("#rag-chat img, #rag-sources img").count() == 0
        assert page.locator("#rag-chat script, #rag-sources script, #rag-chat .katex").count() == 0
        # formatting from the corpus stays text too: only the paper titles opening paragraphs are bold
        formatted = page.eval_on_selector_all(
            "#rag-chat strong, #rag-chat em, #rag-chat code, #rag-chat h1", "els => els.map(e => e.textContent)"
        )
        assert not {"bold", "claims", "code"} & set(formatted), formatted
        assert page.locator(f"[src*='{track[7:]}'], [href*='{track[7:]}']").count() == 0
        assert page.title() != "pwned"
        # shown as written, in the answer and on the cards
        title = f"Quantum sparrow routing [click me]({track}/title-link) ![pixel]({track}/title.png)"
        expect(chat).to_contain_text(title)
        expect(chat).to_contain_text(f"[this link]({track}/abstract-link)")
        expect(sources).to_contain_text(title)
        expect(sources).to_contain_text("<script>alert(1)</script>")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "ui-hostile-corpus.png"), full_page=True)
    finally:
        page.close()
    assert hits == [], f"the page fetched {hits} from a URL in the corpus"


def test_login_is_enforced_when_configured(small_index, tmp_path):
    """With a login (required off loopback), nothing but the login page is served without it."""
    import urllib.error
    import urllib.request

    settings = make_settings(tmp_path / "data", ui={"username": "ana", "password": "pw-secret-9"})
    with served(settings, auth=("ana", "pw-secret-9")) as url:
        base = url.rstrip("/")
        for path in ("/config", "/gradio_api/info"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + path, timeout=10)
            assert err.value.code in (401, 403), path
        page = urllib.request.urlopen(base + "/", timeout=10).read().decode()
        assert "pw-secret-9" not in page
        login = urllib.request.Request(base + "/login", data=b"username=ana&password=pw-secret-9", method="POST")
        with urllib.request.urlopen(login, timeout=10) as r:
            assert r.status == 200
