"""Media types (RFC 9110 section 8.3.1) as events carry them in `content_type`.

A content type is echoed as an HTTP header when the content is served, so it is held to
the grammar: ``type/subtype`` tokens and optional ``; name=value`` parameters (token or
quoted string), printable ASCII only, at most `MAX_MEDIA_TYPE_CHARS`. The check is one
pass over the characters; no regular expression.
"""

from __future__ import annotations

MAX_MEDIA_TYPE_CHARS = 200

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# qdtext without HTAB and obs-text: printable ASCII but DQUOTE and backslash.
_QDTEXT = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}
_VCHAR_OR_SP = frozenset(chr(c) for c in range(0x20, 0x7F))


class InvalidMediaTypeError(ValueError):
    """A content type that is not an RFC 9110 media type."""


def _token(value: str, at: int, what: str) -> int:
    """The index after the token starting at `at`; raises if there is none."""
    end = at
    while end < len(value) and value[end] in _TCHAR:
        end += 1
    if end == at:
        raise InvalidMediaTypeError(f"content_type needs a {what} token at character {at}")
    return end


def _spaces(value: str, at: int) -> int:
    while at < len(value) and value[at] == " ":
        at += 1
    return at


def _quoted(value: str, at: int) -> int:
    """The index after the quoted string opening at `at` (a DQUOTE)."""
    at += 1
    while at < len(value):
        char = value[at]
        if char == '"':
            return at + 1
        if char == "\\" and at + 1 < len(value) and value[at + 1] in _VCHAR_OR_SP:
            at += 2
        elif char in _QDTEXT:
            at += 1
        else:
            break
    raise InvalidMediaTypeError("content_type has an unterminated or invalid quoted string")


def _expect(value: str, at: int, char: str) -> int:
    if at >= len(value) or value[at] != char:
        raise InvalidMediaTypeError(f"content_type needs {char!r} at character {at}")
    return at + 1


def parse_media_type(value: str) -> str:
    """Check that value is a media type; return it unchanged.

    Raises:
        InvalidMediaTypeError: Empty, too long, not ASCII, a control character, or not
            ``type/subtype *(OWS ";" OWS [name=value])``.
    """
    if not value or len(value) > MAX_MEDIA_TYPE_CHARS:
        raise InvalidMediaTypeError(f"content_type must be 1..{MAX_MEDIA_TYPE_CHARS} characters")
    if not _VCHAR_OR_SP.issuperset(value):
        raise InvalidMediaTypeError("content_type must be printable ASCII (no control characters)")
    at = _token(value, 0, "type")
    at = _expect(value, at, "/")
    at = _token(value, at, "subtype")
    while at < len(value):
        at = _expect(value, _spaces(value, at), ";")
        at = _spaces(value, at)
        if at == len(value) or value[at] == ";":
            continue  # an empty parameter, which the grammar allows
        at = _expect(value, _token(value, at, "parameter name"), "=")
        at = _quoted(value, at) if value[at : at + 1] == '"' else _token(value, at, "value")
    return value


def is_media_type(value: str) -> bool:
    """Whether value is a media type `parse_media_type` accepts."""
    try:
        parse_media_type(value)
    except InvalidMediaTypeError:
        return False
    return True
