"""Classify scikit-learn's 8x8 handwritten digits with a small PyTorch MLP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from reprospec.runtime import StageContext

MODEL = "models/mlflow-model"  # registered by `reprospec run`; not byte-stable


def ingest(ctx: StageContext) -> None:
    """Copy the digits data set shipped inside scikit-learn into the pipeline."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(
        ctx.out("data/raw/digits.npz"),
        images=digits.data.astype(np.float32),
        labels=digits.target.astype(np.int64),
    )


def preprocess(ctx: StageContext) -> None:
    """Split into train and test sets with the seeded generator, then scale."""
    data = ctx.params["data"]
    with np.load(ctx.dep("data/raw/digits.npz")) as raw:
        images, labels = raw["images"], raw["labels"]
    order = ctx.rng.permutation(len(labels))
    order = order[: round(len(order) * data["sample"])]  # a seeded subset, e.g. for CI
    n_test = round(len(order) * data["test_size"])
    test, train = order[:n_test], order[n_test:]
    mean = images[train].mean(axis=0)
    std = images[train].std(axis=0) + data["epsilon"]
    scaled = ((images - mean) / std).astype(np.float32)
    np.savez(
        ctx.out("data/processed/digits.npz"),
        x_train=scaled[train],
        y_train=labels[train],
        x_test=scaled[test],
        y_test=labels[test],
    )


def _network(model: dict[str, Any], n_in: int, n_out: int) -> Any:
    import torch

    layers: list[Any] = []
    width = n_in
    for hidden in model["hidden"]:
        layers += [torch.nn.Linear(width, hidden), torch.nn.ReLU()]
        if model["dropout"]:
            layers.append(torch.nn.Dropout(model["dropout"]))
        width = hidden
    layers.append(torch.nn.Linear(width, n_out))
    return torch.nn.Sequential(*layers)


def train(ctx: StageContext) -> None:
    """Train the MLP with seeded shuffling; save its weights and an MLflow model."""
    import torch

    optim = ctx.params["optim"]
    with np.load(ctx.dep("data/processed/digits.npz")) as data:
        x = torch.from_numpy(data["x_train"])
        y = torch.from_numpy(data["y_train"])
    network = _network(ctx.params["model"], x.shape[1], 10)
    optimizer = _optimizer(optim, network.parameters())
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y),
        batch_size=optim["batch_size"],
        shuffle=True,
        generator=torch.Generator().manual_seed(ctx.seed),
    )
    curve = []
    for _ in range(optim["epochs"]):
        total = 0.0
        for batch_x, batch_y in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(network(batch_x), batch_y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch_y)
        curve.append(total / len(y))
    torch.save(network.state_dict(), ctx.out("models/model.pt"))
    network.eval()
    ctx.save_model(network, MODEL, flavor="pytorch", input_example=x[:5].numpy())
    records = [{"epoch": i + 1, "loss": round(v, 6)} for i, v in enumerate(curve)]
    ctx.out("reports/train_curve.json").write_text(json.dumps(records) + "\n")


def _optimizer(optim: dict[str, Any], parameters: Any) -> Any:
    import torch

    if optim["name"] == "adam":
        return torch.optim.Adam(
            parameters, lr=optim["lr"], weight_decay=optim["weight_decay"]
        )
    if optim["name"] == "sgd":
        return torch.optim.SGD(
            parameters,
            lr=optim["lr"],
            momentum=optim["momentum"],
            weight_decay=optim["weight_decay"],
        )
    raise ValueError(f"optim.name: unknown optimizer {optim['name']!r}")


def evaluate(ctx: StageContext) -> None:
    """Predict the test set; write the predicted labels and the accuracy."""
    import torch

    with np.load(ctx.dep("data/processed/digits.npz")) as data:
        x = torch.from_numpy(data["x_test"])
        y = data["y_test"]
    network = _network(ctx.params["model"], x.shape[1], 10)
    network.load_state_dict(torch.load(ctx.dep("models/model.pt"), weights_only=True))
    network.eval()
    with torch.no_grad():
        predicted = network(x).argmax(dim=1).numpy().astype(np.int64)
    write_classification(ctx, y, predicted)


def write_classification(ctx: StageContext, truth: Any, predicted: Any) -> None:
    """Write predicted labels, the accuracy and, where declared, a confusion matrix."""
    np.save(ctx.out("outputs/predictions.npy"), predicted)
    accuracy = float((predicted == truth).mean())
    ctx.out("metrics.json").write_text(
        json.dumps({"accuracy": round(accuracy, 6), "n_test": len(truth)}) + "\n"
    )
    if Path("reports/confusion.json") in ctx.plots:
        matrix = np.zeros((10, 10), dtype=np.int64)
        np.add.at(matrix, (truth, predicted), 1)
        report = {"labels": list(range(10)), "matrix": matrix.tolist()}
        ctx.out("reports/confusion.json").write_text(json.dumps(report) + "\n")
