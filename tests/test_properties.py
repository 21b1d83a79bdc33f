"""Property tests: valid specs build byte-stable; bad input never gives a traceback."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from reprospec import compose
from reprospec.builder import compile_spec
from reprospec.errors import ReprospecError, SpecError
from reprospec.spec import Spec

SPEC_FILE = str(REPO / "specs" / "digits_mlp.yaml")
BASE = compose.load(SPEC_FILE, [])
FAST = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

slugs = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


def _build(data: dict[str, Any]) -> dict[str, bytes]:
    spec = compose.validate(data, BASE.relpath)
    return compile_spec(replace(BASE, spec=spec)).blobs


@FAST
@given(
    name=slugs,
    seed=st.integers(0, 2**32 - 1),
    threads=st.integers(1, 64),
    extra=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), values, max_size=4
    ),
)
def test_random_valid_specs_build_byte_stable(
    name: str, seed: int, threads: int, extra: dict[str, Any]
) -> None:
    data = copy.deepcopy(BASE.spec.resolved())
    data.update(name=name, seed=seed, determinism={"threads": threads, "strict": True})
    data["optim"].update(extra)
    first = _build(data)
    assert first == _build(copy.deepcopy(data))
    assert f"seed: {seed}\n".encode() in first["params.yaml"]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


ALL_PATHS = _paths(BASE.spec.resolved())


@FAST
@given(
    path=st.sampled_from(ALL_PATHS),
    action=st.sampled_from(["set", "delete", "add"]),
    value=values,
    key=st.text(min_size=1, max_size=12),
)
def test_mutated_specs_build_or_exit_2(
    path: tuple[Any, ...], action: str, value: Any, key: str
) -> None:
    data = copy.deepcopy(BASE.spec.resolved())
    parent: Any = data
    for part in path[:-1]:
        parent = parent[part]
    if action == "set":
        parent[path[-1]] = value
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[key] = value
    try:
        spec = compose.validate(data, BASE.relpath)
    except SpecError as exc:
        assert str(exc).startswith("specs/digits_mlp.yaml: invalid spec\n")
        assert len(str(exc).splitlines()) >= 2
        return
    assert isinstance(spec, Spec)
    compile_spec(replace(BASE, spec=spec))


override_text = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda k, op, v: f"{op}{k}={v}",
        st.sampled_from(
            [
                "seed",
                "optim.lr",
                "model",
                "data.x",
                "stages.train.run",
                "environment.python",
                "name",
                "determinism",
                "snapshots",
            ]
        ),
        st.sampled_from(["", "+", "++", "~"]),
        st.text(max_size=20),
    ),
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(overrides=st.lists(override_text, min_size=1, max_size=3))
def test_fuzzed_overrides_compose_or_exit_2(overrides: list[str]) -> None:
    try:
        compose.load(SPEC_FILE, overrides)
    except ReprospecError as exc:
        assert exc.exit_code == 2
        assert "specs/digits_mlp.yaml" in str(exc)


@pytest.mark.parametrize("text", ["", "[1, 2]", "name: [unclosed", "a: b: c", "\t- x"])
def test_broken_yaml_files_exit_2(tmp_path: Any, text: str) -> None:
    (tmp_path / "conf").mkdir()
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    with pytest.raises(ReprospecError) as caught:
        compose.load(str(spec), [])
    assert caught.value.exit_code == 2
    assert "bad.yaml" in str(caught.value)


def _bad_inputs(count: int) -> list[tuple[str, dict[str, Any]]]:
    """Return `count` specs, each made invalid in one named, seeded way."""
    import random

    rng = random.Random(0)
    wrong = [None, "text", -1, 1.5, [], {}, {"x": 1}, "sha256:short", "../up"]
    # Sources and requirements stay as they are: a change there is a resolver
    # question (network), not a validation one.
    free = ("optim", "model", "data", "ci")
    kept = ("requirements", "python", "constraints", "platforms", "index_url")
    typed = [
        p
        for p in ALL_PATHS
        if len(p) <= 3 and p[0] not in free and not set(map(str, p)) & set(kept)
    ]
    made = []
    while len(made) < count:
        data = copy.deepcopy(BASE.spec.resolved())
        path = rng.choice(typed)
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        how = rng.choice(["wrong", "unknown", "missing"])
        if how == "wrong":
            parent[path[-1]] = rng.choice(wrong)
        elif how == "unknown" and isinstance(parent, dict):
            parent[f"{path[-1]}_typo"] = 1
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            continue
        made.append((f"{how} {'.'.join(map(str, path))}", data))
    return made


def test_at_least_200_bad_inputs_exit_2_never_a_traceback() -> None:
    refused = 0
    for label, data in _bad_inputs(300):
        try:
            spec = compose.validate(data, BASE.relpath)
        except SpecError as exc:
            refused += 1
            assert "specs/digits_mlp.yaml: invalid spec" in str(exc), label
            continue
        compile_spec(replace(BASE, spec=spec))  # what is accepted must build
    assert refused >= 200
