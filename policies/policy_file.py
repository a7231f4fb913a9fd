"""The policy file: YAML in, a validated `Policy` out, or an error naming line and field.

The YAML is composed into a node tree (never constructed into Python objects first), so
every node keeps its position in the file and every error can point at the offending line.
Duplicate keys, which a plain YAML load would silently resolve to the last one, are
visible in the node tree and refused.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import NoReturn, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from policies.durations import IsoDuration, parse_duration
from policies.errors import (
    DurationOverflowError,
    InvalidDurationError,
    PolicyFileUnreadableError,
    PolicyValidationError,
)
from policies.models import ArtefactType, LawfulBasis, Policy, Purpose, Role, Rule

__all__ = ["default_policy_path", "load_default_policy", "load_policy", "parse_policy"]

_E = TypeVar("_E", LawfulBasis, ArtefactType)
_DEFAULT_POLICY = "example_policy.yaml"
_PURPOSE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_ROLE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_MAX_RETENTION_YEARS = 1000
# Retention bounds are checked on a fixed date, so validation does not read the clock.
_REFERENCE_AT = datetime(2000, 1, 1, tzinfo=UTC)

_TOP_KEYS = ("reader_roles", "purposes", "rules")
_REQUIRED_TOP_KEYS = ("purposes", "rules")
_API_ROLES = frozenset(role.value for role in Role)
_PURPOSE_KEYS = ("basis", "retention", "roles", "worm", "review")
_REQUIRED_PURPOSE_KEYS = ("basis", "retention", "roles")
_RULE_KEYS = ("match", "purposes")
_MATCH_KEYS = ("type", "attributes")

_TAG = "tag:yaml.org,2002:"
_TAG_NAMES = {
    f"{_TAG}str": "a string",
    f"{_TAG}int": "a number",
    f"{_TAG}float": "a number",
    f"{_TAG}bool": "a boolean",
    f"{_TAG}null": "nothing (null)",
    f"{_TAG}timestamp": "a date",
    f"{_TAG}map": "a mapping",
    f"{_TAG}seq": "a list",
}


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Parse and validate a policy from YAML text (SPEC section 4).

    Args:
        text: The YAML text.
        source: Where the text came from, for error messages (a path, ``PUT /v1/policy``).

    Returns:
        The validated policy, with ``source_text`` set to ``text``.

    Raises:
        PolicyValidationError: The text is not YAML, or does not validate; the error names
            the source, the 1-based line, the field and what is allowed.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, source) from None
    except yaml.reader.ReaderError as exc:
        # Reader errors (control characters) carry a character position, not a mark.
        raise PolicyValidationError(
            source=source,
            line=text.count("\n", 0, exc.position) + 1,
            field="",
            message=f"not valid YAML: control character {_code_point(exc.character)} "
            "is not allowed",
        ) from None
    return _Validator(source).policy(root, text)


def load_policy(path: Path) -> Policy:
    """Read, parse and validate a policy file.

    Args:
        path: The file, UTF-8 YAML.

    Returns:
        The validated policy.

    Raises:
        PolicyFileUnreadableError: The file cannot be read or is not UTF-8.
        PolicyValidationError: The file does not parse or validate.
    """
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise PolicyFileUnreadableError(str(path), exc.strerror or str(exc)) from exc
    except UnicodeDecodeError as exc:
        raise PolicyFileUnreadableError(str(path), "not UTF-8 text") from exc
    return parse_policy(text, source=str(path))


def default_policy_path() -> Path:
    """The path of the policy keepline ships and uses when none is configured."""
    return Path(str(resources.files("policies").joinpath(_DEFAULT_POLICY)))


def load_default_policy() -> Policy:
    """The policy keepline ships, read as a package resource (works from any install)."""
    text = resources.files("policies").joinpath(_DEFAULT_POLICY).read_text(encoding="utf-8")
    return parse_policy(text, source=_DEFAULT_POLICY)


def _syntax_error(exc: yaml.MarkedYAMLError, source: str) -> PolicyValidationError:
    mark = exc.problem_mark or exc.context_mark
    message = f"not valid YAML: {exc.problem or exc.context or 'malformed'}"
    if exc.problem and exc.context and exc.problem.startswith("but "):
        message = f"not valid YAML: {exc.context} {exc.problem}"
    elif exc.problem and exc.context:
        # The context names the construct left open, and where it started.
        context_at = f" started at line {exc.context_mark.line + 1}" if exc.context_mark else ""
        message += f" ({exc.context}{context_at})"
    line = mark.line + 1 if mark is not None else 1
    return PolicyValidationError(source=source, line=line, field="", message=message)


def _code_point(character: int | str) -> str:
    return f"U+{character if isinstance(character, int) else ord(character):04X}"


class _Validator:
    """Walks the composed node tree; every check raises at the first offending node."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node, field: str, message: str) -> NoReturn:
        raise PolicyValidationError(
            source=self.source, line=node.start_mark.line + 1, field=field, message=message
        )

    def policy(self, root: Node | None, text: str) -> Policy:
        if root is None:
            raise PolicyValidationError(
                source=self.source,
                line=1,
                field="",
                message="the policy is empty; it needs purposes and rules",
            )
        entries = self.mapping(root, "", _TOP_KEYS, "the policy must be a mapping")
        # Present parts are checked before absent ones are reported, so an author fixing a
        # half-written file is told about what is written first.
        missing = f"is missing; a policy needs {' and '.join(_REQUIRED_TOP_KEYS)}"
        readers = self.reader_roles(entries["reader_roles"][1]) if "reader_roles" in entries else ()
        if "purposes" not in entries:
            self.fail(root, "purposes", missing)
        purposes = self.purposes(*entries["purposes"], frozenset(readers))
        if "rules" not in entries:
            self.fail(root, "rules", missing)
        rules = self.rules(entries["rules"][1], purposes)
        return Policy(
            purposes=purposes, rules=rules, source_text=text, reader_roles=frozenset(readers)
        )

    def reader_roles(self, node: Node) -> list[str]:
        field = "reader_roles"
        items = self.sequence(node, field, "reader_roles must be a list of role names")
        names = self.unique_strings(items, field)
        for index, (item, role) in enumerate(zip(items, names, strict=True)):
            self.role_name(item, f"{field}[{index}]", role)
            if role in _API_ROLES:
                self.fail(
                    item,
                    f"{field}[{index}]",
                    f"{role!r} is one of keepline's API roles already; list only roles of "
                    "your own here",
                )
        return names

    def role_name(self, node: Node, field: str, role: str) -> None:
        if not _ROLE_NAME.fullmatch(role):
            self.fail(
                node,
                field,
                f"{role!r} is not a role name: lower-case letters, digits, '_' or '-', "
                f"starting with a letter (keepline's roles: {', '.join(Role)})",
            )

    def purposes(self, key: Node, node: Node, readers: frozenset[str]) -> dict[str, Purpose]:
        entries = self.mapping(node, "purposes", None, "must map purpose names to purposes")
        if not entries:
            self.fail(key, "purposes", "must define at least one purpose")
        purposes: dict[str, Purpose] = {}
        for name, (name_node, value) in entries.items():
            field = f"purposes.{name}"
            if not _PURPOSE_NAME.fullmatch(name):
                self.fail(
                    name_node,
                    field,
                    "a purpose name is 1 to 64 letters, digits, '_', '-' or '.', "
                    "starting with a letter or digit",
                )
            purposes[name] = self.purpose(name, name_node, value, field, readers)
        return purposes

    def purpose(
        self, name: str, key: Node, node: Node, field: str, readers: frozenset[str]
    ) -> Purpose:
        entries = self.mapping(node, field, _PURPOSE_KEYS, "must be a mapping")
        for required in _REQUIRED_PURPOSE_KEYS:
            if required not in entries:
                needs = ", ".join(_REQUIRED_PURPOSE_KEYS)
                self.fail(key, f"{field}.{required}", f"is missing; a purpose needs {needs}")
        worm = entries.get("worm")
        review = entries.get("review")
        return Purpose(
            name=name,
            basis=self.choice(entries["basis"][1], f"{field}.basis", LawfulBasis, "basis"),
            retention=self.retention(entries["retention"][1], f"{field}.retention"),
            roles=self.roles(entries["roles"][1], f"{field}.roles", readers),
            worm=False if worm is None else self.boolean(worm[1], f"{field}.worm"),
            review=False if review is None else self.boolean(review[1], f"{field}.review"),
        )

    def retention(self, node: Node, field: str) -> IsoDuration:
        text = self.string(node, field)
        try:
            duration = parse_duration(text)
        except InvalidDurationError as exc:
            self.fail(node, field, f"retention {exc.message}")
        limit_at = _REFERENCE_AT.replace(year=_REFERENCE_AT.year + _MAX_RETENTION_YEARS)
        try:
            end_at = duration.after(_REFERENCE_AT)
        except DurationOverflowError:
            end_at = datetime.max.replace(tzinfo=UTC)
        if not _REFERENCE_AT < end_at <= limit_at:
            self.fail(
                node,
                field,
                f"retention must be longer than zero and at most P{_MAX_RETENTION_YEARS}Y",
            )
        return duration

    def roles(self, node: Node, field: str, readers: frozenset[str]) -> frozenset[str]:
        items = self.sequence(node, field, "roles must be a list of role names, e.g. [qa, legal]")
        if not items:
            self.fail(node, field, "roles must name at least one role, e.g. [qa, legal]")
        names = self.unique_strings(items, field)
        for index, (item, role) in enumerate(zip(items, names, strict=True)):
            self.role_name(item, f"{field}[{index}]", role)
            if role not in _API_ROLES and role not in readers:
                declared = (
                    f"; reader_roles declares {', '.join(sorted(readers))}" if readers else ""
                )
                self.fail(
                    item,
                    f"{field}[{index}]",
                    f"{role!r} is not a role: keepline's roles are {', '.join(Role)}"
                    f"{declared}. Name one of them, or declare it under reader_roles "
                    f"(reader_roles: [{role}])",
                )
        return frozenset(names)

    def rules(self, node: Node, purposes: dict[str, Purpose]) -> tuple[Rule, ...]:
        items = self.sequence(node, "rules", "rules must be a list of rules")
        if not items:
            self.fail(node, "rules", "must list at least one rule; without one nothing is kept")
        return tuple(
            self.rule(item, f"rules[{index}]", purposes) for index, item in enumerate(items)
        )

    def rule(self, node: Node, field: str, purposes: dict[str, Purpose]) -> Rule:
        entries = self.mapping(node, field, _RULE_KEYS, "a rule must be a mapping")
        if "purposes" not in entries:
            self.fail(node, f"{field}.purposes", "is missing; list the purposes it attaches")
        match_type: ArtefactType | None = None
        attributes: dict[str, str] = {}
        if "match" in entries:
            match_node = entries["match"][1]
            match = self.mapping(
                match_node,
                f"{field}.match",
                _MATCH_KEYS,
                "match must be a mapping with type and/or attributes ({} matches every item)",
            )
            if "type" in match:
                match_type = self.choice(
                    match["type"][1], f"{field}.match.type", ArtefactType, "type"
                )
            if "attributes" in match:
                attributes = self.attributes(match["attributes"][1], f"{field}.match.attributes")
        listed_node = entries["purposes"][1]
        listed = self.sequence(listed_node, f"{field}.purposes", "purposes must be a list")
        if not listed:
            self.fail(listed_node, f"{field}.purposes", "must name at least one purpose")
        names = self.unique_strings(listed, f"{field}.purposes")
        for index, (item, name) in enumerate(zip(listed, names, strict=True)):
            if name not in purposes:
                defined = ", ".join(sorted(purposes))
                self.fail(
                    item,
                    f"{field}.purposes[{index}]",
                    f"{name!r} is not defined under purposes (defined: {defined})",
                )
        return Rule(match_type=match_type, match_attributes=attributes, purposes=tuple(names))

    def attributes(self, node: Node, field: str) -> dict[str, str]:
        entries = self.mapping(node, field, None, "attributes must map names to values")
        return {
            key: self.string(value, f"{field}.{key}", quote_hint=True)
            for key, (_, value) in entries.items()
        }

    def mapping(
        self, node: Node, field: str, allowed: tuple[str, ...] | None, message: str
    ) -> dict[str, tuple[Node, Node]]:
        """The entries of a mapping node by key, refusing duplicates and unknown keys."""
        if not isinstance(node, MappingNode):
            self.fail(node, field, f"{message}, not {_describe(node)}")
        entries: dict[str, tuple[Node, Node]] = {}
        prefix = f"{field}." if field else ""
        for key_node, value_node in node.value:
            if key_node.tag == f"{_TAG}merge":
                self.fail(key_node, field, "merge keys (<<) are not supported; write keys out")
            if not isinstance(key_node, ScalarNode) or key_node.tag != f"{_TAG}str":
                self.fail(key_node, field, f"keys must be strings, not {_describe(key_node)}")
            key = key_node.value
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                self.fail(key_node, prefix + key, f"duplicate key {key!r} (first at line {first})")
            if allowed is not None and key not in allowed:
                self.fail(
                    key_node, prefix + key, f"unknown key {key!r}; allowed: {', '.join(allowed)}"
                )
            entries[key] = (key_node, value_node)
        return entries

    def sequence(self, node: Node, field: str, message: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            self.fail(node, field, f"{message}, not {_describe(node)}")
        return list(node.value)

    def string(self, node: Node, field: str, *, quote_hint: bool = False) -> str:
        if isinstance(node, ScalarNode) and node.tag == f"{_TAG}str" and node.value:
            return str(node.value)
        if quote_hint and isinstance(node, ScalarNode) and node.value:
            self.fail(
                node, field, f"must be a string, not {_describe(node)}; quote it: '{node.value}'"
            )
        self.fail(node, field, f"must be a non-empty string, not {_describe(node)}")

    def unique_strings(self, items: list[Node], field: str) -> list[str]:
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            value = self.string(item, f"{field}[{index}]")
            if value in seen:
                self.fail(
                    item,
                    f"{field}[{index}]",
                    f"{value!r} is listed twice (also at [{seen[value]}])",
                )
            seen[value] = index
        return list(seen)

    def boolean(self, node: Node, field: str) -> bool:
        if isinstance(node, ScalarNode) and node.tag == f"{_TAG}bool":
            return bool(yaml.SafeLoader("").construct_object(node))
        self.fail(node, field, f"must be true or false, not {_describe(node)}")

    def choice(self, node: Node, field: str, enum: type[_E], what: str) -> _E:
        value = self.string(node, field)
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            self.fail(node, field, f"{what} must be one of {allowed}, not {value!r}")


def _describe(node: Node) -> str:
    if isinstance(node, ScalarNode) and node.tag == f"{_TAG}str" and not node.value:
        return "an empty string"
    return _TAG_NAMES.get(node.tag, f"a value tagged {node.tag}")
