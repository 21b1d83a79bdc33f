"""Emit .pre-commit-config.yaml: clean tree, seeding and bundle-sync hooks."""

from __future__ import annotations

from typing import Any

from reprospec import quoting
from reprospec.emitters.base import BuildInputs, Files

# Fails on untracked files, or changes not staged, under the paths given: what a
# commit leaves out would make the committed experiment differ from this one.
CLEAN_TREE = (
    'git diff --quiet -- "$@" && '
    'test -z "$(git ls-files --others --exclude-standard -- "$@")"'
)


def emit(inputs: BuildInputs) -> Files:
    """Return a pre-commit config with local hooks that need no download."""
    words = [inputs.loaded.relpath, *inputs.loaded.overrides]
    paths = sorted(
        {
            inputs.loaded.relpath,
            "conf",
            inputs.bundle_relpath,
            *(_project_path(inputs, code) for code in inputs.code.values()),
        }
    )
    text = config(words, paths)
    return {".pre-commit-config.yaml": inputs.header() + text}


def config(spec_words: list[str], paths: list[str]) -> str:
    """Return the hooks for one spec (its path and overrides) as pre-commit YAML."""
    hooks = [
        _hook(
            "reprospec-clean-tree",
            "no untracked or unstaged experiment files",
            ["sh", "-c", CLEAN_TREE, "clean-tree", *paths],
        ),
        _hook(
            "reprospec-check-seed",
            "stages seed before anything else",
            ["reprospec", "check-seed", *spec_words],
        ),
        _hook(
            "reprospec-build-check",
            "bundle in sync with its spec",
            ["reprospec", "build", "--check", *spec_words],
        ),
    ]
    return quoting.dump_yaml({"repos": [{"repo": "local", "hooks": hooks}]})


def _hook(hook_id: str, name: str, command: list[str]) -> dict[str, Any]:
    return {
        "id": hook_id,
        "name": name,
        "entry": " ".join(quoting.shell(word) for word in command),
        "language": "system",
        "pass_filenames": False,
        "always_run": True,
    }


def _project_path(inputs: BuildInputs, code: str) -> str:
    # code is relative to the bundle folder; the hook runs from the project root.
    parts = [*inputs.bundle_relpath.split("/"), *code.split("/")]
    resolved: list[str] = []
    for part in parts:
        if part == "..":
            resolved.pop()
        else:
            resolved.append(part)
    return "/".join(resolved)
