#!/usr/bin/env python3
"""
The LSTM volatility specialist: a small LSTM that maps a window of the W most recent returns
(oldest first, in percent: x100) to the variance of the next one, trained with PyTorch and
exported to ONNX for Ballast to serve with onnxruntime, under the same tensor contract as the
builtin specialists (garch, ewma, har-rv, last-value):

    input  `returns`  FP32 [batch, W]   the window, oldest first, returns x scale
    output `variance` FP32 [batch, 1]   the next-period variance, in the same units (scale^2)

Loss: the Gaussian negative log-likelihood of the next return, log h + r^2/h with h = exp(head),
averaged. That is Patton's QLIKE up to a term free of the forecast, so the training loss is the
one the model is validated on, it is consistent for the conditional variance (a noisy r^2 proxy
does not bias it, unlike MSE on log r^2, which targets E[log r^2] = log h - 1.27 under normality),
and it stays finite when a return is exactly zero. The head is clamped to [-20, 20] before exp,
so the served variance is always a positive finite number.

Interpreter: Debian's PyTorch (`apt install python3-torch python3-onnx`; torch 1.13, onnx 1.12)
lives in /usr/bin/python3, not in a pyenv or venv python. Run it as `/usr/bin/python3
examples/markets/train_lstm.py`, or set BALLAST_PYTHON for the tests.

As a pipeline step (BALLAST_TRAIN/BALLAST_HOLDOUT are the split step's JSON Lines files,
BALLAST_OUTPUT is where the ONNX file goes, BALLAST_PARAMS is JSON of the pipeline's params
merged with the step's):

    - name: train
      train:
        input: split.train
        command:
          run: [/usr/bin/python3, examples/markets/train_lstm.py]
          output: lstm.onnx
          params: { column: ret, scale: 100, window: 20, hidden: 16, epochs: 15, seed: 7 }

Standalone (a CSV or JSON Lines file; `--rows N` keeps the first N rows, the rest is never read):

    /usr/bin/python3 examples/markets/train_lstm.py --train examples/markets/data/sp500dge.csv \
        --rows 13644 --output examples/markets/models/lstm.onnx

Params (all optional): column (ret), scale (100), window (20), hidden (16), epochs (15),
batch (256), lr (0.01), seed (7), rows (every row), max_seconds (50: training stops after the
epoch that passes it, so a step never runs away on a big file).
"""
import argparse
import csv
import json
import math
import os
import sys
import time

import torch

DEFAULTS = {
    "column": "ret",
    "scale": 100.0,
    "window": 20,
    "hidden": 16,
    "epochs": 15,
    "batch": 256,
    "lr": 0.01,
    "seed": 7,
    "rows": 0,
    "max_seconds": 50.0,
}


def read_returns(path, column, rows):
    """The column as floats, in file order: JSON Lines (what the pipeline hands over; its artifact
    paths have no extension, so the first byte decides) or CSV with a header row."""
    values = []
    with open(path, encoding="utf-8") as f:
        jsonl = f.read(1) == "{"
    if jsonl:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                row = json.loads(line)
                if column not in row:
                    sys.exit(f"{path} line {n}: no column '{column}' (it has {', '.join(row)})")
                values.append(float(row[column]))
                if rows and len(values) >= rows:
                    break
    else:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or column not in reader.fieldnames:
                sys.exit(f"{path}: no column '{column}' (header: {reader.fieldnames})")
            for row in reader:
                values.append(float(row[column]))
                if rows and len(values) >= rows:
                    break
    bad = [i + 1 for i, v in enumerate(values) if not math.isfinite(v)]
    if bad:
        sys.exit(f"{path}: row {bad[0]} of '{column}' is not a finite number")
    return values


class VolatilityLstm(torch.nn.Module):
    """returns [B, W] -> variance [B, 1]; the input scaling is part of the graph."""

    def __init__(self, hidden, spread):
        super().__init__()
        # Inputs divided by the training returns' spread, so the LSTM sees values of order one;
        # the head's bias starts at log(spread^2), the unconditional variance.
        self.register_buffer("inverse_spread", torch.tensor(1.0 / spread, dtype=torch.float32))
        self.lstm = torch.nn.LSTM(input_size=2, hidden_size=hidden, num_layers=1, batch_first=True)
        self.head = torch.nn.Linear(hidden, 1)
        with torch.no_grad():
            self.head.bias.fill_(math.log(spread * spread))

    def log_variance(self, returns):
        # Each step sees the return and its size: variance is about |r|, which a few tanh units
        # would otherwise have to learn to compute from the signed value.
        z = (returns * self.inverse_spread).unsqueeze(-1)
        out, _ = self.lstm(torch.cat([z, torch.abs(z)], dim=-1))
        return torch.clamp(self.head(out[:, -1, :]), -20.0, 20.0)

    def forward(self, returns):
        return torch.exp(self.log_variance(returns))


