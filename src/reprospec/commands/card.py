"""`reprospec card RUN`: render the experiment card of any recorded run again."""

from __future__ import annotations

import argparse
from pathlib import Path

from reprospec import card, runs
from reprospec.errors import UsageError


def run(args: argparse.Namespace) -> int:
    """Write card.md, card.html and the plots of a run into a folder."""
    recorded = runs.fetch(args.run, args.tracking_uri)
    data = recorded.artifact_json("card/card.json")
    if data is None:
        raise UsageError(
            f"run {args.run} has no card/card.json artifact; it was not recorded "
            "by `reprospec run`"
        )
    data["run_id"] = recorded.run_id
    data["status"] = recorded.status
    target = Path(args.out or Path(".reprospec", "cards", recorded.run_id))
    for name, blob in card.files(data).items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(blob)
    print(target / "card.html")
    return 0
