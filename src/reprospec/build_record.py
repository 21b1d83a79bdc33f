"""Skip a rebuild when nothing the last build of a spec read has changed.

After each build, `reprospec build` records the digest of every input it read
(the spec and every YAML file Hydra may compose it from, the constraint files,
where the stage code lies, reprospec itself and the installed packages) and of
the manifest it wrote. The next build of the same spec and overrides checks
that record before Hydra, pydantic or the emitters are imported, and stops
there when the inputs and the bundle on disk both still match it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import sysconfig
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reprospec import __version__
from reprospec.project import find_root

if TYPE_CHECKING:
    from reprospec.compose import LoadedSpec

RECORDS = Path(".reprospec") / "build-records"
MANIFEST = "manifest.json"
PACKAGE = Path(__file__).resolve().parent
# An interpolation that calls a resolver, e.g. ${oc.env:HOME} or ${now:%H}.
_RESOLVER = re.compile(rb"\$\{\s*[A-Za-z_][\w.]*\s*:")
# Folders under a spec's own folder that hold no configs Hydra should see.
_NOT_CONFIG = frozenset({"build", "node_modules"})


@dataclass(frozen=True)
class Observed:
    """The inputs of one build, digested before anything was composed."""

    root: Path
    key: str
    inputs: dict[str, str | None] = field(default_factory=dict)

    def with_files(self, relpaths: Sequence[str]) -> Observed:
        """Return a copy that also covers the files at relpaths (None: absent)."""
        files = {f"file:{rel}": _file_digest(self.root / rel) for rel in relpaths}
        return Observed(self.root, self.key, {**self.inputs, **files})


def observe(spec_file: str, overrides: Sequence[str]) -> Observed | None:
    """Digest what composing spec_file reads.

    None for a path that is no spec, and where a config or an override calls a
    resolver (${oc.env:...}, ${now:...}): its value comes from outside the files.
    """
    path = Path(spec_file).resolve()
    if path.suffix != ".yaml" or not path.is_file():
        return None
    if any(_RESOLVER.search(item.encode()) for item in overrides):
        return None
    root = find_root(path)
    relpath = path.relative_to(root).as_posix()
    key = hashlib.sha256(json.dumps([relpath, list(overrides)]).encode()).hexdigest()
    inputs: dict[str, str | None] = {"tool": _tool_digest()}
    for config in sorted({*_configs(path.parent), *_configs(root / "conf")}):
        blob = config.read_bytes()
        if _RESOLVER.search(blob):
            return None
        relconfig = config.relative_to(root).as_posix()
        inputs[f"yaml:{relconfig}"] = hashlib.sha256(blob).hexdigest()
    return Observed(root, key, inputs)


def spec_files(loaded: LoadedSpec) -> list[str]:
    """Return the project files a build reads besides the YAML it composes."""
    spec = loaded.spec
    files = list(spec.environment.constraints)
    for _, stage in spec.stages.ordered():
        module = stage.run.split(":")[0].replace(".", "/")
        # DVC watches the stage's top-level package when it is one.
        top = module.split("/")[0]
        files += [f"{module}.py", f"{module}/__init__.py", f"{top}/__init__.py"]
    return sorted(set(files))


def save(observed: Observed, bundle: Path, manifest: bytes) -> None:
    """Record that observed inputs gave the bundle whose manifest is manifest."""
    record = {
        "bundle": bundle.relative_to(observed.root).as_posix(),
        "manifest": hashlib.sha256(manifest).hexdigest(),
        "inputs": observed.inputs,
    }
    path = _record_path(observed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    tmp.replace(path)


def up_to_date(spec_file: str, overrides: Sequence[str]) -> str | None:
    """Return the bundle's folder when the last build's record still holds."""
    observed = observe(spec_file, overrides)
    if observed is None:
        return None
    try:
        record = json.loads(_record_path(observed).read_text())
        recorded = record["inputs"]
        files = [key.removeprefix("file:") for key in recorded if key[:5] == "file:"]
        bundle = str(record["bundle"])
        if observed.with_files(files).inputs != recorded:
            return None
        if not _bundle_matches(observed.root / bundle, str(record["manifest"])):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return bundle


def _bundle_matches(bundle: Path, manifest_digest: str) -> bool:
    blob = (bundle / MANIFEST).read_bytes()
    if hashlib.sha256(blob).hexdigest() != manifest_digest:
        return False
    files: dict[str, str] = json.loads(blob)["files"]
    return all(
        _file_digest(bundle / path) == digest.removeprefix("sha256:")
        for path, digest in files.items()
    )


def _record_path(observed: Observed) -> Path:
    return observed.root / RECORDS / f"{observed.key}.json"


def _configs(folder: Path) -> Iterator[Path]:
    """Yield every YAML file under folder, outside hidden and output folders."""
    if not folder.is_dir():
        return
    for current, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _NOT_CONFIG]
        for name in names:
            if name.endswith(".yaml"):
                yield Path(current, name)


def _tool_digest() -> str:
    """Digest reprospec's own files, its version, Python and the installed packages.

    Distribution folders carry their versions in their names, so listing them
    notices any package installed, removed or upgraded.
    """
    hasher = hashlib.sha256(f"{__version__}\n{sys.version}\n".encode())
    for current, dirs, names in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            path = Path(current, name)
            hasher.update(
                f"{path.relative_to(PACKAGE)}:{_file_digest(path)}\n".encode()
            )
    paths = sysconfig.get_paths()
    for folder in sorted({paths["purelib"], paths["platlib"]}):
        try:
            listing = sorted(os.listdir(folder))
        except OSError:
            listing = []
        hasher.update("\n".join(n for n in listing if n.endswith("-info")).encode())
    return hasher.hexdigest()


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
