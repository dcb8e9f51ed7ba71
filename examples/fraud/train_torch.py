#!/usr/bin/env python3
"""
A pipeline `train: command:` step in PyTorch: a logistic regression (or, with
{"hidden": N} in the params, a one-hidden-layer MLP) trained on the rows Ballast hands over,
exported to ONNX for Ballast to serve.

Needs Debian's PyTorch: `apt install python3-torch` (and `python3-onnx` for the exporter on
newer torch releases). The pipeline step:

    - name: train
      train:
        input: split.train
        command:
          run: [python3, examples/fraud/train_torch.py]
          output: model.onnx
          flavor: onnx
          timeout: 10m
          params: { epochs: 20, hidden: 0, lr: 0.05 }
          features: [amount, hour, distance_from_home_km, online, card_age_days, txn_count_24h, night]
          label: is_fraud

Environment (set by Ballast): BALLAST_TRAIN (JSON Lines, one object per row), BALLAST_HOLDOUT
(optional), BALLAST_OUTPUT (where the ONNX file goes), BALLAST_PARAMS (JSON: the pipeline's
params merged with the step's). The model takes one input `input` FP32 [batch, features] and
gives `probability` FP32 [batch], the names Ballast's builtin models use, so validation and
serving read it the same way.
"""
import json
import os
import sys

import torch

FEATURES = ["amount", "hour", "distance_from_home_km", "online", "card_age_days", "txn_count_24h", "night"]


def read_rows(path, features, label):
    xs, ys = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            xs.append([float(row[name]) for name in features])
            ys.append(float(row[label]))
    return torch.tensor(xs, dtype=torch.float32), torch.tensor(ys, dtype=torch.float32)


class Scorer(torch.nn.Module):
    """Standardises inside the graph, so the ONNX file takes raw feature values."""

    def __init__(self, mean, std, hidden):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        width = mean.shape[0]
        self.net = (
            torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
            if hidden > 0
            else torch.nn.Linear(width, 1)
        )

    def forward(self, x):
        return torch.sigmoid(self.net((x - self.mean) / self.std)).squeeze(-1)


def main():
    params = json.loads(os.environ.get("BALLAST_PARAMS", "{}"))
    features = params.get("features", FEATURES)
    label = params.get("label", "is_fraud")
    epochs = int(params.get("epochs", 20))
    hidden = int(params.get("hidden", 0))
    lr = float(params.get("lr", 0.05))
    torch.manual_seed(int(params.get("seed", 7)))

    x, y = read_rows(os.environ["BALLAST_TRAIN"], features, label)
    if len(y) == 0:
        sys.exit("no training rows")
    print(f"{len(y)} rows, {len(features)} features, positive rate {y.mean().item():.4f}", flush=True)
    std = x.std(dim=0)
    std[std == 0] = 1
    model = Scorer(x.mean(dim=0), std, hidden)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCELoss()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=1024, shuffle=True)
    for epoch in range(epochs):
        total = 0.0
        for xb, yb in loader:
            optimiser.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimiser.step()
            total += loss.item() * len(yb)
        print(f"epoch {epoch + 1}: logloss {total / len(y):.5f}", flush=True)

    model.eval()
    torch.onnx.export(
        model,
        (x[:1],),
        os.environ["BALLAST_OUTPUT"],
        input_names=["input"],
        output_names=["probability"],
        dynamic_axes={"input": {0: "batch"}, "probability": {0: "batch"}},
        opset_version=17,
    )
    print(f"wrote {os.environ['BALLAST_OUTPUT']}", flush=True)


if __name__ == "__main__":
    main()
