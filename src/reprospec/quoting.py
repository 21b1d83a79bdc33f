"""Quote values for each target a spec value can reach."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import yaml

_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")


def comment(text: str) -> str:
    """Return text safe inside a one-line comment: all but printable ASCII escaped.

    Parsers end a line at more than ASCII newlines (YAML at U+0085 and U+2028),
    so anything outside printable ASCII is written as an escape.
    """
    return _NOT_PRINTABLE_ASCII.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shell(text: str) -> str:
    """Return text as one POSIX shell word."""
    return shlex.quote(text)


def shell_line(words: list[str]) -> str:
    """Return words as a POSIX shell command line safe in a one-line comment."""
    return comment(" ".join(shlex.quote(w) for w in words))


def yaml_scalar(value: Any) -> str:
    """Return value as a one-line YAML flow scalar (JSON is valid YAML)."""
    return json.dumps(value, ensure_ascii=True)


def workflow_scalar(text: str) -> str:
    """Return text as a YAML scalar that GitHub Actions will not evaluate."""
    inert = text.replace("${{", "${{ '${{' }}")
    return json.dumps(inert, ensure_ascii=True)


def docker_json(text: str) -> str:
    """Return text as a JSON string, the form Dockerfile LABEL and ARG accept."""
    return json.dumps(text, ensure_ascii=True).replace("$", "\\$")


def dump_yaml(data: Any) -> str:
    """Return data as block YAML with stable key order and plain ASCII."""
    return yaml.safe_dump(
        data, sort_keys=False, default_flow_style=False, allow_unicode=False, width=88
    )
