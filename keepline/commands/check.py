"""`keepline check`: the configuration checked before any server starts, one line per mistake.

Every check reads settings and files only (no network), so it answers in a moment, before
`keepline serve` and `python -m deploy run` start anything. Each mistake is one line that
names the setting (never a token's value), what is wrong and the fix; the exit status is 2
when there is any.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_settings import BaseSettings

if TYPE_CHECKING:
    from api.settings import ApiSettings
    from policies.models import Policy
    from policies.settings import PolicySettings
    from storage.settings import StorageSettings
    from streams.settings import StreamSettings

#: The exit status of a configuration with mistakes (as for a usage error).
EXIT_MISTAKES = 2
_S = TypeVar("_S", bound=BaseSettings)
_TOKEN_EXAMPLE = "s3cret:legal:alice"  # noqa: S105 - the example of the SPEC, not a secret
_CATALOG_PREFIXES = ("sqlite:", "sqlite+aiosqlite:")
_POSTGRES_PREFIXES = ("postgresql:", "postgres:", "postgresql+asyncpg:")


@dataclass(frozen=True, slots=True)
class Mistake:
    """One configuration mistake: where, what is wrong, and how to fix it."""

    where: str
    problem: str
    fix: str

    def line(self) -> str:
        """The mistake as one line of text."""
        return f"{self.where}: {self.problem}; fix: {self.fix}"


@dataclass(frozen=True, slots=True)
class Configuration:
    """The settings of every package, as read from the environment."""

    api: ApiSettings
    storage: StorageSettings
    stream: StreamSettings
    policy: PolicySettings


def check_tokens(
    value: str, *, roles: Sequence[str], reader_roles: frozenset[str] = frozenset()
) -> list[Mistake]:
    """Mistakes in KEEPLINE_API_TOKENS (entries by position: a token is never shown)."""
    mistakes = []
    entries = [e.strip() for e in value.split(",") if e.strip()]
    for number, entry in enumerate(entries, 1):
        where = f"KEEPLINE_API_TOKENS entry {number}"
        parts = entry.split(":")
        if len(parts) != 3 or not all(parts):  # noqa: PLR2004 - token:role:principal
            mistakes.append(
                Mistake(
                    where,
                    f"is not token:role:principal ({len(parts)} part(s))",
                    f"write each entry as token:role:principal, e.g. {_TOKEN_EXAMPLE}; "
                    "separate entries with commas",
                )
            )
        elif parts[1] not in roles and parts[1] not in reader_roles:
            readers = (
                f"or a reader role the policy declares ({', '.join(sorted(reader_roles))})"
                if reader_roles
                else "or declare it under reader_roles in the policy"
            )
            mistakes.append(
                Mistake(
                    where, f"unknown role {parts[1]!r}", f"use one of {', '.join(roles)}, {readers}"
                )
            )
    return mistakes


def check_policy(settings: PolicySettings) -> tuple[Policy | None, list[Mistake]]:
    """The configured policy, or the mistake that stops it from loading."""
    from policies.errors import PolicyFileUnreadableError, PolicyValidationError
    from policies.policy_file import load_default_policy, load_policy

    path = settings.policy_file
    unset = "or unset KEEPLINE_POLICY_FILE to use the example policy shipped with keepline"
    if path is None:
        return load_default_policy(), []
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        return None, [
            Mistake(
                f"KEEPLINE_POLICY_FILE={path}",
                f"the file {problem}",
                f"point KEEPLINE_POLICY_FILE at a policy YAML file (SPEC section 4), {unset}",
            )
        ]
    try:
        return load_policy(path), []
    except PolicyFileUnreadableError as err:
        return None, [
            Mistake(
                f"KEEPLINE_POLICY_FILE={path}",
                f"cannot be read: {err.reason}",
                f"make it a readable UTF-8 file, {unset}",
            )
        ]
    except PolicyValidationError as err:
        where = f"{err.source}:{err.line}" + (f": {err.field}" if err.field else "")
        return None, [Mistake(where, err.message, "correct the policy file (SPEC section 4)")]


def check_s3_endpoint(value: str) -> list[Mistake]:
    """KEEPLINE_S3_ENDPOINT must be http(s)://host:port, nothing more."""
    example = "http://127.0.0.1:9000"
    where = f"KEEPLINE_S3_ENDPOINT={value}"
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return [Mistake(where, "is not http(s)://host:port", f"write it as a URL, e.g. {example}")]
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port == -1 or not parts.hostname:
        return [Mistake(where, "has no valid host:port", f"e.g. {example}")]
    if parts.username or parts.password:
        return [
            Mistake(
                where,
                "carries credentials",
                "take them out; set KEEPLINE_S3_ACCESS_KEY and KEEPLINE_S3_SECRET_KEY",
            )
        ]
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        return [
            Mistake(
                where,
                "has a path or query; the endpoint is the server only",
                f"e.g. {parts.scheme}://{parts.netloc} (the bucket is KEEPLINE_S3_BUCKET)",
            )
        ]
    return []


