"""The real stack for the browser tests: Kafka, MinIO, Dex, `keepline serve`, Chromium.

Dex and Chromium start once per session; one keepline, signed in to through Dex, serves
every journey of this folder, with the data they need published through Kafka first.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    sync_playwright,
)

from deploy.browser import ensure_chromium, fetch_axe
from deploy.dex import CONSOLE_CLIENT_ID, DexProcess
from deploy.kafka import KafkaProcess
from deploy.minio import MinioProcess
from tests.integration.browser.console_support import Seeded, seed_events, sign_in, wav_tone
from tests.integration.fixtures_keepline import ContentServer
from tests.integration.keepline_service import KeeplineService, wait_for


@pytest.fixture(scope="session")
def dex(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DexProcess]:
    """Dex on a free loopback port with one static user per role and the console client."""
    # Any origin may call the token endpoint: keepline's port is chosen per service, and
    # everything here listens on loopback only.
    server = DexProcess(tmp_path_factory.mktemp("dex"), allowed_origins=["*"])
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's axe.min.js, fetched by provisioning."""
    return fetch_axe().read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def console_stack(
    kafka: KafkaProcess,
    minio: MinioProcess,
    dex: DexProcess,
    content_server: ContentServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[KeeplineService, Seeded]]:
    """`keepline serve` signing users in through Dex, with the journeys' data stored."""
    recording = wav_tone()
    service = KeeplineService(
        bootstrap=kafka.bootstrap,
        s3_endpoint=minio.url,
        s3_access_key=minio.access_key,
        s3_secret_key=minio.secret_key,
        workdir=tmp_path_factory.mktemp("keepline-console"),
        env={
            "KEEPLINE_CONTENT_SOURCES": content_server.base_url,
            "KEEPLINE_OIDC_ISSUER": dex.issuer,
            "KEEPLINE_OIDC_CLIENT_ID": CONSOLE_CLIENT_ID,
            "KEEPLINE_OIDC_ROLE_CLAIM": "groups",
            "KEEPLINE_OIDC_PRINCIPAL_CLAIM": "preferred_username",
        },
    )
    service.start()
    seeded = seed_events(content_server(recording), recording)

    def publish() -> None:
        for kind, event in seeded.events:
            service.publish(kind, event, key=event["event_id"].encode())

    # On a thread of its own: Playwright's sync driver may already own this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(publish).result()
    with service.client("legal") as legal:
        wait_for(
            lambda: (
                len(legal.get("/v1/items", params={"limit": 50}).json()["items"])
                >= len(seeded.events)
            ),
            timeout_s=90,
            what="the console's items stored",
        )
    yield service, seeded
    service.stop()


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright's driver (its own browsers are never installed).

    Module-scoped on purpose: while the sync API is open it runs an event loop on the main
    thread, and every later test that runs asyncio (most of the suite) would find it there.
    """
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium."""
    browser = playwright_driver.chromium.launch(
        executable_path=str(ensure_chromium()),
        headless=True,
        # Root in a container has no user namespace for Chromium's sandbox; media plays
        # without a click, as a person's click on "play" would allow.
        args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
    )
    yield browser
    browser.close()


class SignedIn:
    """`signed_in(role) -> Page`: a fresh browser context signed in through Dex."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self._browser = browser
        self.base_url = base_url
        self.csp_violations: list[str] = []
        self._contexts: list[BrowserContext] = []

    def __call__(self, role: str) -> Page:
        context = self._browser.new_context(
            base_url=self.base_url, viewport={"width": 1366, "height": 860}, accept_downloads=True
        )
        self._contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)

        def watch(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text or "Refused to" in message.text:
                self.csp_violations.append(message.text)

        page.on("console", watch)
        sign_in(page, self.base_url, role)
        return page

    def close(self) -> None:
        for context in self._contexts:
            context.close()


@pytest.fixture
def signed_in(
    console_stack: tuple[KeeplineService, Seeded], chromium: Browser
) -> Iterator[SignedIn]:
    """Sign in to the console through Dex in a new browser context per call."""
    service, _ = console_stack
    factory = SignedIn(chromium, service.url)
    yield factory
    factory.close()
    assert factory.csp_violations == [], "the console broke its own Content-Security-Policy"


@pytest.fixture
def seeded(console_stack: tuple[KeeplineService, Seeded]) -> Seeded:
    """What the console's journeys find."""
    return console_stack[1]


@pytest.fixture
def keepline(console_stack: tuple[KeeplineService, Seeded]) -> KeeplineService:
    """The keepline the console talks to (its static tokens still work for checks)."""
    return console_stack[0]
