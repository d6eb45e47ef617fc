#!/usr/bin/python3
"""Exports torchvision models to ONNX with PyTorch's reference outputs, for plumb's ONNX tests
(tests/onnx/torch_models_test.cpp).

Usage: /usr/bin/python3 scripts/torch_onnx_models.py OUT_DIR [--models a,b,...] [--opset N] [--force]

Needs Debian's python3-torch and python3-torchvision. Every model has random weights
(torch.manual_seed(0), weights=None), BatchNorm statistics calibrated on three random batches (see
calibrate_batchnorm) and is exported in eval mode. For each model the script writes
  OUT_DIR/<name>.onnx         torch.onnx.export, dynamic batch axis, constant folding
  OUT_DIR/<name>.input.npy    a seeded float32 batch of 2 images
  OUT_DIR/<name>.output.npy   PyTorch's output for it
and lists them in OUT_DIR/manifest.json:

  {"version": 1, "torch": "1.13.0", "torchvision": "0.14.1", "opset": 17, "models": [
     {"name": "resnet18", "onnx": "resnet18.onnx", "input": "resnet18.input.npy",
      "output": "resnet18.output.npy", "input_name": "input", "output_name": "output",
      "input_shape": [2, 3, 64, 64], "output_shape": [2, 1000], "max_abs_output": 1.7,
      "onnx_bytes": 46827000, "seconds": 3.1}]}

Images are 64x64 where the model pools adaptively to a fixed size; alexnet keeps 224x224 (its
adaptive pool to 6x6 only exports when the feature map is a multiple of 6) and inception_v3 uses
96x96 (its smallest usable size is 75). Files go to a private temporary directory and are moved into
OUT_DIR one by one with os.replace, manifest last, so a concurrent reader never sees a partial file.
Without --force nothing is exported when OUT_DIR's manifest already lists the same models, opset and
torch versions and is newer than this script.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torchvision

INPUT_SEED = 20240917
CALIBRATION_SEED = 20240918

# name -> (constructor keyword arguments, image side). alexnet (244 MB) and vgg11 (531 MB) are left
# out of the default set for their size; their ops (Conv, Relu, MaxPool, AveragePool, Gemm) are all
# in the others.
MODELS = {
    "resnet18": ({}, 64),
    "mobilenet_v2": ({}, 64),
    "squeezenet1_1": ({}, 64),
    "shufflenet_v2_x1_0": ({}, 64),
    "densenet121": ({}, 64),
    "googlenet": ({"aux_logits": False, "init_weights": True}, 64),
    "inception_v3": ({"aux_logits": False, "init_weights": True}, 96),
    "alexnet": ({}, 224),
    "mobilenet_v3_small": ({}, 64),
    "efficientnet_b0": ({}, 64),
    "vgg11": ({}, 224),
}
DEFAULT = ["resnet18", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x1_0", "densenet121",
           "googlenet", "inception_v3", "mobilenet_v3_small", "efficientnet_b0"]


def calibrate_batchnorm(model, side):
    """Sets every BatchNorm's running statistics from a few random batches.

    Freshly initialized BatchNorms hold mean 0 and variance 1, so activations drift layer by layer:
    with them mobilenet_v2's logits are about 1e-9 and inception_v3's about 1e9, which would make a
    comparison meaningless. Calibrated, every layer sees roughly unit activations and the logits are
    O(1), and the exported BatchNorms carry non-trivial statistics.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average over the calibration batches
    gen = torch.Generator().manual_seed(CALIBRATION_SEED)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, side, side, generator=gen))
    model.eval()


def export(name, opset, tmpdir):
    kwargs, side = MODELS[name]
    start = time.monotonic()
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, **kwargs)
    calibrate_batchnorm(model, side)
    model.eval()
    gen = torch.Generator().manual_seed(INPUT_SEED)
    x = torch.randn(2, 3, side, side, generator=gen, dtype=torch.float32)
    with torch.no_grad():
        y = model(x)
    onnx_name = f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), os.path.join(tmpdir, onnx_name), opset_version=opset,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                          do_constant_folding=True)
    files = {"onnx": onnx_name, "input": f"{name}.input.npy", "output": f"{name}.output.npy"}
    np.save(os.path.join(tmpdir, files["input"]), x.numpy())
    np.save(os.path.join(tmpdir, files["output"]), y.numpy())
    return {
        "name": name,
        **files,
        "input_name": "input",
        "output_name": "output",
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "max_abs_output": float(y.abs().max()),
        "onnx_bytes": os.path.getsize(os.path.join(tmpdir, onnx_name)),
        "seconds": round(time.monotonic() - start, 2),
    }


def up_to_date(out_dir, names, opset):
    """True when OUT_DIR holds these models from this script, opset and torch, with every file."""
    path = os.path.join(out_dir, "manifest.json")
    try:
        if os.path.getmtime(path) < os.path.getmtime(os.path.abspath(__file__)):
            return False
        with open(path) as f:
            m = json.load(f)
        return (m.get("version") == 1 and m.get("opset") == opset and m.get("torch") == torch.__version__
                and m.get("torchvision") == torchvision.__version__
                and [e["name"] for e in m["models"]] == names
                and all(os.path.exists(os.path.join(out_dir, e[k])) for e in m["models"]
                        for k in ("onnx", "input", "output")))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--models", default=",".join(DEFAULT),
                        help="comma-separated, from: " + ", ".join(MODELS))
    parser.add_argument("--opset", type=int, default=17, choices=range(13, 18))
    parser.add_argument("--force", action="store_true", help="export even when OUT_DIR is up to date")
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    if not args.force and up_to_date(args.out_dir, names, args.opset):
        print(f"{args.out_dir} is up to date ({', '.join(names)})")
        return 0

    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    os.makedirs(args.out_dir, exist_ok=True)
    tmpdir = tempfile.mkdtemp(prefix=".torch_onnx.", dir=args.out_dir)
    try:
        entries = []
        for name in names:
            entry = export(name, args.opset, tmpdir)
            entries.append(entry)
            for key in ("onnx", "input", "output"):
                os.replace(os.path.join(tmpdir, entry[key]), os.path.join(args.out_dir, entry[key]))
            print(f"{name}: {entry['input_shape']} -> {entry['output_shape']}, "
                  f"{entry['onnx_bytes'] / 1e6:.1f} MB, {entry['seconds']} s", flush=True)
        manifest = {"version": 1, "torch": torch.__version__, "torchvision": torchvision.__version__,
                    "opset": args.opset, "models": entries}
        with open(os.path.join(tmpdir, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)
        os.replace(os.path.join(tmpdir, "manifest.json"), os.path.join(args.out_dir, "manifest.json"))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
