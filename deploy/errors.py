"""Errors of the local stack: each carries what the user needs to fix the problem."""

from __future__ import annotations

from pathlib import Path


class DeployError(Exception):
    """Root of every error the local stack raises."""


class ToolMissingError(DeployError):
    """A command-line tool the stack needs is not on PATH."""

    def __init__(self, tool: str, hint: str) -> None:
        self.tool = tool
        self.hint = hint
        super().__init__(f"`{tool}` was not found on PATH. {hint}")


class ProvisionError(DeployError):
    """Fetching or building a server failed."""

    def __init__(self, what: str, log_path: Path, log_tail: str, hint: str) -> None:
        self.what = what
        self.log_path = log_path
        self.log_tail = log_tail
        self.hint = hint
        super().__init__(
            f"{what} failed. Last lines of {log_path}:\n{log_tail}\n{hint}",
        )


class PortInUseError(DeployError):
    """A port the stack wants to listen on is already taken."""

    def __init__(self, service: str, port: int, hint: str = "") -> None:
        self.service = service
        self.port = port
        super().__init__(
            f"port 127.0.0.1:{port} for {service} is already in use. Stop whatever listens "
            f"there (`ss -ltnp 'sport = :{port}'` shows it)"
            + (f", or {hint}" if hint else "")
            + ".",
        )


class ServerStartError(DeployError):
    """A server exited or did not become ready before its deadline."""

    def __init__(self, service: str, reason: str, log_path: Path, log_tail: str) -> None:
        self.service = service
        self.reason = reason
        self.log_path = log_path
        self.log_tail = log_tail
        super().__init__(
            f"{service} {reason}. Last lines of {log_path}:\n{log_tail}\n"
            f"Read the whole log for the cause; a stale data directory or a busy port are "
            f"the usual ones (delete the data directory or pick another port and retry).",
        )


class CommandError(DeployError):
    """The service command could not be started."""

    def __init__(self, argv: list[str], reason: str) -> None:
        self.argv = argv
        self.reason = reason
        super().__init__(
            f"cannot start `{' '.join(argv)}`: {reason}. Install keepline into this venv "
            f"(`make setup`), or give another command after `--`.",
        )