def windows(series, width):
    """Every window of `width` returns with the return that follows it: X [n, W], y [n]."""
    t = torch.tensor(series, dtype=torch.float32)
    x = t.unfold(0, width, 1)[:-1]
    y = t[width:]
    return x.contiguous(), y


def qlike_nll(log_h, r):
    """Mean of log h + r^2 / h: Gaussian NLL up to constants, QLIKE up to a forecast-free term."""
    log_h = log_h.reshape(-1)
    return (log_h + r * r * torch.exp(-log_h)).mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", default=os.environ.get("BALLAST_TRAIN"))
    parser.add_argument("--holdout", default=os.environ.get("BALLAST_HOLDOUT"))
    parser.add_argument("--output", default=os.environ.get("BALLAST_OUTPUT"))
    parser.add_argument("--params", default=os.environ.get("BALLAST_PARAMS", "{}"), help="JSON")
    for key, value in DEFAULTS.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=None)
    args = parser.parse_args()
    if not args.train or not args.output:
        sys.exit("give --train and --output (or BALLAST_TRAIN and BALLAST_OUTPUT)")
    params = dict(DEFAULTS)
    given = json.loads(args.params or "{}")
    for key in DEFAULTS:
        # Pipeline params arrive as strings ("${params.epochs}"); the defaults give each its type.
        if key in given and given[key] != "":
            params[key] = type(DEFAULTS[key])(given[key])
        flag = getattr(args, key)
        if flag is not None:
            params[key] = flag
    width, hidden, seed = int(params["window"]), int(params["hidden"]), int(params["seed"])
    if width < 2 or hidden < 1:
        sys.exit(f"window must be >= 2 and hidden >= 1, got window {width}, hidden {hidden}")

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    series = [v * params["scale"] for v in read_returns(args.train, params["column"], int(params["rows"]))]
    if len(series) < width + 50:
        sys.exit(f"too few returns to train on: {len(series)}; needs at least window + 50 = {width + 50}")
    x, y = windows(series, width)
    spread = float(torch.tensor(series).std())
    if not spread > 0:
        sys.exit("the training returns are constant: there is no variance to learn")
    model = VolatilityLstm(hidden, spread)
    optimizer = torch.optim.Adam(model.parameters(), lr=params["lr"])
    generator = torch.Generator().manual_seed(seed)
    batch = int(params["batch"])
    started = time.monotonic()
    print(f"{len(series)} returns, {len(y)} windows of {width}; hidden {hidden}, seed {seed}", flush=True)
    for epoch in range(int(params["epochs"])):
        order = torch.randperm(len(y), generator=generator)
        total = 0.0
        for i in range(0, len(y), batch):
            idx = order[i : i + batch]
            optimizer.zero_grad()
            loss = qlike_nll(model.log_variance(x[idx]), y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            total += float(loss) * len(idx)
        print(f"epoch {epoch + 1}: train loss {total / len(y):.5f}", flush=True)
        if time.monotonic() - started > params["max_seconds"]:
            print(f"stopping after {epoch + 1} epochs: max_seconds {params['max_seconds']} passed", flush=True)
            break

    model.eval()
    if args.holdout and os.path.exists(args.holdout):
        # Only reported: validation in Ballast decides. The holdout's first W returns are context.
        held = [v * params["scale"] for v in read_returns(args.holdout, params["column"], 0)]
        if len(held) > width:
            hx, hy = windows(series[-width:] + held, width)
            with torch.no_grad():
                print(f"holdout loss {float(qlike_nll(model.log_variance(hx), hy)):.5f} on {len(hy)} returns")

    torch.onnx.export(
        model,
        torch.zeros(1, width),
        args.output,
        input_names=["returns"],
        output_names=["variance"],
        dynamic_axes={"returns": {0: "batch"}, "variance": {0: "batch"}},
        opset_version=14,
    )
    print(f"wrote {args.output} ({os.path.getsize(args.output)} bytes) in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
