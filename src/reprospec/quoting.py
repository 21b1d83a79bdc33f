"""Quote values for each target a spec value can reach."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

import yaml

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def comment(text: str) -> str:
    """Return text safe inside a one-line comment: control characters escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


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
