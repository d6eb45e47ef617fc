#!/usr/bin/python3
"""torch_peer: the PyTorch (CPU) twin of plumb_peer, for bench/peers/run.sh.

    /usr/bin/python3 torch_peer.py --model mlp|lenet5 --mode train|infer --batch B --steps N \
        --warmup W --threads T --seed S

Runs with Debian's /usr/bin/python3 (python3-torch). The models are the layers of plumb's
src/models/mlp.cpp and src/models/lenet5.cpp; train = zero_grad, forward, cross_entropy, backward,
SGD(lr 0.01, momentum 0.9).step(); infer = forward under model.eval() and torch.no_grad(). Inputs
(random f32, (B, 1, 28, 28)) and labels (random in [0, 10)) are built once before timing.
Prints one JSON line {"samples_per_second":..., "ms_per_step":..., "median_ms":...}.
"""
import argparse
import json
import statistics
import sys
import time

import torch
from torch import nn

EXAMPLE_SHAPE = (1, 28, 28)
NUM_CLASSES = 10


def build(name):
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 300), nn.ReLU(),
            nn.Linear(300, 100), nn.ReLU(),
            nn.Linear(100, 10))
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10))
    sys.exit(f"torch_peer: error: unknown model {name!r} (mlp, lenet5)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="mlp")
    p.add_argument("--mode", default="train", choices=["train", "infer"])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = build(a.model)
    x = torch.randn(a.batch, *EXAMPLE_SHAPE)
    y = torch.randint(0, NUM_CLASSES, (a.batch,))

    if a.mode == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = nn.functional.cross_entropy

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
    else:
        model.eval()
        torch.set_grad_enabled(False)

        def step():
            model(x)

    for _ in range(a.warmup):
        step()
    ms = []
    clock = time.perf_counter
    t0 = clock()
    for _ in range(a.steps):
        s0 = clock()
        step()
        ms.append((clock() - s0) * 1e3)
    total_ms = (clock() - t0) * 1e3
    mean = total_ms / a.steps
    print(json.dumps({"samples_per_second": round(a.batch * 1e3 / mean, 3),
                      "ms_per_step": round(mean, 6),
                      "median_ms": round(statistics.median(ms), 6)}))


if __name__ == "__main__":
    main()
