#!/usr/bin/env python3
"""
A pipeline `train: command:` step in plain Python (standard library only): logistic regression
by gradient descent on standardised features, written as a Ballast builtin model (JSON). The
same contract as train_torch.py (BALLAST_TRAIN, BALLAST_OUTPUT, BALLAST_PARAMS) for machines
without PyTorch; the tests run it.
"""
import json
import math
import os
import sys


def main():
    params = json.loads(os.environ.get("BALLAST_PARAMS", "{}"))
    features = params["features"]
    label = params.get("label", "is_fraud")
    epochs = int(params.get("epochs", 200))
    lr = float(params.get("lr", 0.5))
    xs, ys = [], []
    with open(os.environ["BALLAST_TRAIN"], encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                xs.append([float(row[n]) for n in features])
                ys.append(float(row[label]))
    n, d = len(ys), len(features)
    if n == 0:
        sys.exit("no training rows")
    mean = [sum(r[j] for r in xs) / n for j in range(d)]
    std = [math.sqrt(sum((r[j] - mean[j]) ** 2 for r in xs) / n) or 1.0 for j in range(d)]
    z = [[(r[j] - mean[j]) / std[j] for j in range(d)] for r in xs]
    w, b = [0.0] * d, 0.0
    for _ in range(epochs):
        gw, gb = [0.0] * d, 0.0
        for row, y in zip(z, ys):
            s = b + sum(wj * v for wj, v in zip(w, row))
            p = 1 / (1 + math.exp(-s)) if s >= 0 else math.exp(s) / (1 + math.exp(s))
            for j in range(d):
                gw[j] += (p - y) * row[j]
            gb += p - y
        w = [wj - lr * g / n for wj, g in zip(w, gw)]
        b -= lr * gb / n
    print(f"{n} rows; weights {[round(v, 4) for v in w]}, intercept {b:.4f}", flush=True)
    model = {
        "format": "ballast.builtin/v1",
        "kind": "logistic_regression",
        "features": features,
        "weights": w,
        "intercept": b,
        "scaling": {"mean": mean, "std": std},
        "training": {"algorithm": "python-gradient-descent", "rows": n, "epochs": epochs},
    }
    with open(os.environ["BALLAST_OUTPUT"], "w", encoding="utf-8") as f:
        json.dump(model, f)


if __name__ == "__main__":
    main()