def check_kafka_bootstrap(value: str) -> list[Mistake]:
    """KEEPLINE_KAFKA_BOOTSTRAP must be host:port[,host:port...]."""
    mistakes = []
    for entry in value.split(","):
        host, _, port = entry.strip().rpartition(":")
        plain = bool(host) and "/" not in host and "@" not in host
        if not plain or not port.isdigit() or not 0 < int(port) < 65536:  # noqa: PLR2004
            mistakes.append(
                Mistake(
                    f"KEEPLINE_KAFKA_BOOTSTRAP={value}",
                    f"{entry.strip()!r} is not host:port",
                    "e.g. 127.0.0.1:9092 (several: comma-separated, no scheme)",
                )
            )
    return mistakes


def check_catalog_url(value: str | None) -> list[Mistake]:
    """KEEPLINE_CATALOG_URL must name SQLite or PostgreSQL (with its driver installed)."""
    if value is None:
        return []
    examples = "sqlite:///var/lib/keepline/keepline.db or postgresql://keepline@db:5432/keepline"
    where = "KEEPLINE_CATALOG_URL"  # the URL may carry a password: never shown
    if value.startswith(_CATALOG_PREFIXES):
        return []
    if value.startswith(_POSTGRES_PREFIXES):
        if importlib.util.find_spec("asyncpg") is None:
            return [
                Mistake(
                    where,
                    "names PostgreSQL, but its driver (asyncpg) is not installed",
                    "pip install 'keepline[postgres]'",
                )
            ]
        return []
    scheme = value.split(":", 1)[0] if ":" in value else "(none)"
    return [
        Mistake(
            where,
            f"is neither sqlite nor postgresql (scheme {scheme!r})",
            f"e.g. {examples}",
        )
    ]


def check_configuration(config: Configuration) -> list[Mistake]:
    """Every mistake in the configuration, in the order a reader meets them."""
    from policies.models import Role

    policy, mistakes = check_policy(config.policy)
    mistakes += check_tokens(
        config.api.api_tokens.get_secret_value(),
        roles=[r.value for r in Role],
        reader_roles=policy.reader_roles if policy is not None else frozenset(),
    )
    if config.storage.object_store == "minio":
        mistakes += check_s3_endpoint(config.storage.s3_endpoint)
    mistakes += check_kafka_bootstrap(config.stream.kafka_bootstrap)
    mistakes += check_catalog_url(config.storage.catalog_url)
    return mistakes


def settings_mistakes(err: ValidationError) -> list[Mistake]:
    """One mistake per setting a settings class refused (never the value given)."""
    found = []
    for error in err.errors(include_input=False):
        name = "KEEPLINE_" + "_".join(str(p) for p in error["loc"]).upper()
        if not error["loc"]:  # a rule over several settings names them in its message
            name = f"{err.title} settings"
        fix = f"see `{err.title}` in the README's settings table"
        found.append(Mistake(name, error["msg"].removeprefix("Value error, "), fix))
    return found


def _settings(cls: type[_S], mistakes: list[Mistake]) -> _S | None:
    try:
        return cls()
    except ValidationError as err:
        mistakes += settings_mistakes(err)
        return None


def read_configuration() -> tuple[Configuration | None, list[Mistake]]:
    """The settings from the environment, or the mistakes that stop them from being read."""
    from api.settings import ApiSettings
    from policies.settings import PolicySettings
    from storage.settings import StorageSettings
    from streams.settings import StreamSettings

    mistakes: list[Mistake] = []
    api = _settings(ApiSettings, mistakes)
    storage = _settings(StorageSettings, mistakes)
    stream = _settings(StreamSettings, mistakes)
    policy = _settings(PolicySettings, mistakes)
    if api is None or storage is None or stream is None or policy is None:
        return None, mistakes
    return Configuration(api, storage, stream, policy), mistakes


def report(mistakes: Sequence[Mistake], out: TextIO) -> None:
    """One line per mistake."""
    for mistake in mistakes:
        out.write(f"keepline check: {mistake.line()}\n")


def exit_on_mistakes(config: Configuration, *, out: TextIO | None = None) -> None:
    """Before a server starts: report the configuration's mistakes and exit 2 if any.

    Raises:
        SystemExit: With status 2 when the configuration has a mistake.
    """
    mistakes = check_configuration(config)
    if mistakes:
        report(mistakes, out or sys.stderr)
        raise SystemExit(EXIT_MISTAKES)


def summary(config: Configuration) -> str:
    """What a correct configuration will run with (no secrets)."""
    source = config.policy.policy_file or Path("(the example policy shipped with keepline)")
    tokens = [e for e in config.api.api_tokens.get_secret_value().split(",") if e.strip()]
    catalog = (config.storage.catalog_url or "sqlite").split(":", 1)[0]
    return (
        f"keepline check: configuration OK: policy {source}, {len(tokens)} API token(s), "
        f"catalog {catalog}, object store {config.storage.object_store}"
        + (f" at {config.storage.s3_endpoint}" if config.storage.object_store == "minio" else "")
        + f", Kafka {config.stream.kafka_bootstrap}\n"
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of `keepline check`."""
    del args
    config, mistakes = read_configuration()
    if config is not None:
        mistakes += check_configuration(config)
    if config is None or mistakes:
        report(mistakes, sys.stderr)
        return EXIT_MISTAKES
    sys.stdout.write(summary(config))
    return 0


def add_parser(sub: Any) -> None:
    """Register `keepline check` on the subcommand parsers."""
    parser = sub.add_parser(
        "check",
        help="check the configuration (tokens, policy, endpoints, catalog) and exit 2 on "
        "any mistake; serve runs it first",
    )
    parser.set_defaults(func=run)
