"""Classify scikit-learn's digits with a small Keras model on TensorFlow.

Ingest and preprocess are the PyTorch example's own stages (examples.digits), so
the three examples train on the same split.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from examples.digits import write_classification
from reprospec.runtime import StageContext

WEIGHTS = "models/weights.npz"
MODEL = "models/mlflow-model"  # registered by `reprospec run`; not byte-stable


def _network(model: dict[str, Any], n_in: int, n_out: int) -> Any:
    import tensorflow as tf

    layers: list[Any] = [tf.keras.Input(shape=(n_in,))]
    for hidden in model["hidden"]:
        layers.append(tf.keras.layers.Dense(hidden, activation="relu"))
        if model["dropout"]:
            layers.append(tf.keras.layers.Dropout(model["dropout"]))
    layers.append(tf.keras.layers.Dense(n_out))
    return tf.keras.Sequential(layers)


def _optimizer(optim: dict[str, Any]) -> Any:
    import tensorflow as tf

    decay = optim["weight_decay"] or None
    if optim["name"] == "adam":
        return tf.keras.optimizers.Adam(learning_rate=optim["lr"], weight_decay=decay)
    if optim["name"] == "sgd":
        return tf.keras.optimizers.SGD(
            learning_rate=optim["lr"], momentum=optim["momentum"], weight_decay=decay
        )
    raise ValueError(f"optim.name: unknown optimizer {optim['name']!r}")


def train(ctx: StageContext) -> None:
    """Train with Keras' seeded shuffling; save the weights and an MLflow model."""
    import tensorflow as tf

    optim = ctx.params["optim"]
    with np.load(ctx.dep("data/processed/digits.npz")) as data:
        x, y = data["x_train"], data["y_train"]
    network = _network(ctx.params["model"], x.shape[1], 10)
    network.compile(
        optimizer=_optimizer(optim),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = network.fit(
        x, y, batch_size=optim["batch_size"], epochs=optim["epochs"], verbose=0
    )
    # A .keras file records when it was saved; the arrays alone digest the same
    # on every run.
    weights = network.get_weights()
    np.savez(ctx.out(WEIGHTS), **{f"w{i:02d}": w for i, w in enumerate(weights)})
    ctx.save_model(network, MODEL, flavor="tensorflow", input_example=x[:5])
    curve = history.history["loss"]
    records = [
        {"epoch": i + 1, "loss": round(float(v), 6)} for i, v in enumerate(curve)
    ]
    ctx.out("reports/train_curve.json").write_text(json.dumps(records) + "\n")


def evaluate(ctx: StageContext) -> None:
    """Predict the test set; write the predicted labels and the accuracy."""
    with np.load(ctx.dep("data/processed/digits.npz")) as data:
        x, y = data["x_test"], data["y_test"]
    network = _network(ctx.params["model"], x.shape[1], 10)
    with np.load(ctx.dep(WEIGHTS)) as archive:
        network.set_weights([archive[name] for name in sorted(archive.files)])
    logits = np.asarray(network(x, training=False))
    predicted = logits.argmax(axis=1).astype(np.int64)
    write_classification(ctx, y, predicted)
