"""Secrets are refused in specs and redacted from logs and MLflow values."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import cli
from reprospec import secrets
from reprospec.tracking import VALUE_LIMIT, sanitize_params

TOKENS = [
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "a1B2" * 9,
    "xoxb-123456789012-abcdefghijkl",
    "sk-" + "Z" * 32,
    "-----BEGIN RSA PRIVATE KEY-----",
    "postgresql://alice:s3cret@127.0.0.1/db",
]


@pytest.mark.parametrize("token", TOKENS)
def test_secret_values_are_found_and_redacted(token: str) -> None:
    assert list(secrets.find({"data": {"note": token}})) == [
        ("data.note", "its value looks like a token, key or password")
    ]
    assert token not in secrets.redact(f"connecting with {token} now")


@pytest.mark.parametrize("key", ["password", "api_key", "db_token", "aws-secret"])
def test_secret_key_names_are_found(key: str) -> None:
    assert [k for k, _ in secrets.find({"optim": {key: "x"}})] == [f"optim.{key}"]


def test_ordinary_values_pass() -> None:
    data = {"optim": {"lr": 0.1, "name": "adam", "tokenizer": "bpe", "keys": [1]}}
    assert list(secrets.find(data)) == []


def test_email_addresses_are_redacted() -> None:
    assert secrets.redact("owner: ada@example.org") == "owner: [redacted]"


def test_secret_in_override_exits_2_without_echoing_it(project: Path) -> None:
    token = "ghp_" + "Q" * 36
    done = cli(project, "build", "specs/digits_mlp.yaml", f"+data.token={token}")
    assert done.returncode == 2
    assert "data.token: its key names a secret" in done.stderr
    assert token not in done.stderr + done.stdout


def test_params_are_sanitised_deterministically_with_collisions_kept_apart() -> None:
    raw = {"a.b": "1", "a:b": "2", "a_b": "3", "long": "v" * (VALUE_LIMIT + 1)}
    logged, mapping = sanitize_params(raw)
    assert sanitize_params(dict(reversed(raw.items()))) == (logged, mapping)
    assert mapping["a.b"] == "a.b" and mapping["a_b"] == "a_b"
    assert mapping["a:b"].startswith("a_b~") and len(set(mapping.values())) == 4
    assert logged["long"].startswith("sha256:")
    assert len(logged) == len(raw)


def test_param_values_are_redacted() -> None:
    logged, _ = sanitize_params({"owner": "ada@example.org"})
    assert logged == {"owner": "[redacted]"}


def test_cards_redact_personal_data_and_tokens() -> None:
    from reprospec import card

    data = {
        "name": "x",
        "spec": "specs/x.yaml",
        "overrides": ["+data.owner=ada@example.org"],
        "params": {"data.owner": "ada@example.org"},
        "git_commit": "abc",
        "git_dirty": False,
        "data_version": "sha256:1",
        "environment_digest": "sha256:2",
        "key_pins": {},
        "seed": 1,
        "determinism": {},
        "platform": {},
        "metrics": {"accuracy": 1.0},
        "snapshot_verdict": "match",
        "digests": {},
        "plots": {},
        "start_time": "t0",
        "end_time": "t1",
    }
    for name, blob in card.files(data).items():
        assert b"ada@example.org" not in blob, name
    assert b"[redacted]" in card.files(data)["card.html"]
