"""Render an experiment card: what ran, on what, with which result, as MD and HTML."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping
from typing import Any

from reprospec import secrets

KEY_PACKAGES = ("torch", "tensorflow", "tensorflow-cpu", "numpy", "scikit-learn")


def _redacted(node: Any) -> Any:
    if isinstance(node, str):
        return secrets.redact(node)
    if isinstance(node, dict):
        return {secrets.redact(str(k)): _redacted(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_redacted(v) for v in node]
    return node


def key_pins(pins: Mapping[str, str]) -> dict[str, str]:
    """Return the pins of the packages that most shape a result."""
    return {name: pins[name] for name in KEY_PACKAGES if name in pins}


def render_plots(plots: Mapping[str, Any]) -> dict[str, bytes]:
    """Return a PNG for each plot: a line chart of records, a heatmap of a matrix."""
    if not plots:
        return {}
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    images = {}
    for name, data in sorted(plots.items()):
        figure, axes = pyplot.subplots(figsize=(5, 3.6), dpi=100)
        if isinstance(data, dict) and "matrix" in data:
            _heatmap(axes, data)
        elif isinstance(data, list) and data and isinstance(data[0], dict):
            _curve(axes, data)
        else:
            pyplot.close(figure)
            continue
        axes.set_title(name)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
        pyplot.close(figure)
        images[name] = buffer.getvalue()
    return images


def _curve(axes: Any, records: list[dict[str, Any]]) -> None:
    keys = list(records[0])
    x_key = keys[0]
    for key in keys[1:]:
        axes.plot([r[x_key] for r in records], [r[key] for r in records], label=key)
    axes.set_xlabel(x_key)
    axes.legend()


def _heatmap(axes: Any, data: dict[str, Any]) -> None:
    matrix = data["matrix"]
    axes.imshow(matrix, cmap="Blues")
    darkest = max((max(row) for row in matrix), default=0)
    labels = data.get("labels", list(range(len(matrix))))
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                color = "white" if value > darkest / 2 else "black"
                axes.text(
                    j, i, str(value), ha="center", va="center", fontsize=7, color=color
                )


def _png_name(plot: str) -> str:
    return plot.replace("/", "__").rsplit(".", 1)[0] + ".png"


def _sections(card: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    what = [
        ("spec", card["spec"]),
        ("overrides", " ".join(card["overrides"]) or "none"),
        ("git commit", card["git_commit"] + (" (dirty)" if card["git_dirty"] else "")),
        ("data version", card["data_version"]),
    ]
    env = [("environment digest", card["environment_digest"])]
    env += [(name, version) for name, version in card["key_pins"].items()]
    seeds = [(k, str(v)) for k, v in sorted(card["determinism"].items())]
    if "seed" not in card["determinism"]:
        seeds.insert(0, ("seed", str(card["seed"])))
    platform = [(k, str(v)) for k, v in sorted(card["platform"].items())]
    results = [(k, f"{v:g}") for k, v in sorted(card["metrics"].items())]
    results.append(("snapshot verdict", card["snapshot_verdict"]))
    results += [(path, digest) for path, digest in sorted(card["digests"].items())]
    params = [(k, v) for k, v in sorted(card["params"].items())]
    return [
        ("What ran", what),
        ("Parameters", params),
        ("Environment", env),
        ("Seeds and determinism", seeds),
        ("Platform", platform),
        ("Results", results),
    ]


def _title(card: Mapping[str, Any]) -> str:
    run = f" - run {card['run_id']}" if card.get("run_id") else ""
    return f"Experiment card: {card['name']}{run}"


def markdown(card: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    """Return the card as Markdown; plots are referenced as PNG files beside it."""
    lines = [
        f"# {_title(card)}",
        "",
        f"Started {card['start_time']}, ended {card['end_time']}.",
        "",
    ]
    for heading, rows in _sections(card):
        lines += [f"## {heading}", "", "| | |", "| --- | --- |"]
        lines += [f"| {_md(k)} | {_md(v)} |" for k, v in rows]
        lines.append("")
    if images:
        lines += ["## Plots", ""]
        lines += [f"![{name}](plots/{_png_name(name)})" for name in sorted(images)]
        lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def html_page(card: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    """Return the card as one self-contained HTML page, plots embedded."""
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(_title(card))}</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;}"
        "table{border-collapse:collapse;margin-bottom:1.5rem;}"
        "td{border:1px solid #ccc;padding:.25rem .5rem;font-family:monospace;}"
        "img{max-width:48%;margin:.5rem;}</style></head><body>",
        f"<h1>{esc(_title(card))}</h1>",
        f"<p>Started {esc(card['start_time'])}, ended {esc(card['end_time'])}.</p>",
    ]
    for heading, rows in _sections(card):
        parts.append(f"<h2>{esc(heading)}</h2><table>")
        parts += [f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows]
        parts.append("</table>")
    if images:
        parts.append('<h2>Plots</h2><div class="plots">')
        for name, png in sorted(images.items()):
            data = base64.b64encode(png).decode()
            parts.append(f'<img alt="{esc(name)}" src="data:image/png;base64,{data}">')
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def files(card: Mapping[str, Any]) -> dict[str, bytes]:
    """Return every file of the card: card.json, card.md, card.html and plots.

    Secret-looking values and e-mail addresses are redacted everywhere in it.
    """
    card = _redacted(dict(card))
    images = render_plots(card.get("plots", {}))
    out = {
        "card.json": (json.dumps(card, indent=2, sort_keys=True) + "\n").encode(),
        "card.md": markdown(card, images).encode(),
        "card.html": html_page(card, images).encode(),
    }
    out.update({f"plots/{_png_name(name)}": png for name, png in images.items()})
    return out
