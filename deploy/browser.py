"""What the browser tests need: Debian's Chromium and axe-core from the npm registry.

Chromium comes from Debian's `chromium` package (with `chromium-driver`), installed with
apt-get when it is missing and this runs as root; Playwright drives that executable, so no
browser build is ever downloaded. axe-core (the accessibility engine) is fetched once with
`npm pack` into the cache; the tests inject its `axe.min.js` into the pages they check.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Final

from deploy.cache import cache_dir, exclusive
from deploy.errors import ProvisionError, ToolMissingError
from deploy.process import child_environment, log_tail, say, stream_lines

CHROMIUM: Final = Path("/usr/bin/chromium")
_APT_PACKAGES: Final = ("chromium", "chromium-driver")
AXE_VERSION: Final = "4.10.3"


def axe_home(cache: Path | None = None) -> Path:
    """Return the cache directory of the pinned axe-core."""
    return (cache or cache_dir()) / f"axe-core-{AXE_VERSION}"


def ensure_chromium(cache: Path | None = None) -> Path:
    """Return Debian's Chromium, installing it with apt-get if missing (as root).

    Raises:
        ToolMissingError: Chromium is missing and cannot be installed from here.
        ProvisionError: apt-get failed; the error shows the end of its log.
    """
    if CHROMIUM.is_file():
        say(f"Chromium: {CHROMIUM}")
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise ToolMissingError(
            "chromium",
            "The browser tests need Debian's Chromium: run "
            "`sudo apt-get install -y chromium chromium-driver`, then make test again.",
        )
    home = cache or cache_dir()
    with exclusive(home / "chromium.lock"):
        if CHROMIUM.is_file():
            return CHROMIUM
        log_path = home / "chromium-apt.log"
        say("installing Debian's chromium and chromium-driver with apt-get (about a minute)")
        started = time.monotonic()
        env = child_environment({"DEBIAN_FRONTEND": "noninteractive"})

        def progress(line: str) -> None:
            if line.startswith(("Get:", "Setting up chromium", "Unpacking chromium")):
                say(f"  apt-get: {line[:100]}")

        with log_path.open("w", encoding="utf-8") as log:
            status = stream_lines([apt, "update", "-q"], env=env, log=log, on_line=progress)
            if status == 0:
                argv = [apt, "install", "-y", "-q", "--no-install-recommends", *_APT_PACKAGES]
                status = stream_lines(argv, env=env, log=log, on_line=progress)
        if status != 0 or not CHROMIUM.is_file():
            raise ProvisionError(
                "installing chromium with apt-get",
                log_path,
                log_tail(log_path),
                "Check that Debian's package mirrors are reachable.",
            )
        say(f"Chromium installed in {time.monotonic() - started:.0f} s")
    return CHROMIUM


def fetch_axe(cache: Path | None = None) -> Path:
    """Return axe.min.js of the pinned axe-core, fetched once with `npm pack`.

    Raises:
        ToolMissingError: npm is not installed.
        ProvisionError: npm pack failed or the package holds no axe.min.js.
    """
    home = axe_home(cache)
    script = home / "axe.min.js"
    with exclusive(home.with_name(f"{home.name}.lock")):
        if script.is_file():
            say(f"axe-core {AXE_VERSION}: cached at {script}")
            return script
        npm = shutil.which("npm")
        if npm is None:
            raise ToolMissingError("npm", "Install Node.js with npm (Debian: apt-get install npm).")
        home.mkdir(parents=True, exist_ok=True)
        log_path = home / "npm.log"
        say(f"fetching axe-core {AXE_VERSION} with npm pack")
        with tempfile.TemporaryDirectory(dir=home) as scratch, log_path.open("w") as log:
            argv = [npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", scratch]
            status = stream_lines(argv, env=child_environment({}), log=log, on_line=lambda _: None)
            packed = sorted(Path(scratch).glob("axe-core-*.tgz"))
            if status != 0 or not packed:
                raise ProvisionError(
                    f"npm pack axe-core@{AXE_VERSION}",
                    log_path,
                    log_tail(log_path),
                    "Check that the npm registry is reachable.",
                )
            with tarfile.open(packed[0]) as archive:
                member = archive.extractfile("package/axe.min.js")
                if member is None:
                    raise ProvisionError(
                        "unpacking axe-core", log_path, "no package/axe.min.js", "Retry."
                    )
                partial = script.with_suffix(".partial")
                partial.write_bytes(member.read())
                partial.rename(script)
        say(f"axe-core {AXE_VERSION}: cached at {script}")
    return script
