"""Find secret-looking values in a spec, and redact secrets and e-mail addresses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

SECRET_KEY = re.compile(
    r"(^|[._-])(password|passwd|secret|token|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|credentials?|auth)($|[._-])",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}"  # AWS access key ID
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{30,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|sk-[A-Za-z0-9_-]{20,}"  # API secret keys of the 'sk-' form
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face tokens
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab tokens
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+"  # JWT
    r"|[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@)"  # password inside a URL
)
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
REDACTED = "[redacted]"


def find(data: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield (dotted key, reason) for each value that looks like a secret."""
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            if SECRET_KEY.search(str(key)) and isinstance(value, str) and value:
                yield path, "its key names a secret"
            else:
                yield from find(value, f"{path}.")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from find(value, f"{prefix}{index}.")
    elif isinstance(data, str) and SECRET_VALUE.search(data):
        yield prefix.rstrip("."), "its value looks like a token, key or password"


def redact(text: str) -> str:
    """Return text with secret-looking values and e-mail addresses replaced."""
    return EMAIL.sub(REDACTED, SECRET_VALUE.sub(REDACTED, text))
