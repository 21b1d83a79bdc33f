"""A NumPy and scikit-learn baseline: multinomial logistic regression on digits.

Ingest and preprocess are the PyTorch example's own stages (examples.digits), so
the three examples train on the same split.
"""

from __future__ import annotations

import numpy as np

from examples.digits import write_classification
from reprospec.runtime import StageContext

COEFFICIENTS = "models/logreg.npz"
MODEL = "models/mlflow-model"  # registered by `reprospec run`; not byte-stable


def train(ctx: StageContext) -> None:
    """Fit the regression with L-BFGS; save its coefficients and an MLflow model."""
    from sklearn.linear_model import LogisticRegression

    model = ctx.params["model"]
    with np.load(ctx.dep("data/processed/digits.npz")) as data:
        x, y = data["x_train"], data["y_train"]
    fitted = LogisticRegression(
        C=model["C"], max_iter=model["max_iter"], tol=model["tol"]
    ).fit(x.astype(np.float64), y)
    np.savez(
        ctx.out(COEFFICIENTS),
        coef=fitted.coef_,
        intercept=fitted.intercept_,
        classes=fitted.classes_.astype(np.int64),
    )
    ctx.save_model(fitted, MODEL, flavor="sklearn", input_example=x[:5])


def evaluate(ctx: StageContext) -> None:
    """Score the test set in NumPy; write the predicted labels and the accuracy."""
    with np.load(ctx.dep("data/processed/digits.npz")) as data:
        x, y = data["x_test"], data["y_test"]
    with np.load(ctx.dep(COEFFICIENTS)) as fitted:
        scores = x.astype(np.float64) @ fitted["coef"].T + fitted["intercept"]
        predicted = fitted["classes"][scores.argmax(axis=1)].astype(np.int64)
    write_classification(ctx, y, predicted)
