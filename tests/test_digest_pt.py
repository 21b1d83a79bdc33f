"""A .pt digest read without torch equals the one torch itself reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reprospec import digest

torch = pytest.importorskip("torch")


def _states() -> dict[str, Any]:
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    return {
        "digits-like": torch.nn.Sequential(
            torch.nn.Linear(64, 8), torch.nn.ReLU(), torch.nn.Linear(8, 10)
        ).state_dict(),
        "dtypes": {
            str(dtype): torch.ones(3, 2, dtype=dtype)
            for dtype in (
                torch.float64,
                torch.float16,
                torch.int64,
                torch.int32,
                torch.int16,
                torch.int8,
                torch.uint8,
                torch.bool,
            )
        },
        "views of one storage": {"t": base.t(), "row": base[1], "col": base[:, 2]},
        "nested, with plain values": {"w": [base, {"b": base[0]}], "step": 3},
        "batch norm": torch.nn.BatchNorm1d(4).state_dict(),
        "complex (torch reads it)": {"x": torch.ones(2, dtype=torch.complex64)},
        "empty": {"x": torch.zeros(0)},
    }


STATES = _states()


@pytest.mark.parametrize("name", STATES)
def test_digest_without_torch_matches_torch(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.pt"
    torch.save(STATES[name], path)
    plain = digest.output_digest(path)

    def refuse(_: Path) -> Any:
        raise digest._NeedsTorch

    monkeypatch.setattr(digest, "_read_plain_state", refuse)
    assert plain == digest.output_digest(path)


def test_a_plain_state_dict_is_digested_without_importing_torch(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.pt"
    torch.save(STATES["digits-like"], path)
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from reprospec.digest import output_digest\n"
        f"print(output_digest(Path({str(path)!r})), 'torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    found, imported = done.stdout.split()
    assert found == digest.output_digest(path)
    assert imported == "False"
