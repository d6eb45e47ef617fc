#!/usr/bin/python3
"""Writes PyTorch reference outputs for plumb's golden tests (tests/golden/golden_test.cpp).

Usage: /usr/bin/python3 scripts/make_golden.py OUTDIR

Needs Debian's python3-torch and python3-numpy (scripts/setup.sh installs them). Every case is
float64 with tiny shapes and a fixed seed. For each case the script saves its inputs, its expected
outputs, a random cotangent per differentiated output and the expected gradients as .npy files, and
lists them in OUTDIR/manifest.json:

  {"version": 1, "torch": "1.13.0", "cases": [
     {"name": "conv2d_stride2", "family": "conv", "attrs": {...},
      "inputs": {"x": "conv2d_stride2.x.npy", ...},      # fed to plumb
      "expected": {"y": "conv2d_stride2.y.npy", ...}}]}  # outputs and gradients plumb must match

Gradient keys are "grad_<input>" and cotangent keys "cot_<output>" (cotangents are inputs).
Files are written to a private temporary directory and moved into OUTDIR one by one with
os.replace, manifest last, so a concurrent reader never sees a half-written file.
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20240611


class Writer:
    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.cases = []
        self.files = []

    def _save(self, case, key, t):
        fname = f"{case}.{key}.npy"
        arr = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        np.save(os.path.join(self.tmpdir, fname), np.array(arr, order="C"))  # keeps 0-d arrays 0-d
        self.files.append(fname)
        return fname

    def add(self, name, family, attrs, inputs, expected):
        assert not any(c["name"] == name for c in self.cases), name
        self.cases.append({
            "name": name,
            "family": family,
            "attrs": attrs,
            "inputs": {k: self._save(name, k, v) for k, v in inputs.items()},
            "expected": {k: self._save(name, k, v) for k, v in expected.items()},
        })


def rand(*shape, lo=-1.0, hi=1.0):
    return torch.rand(size=tuple(shape), dtype=torch.float64) * (hi - lo) + lo


def leaf(t):
    return t.clone().requires_grad_(True)


def grads_of(outputs, cots, wrt):
    """d(outputs)/d(wrt) contracted with the given cotangents."""
    gs = torch.autograd.grad(outputs, wrt, grad_outputs=cots, allow_unused=False)
    return [g.detach() for g in gs]


def with_grads(w, name, family, attrs, inputs, grad_names, fn, out_names=("y",)):
    """Runs fn(**leaves) -> tuple of outputs; differentiates the first output with a random cotangent."""
    leaves = {k: (leaf(v) if k in grad_names else v) for k, v in inputs.items()}
    outs = fn(**leaves)
    if isinstance(outs, torch.Tensor):
        outs = (outs,)
    y = outs[0]
    cot = rand(*y.shape)
    gs = grads_of([y], [cot], [leaves[k] for k in grad_names])
    expected = {n: o.detach() for n, o in zip(out_names, outs)}
    expected.update({f"grad_{k}": g for k, g in zip(grad_names, gs)})
    all_inputs = dict(inputs)
    all_inputs[f"cot_{out_names[0]}"] = cot
    w.add(name, family, attrs, all_inputs, expected)


# ---- matmul ----
def matmul_cases(w):
    def mm(a, b):
        return torch.matmul(a, b)

    with_grads(w, "matmul_plain", "matmul", {"transpose_b": False},
               {"a": rand(3, 4), "b": rand(4, 5)}, ["a", "b"], mm)
    with_grads(w, "matmul_batched_broadcast", "matmul", {"transpose_b": False},
               {"a": rand(2, 1, 3, 4), "b": rand(3, 4, 5)}, ["a", "b"], mm)
    with_grads(w, "matmul_batch_times_matrix", "matmul", {"transpose_b": False},
               {"a": rand(2, 3, 4), "b": rand(4, 2)}, ["a", "b"], mm)
    # b is stored (N, K); the op sees its transpose, a non-contiguous view.
    with_grads(w, "matmul_transposed_b", "matmul", {"transpose_b": True},
               {"a": rand(3, 4), "b": rand(5, 4)}, ["a", "b"], lambda a, b: torch.matmul(a, b.t()))
    with_grads(w, "matmul_batched_transposed_b", "matmul", {"transpose_b": True},
               {"a": rand(2, 3, 4), "b": rand(2, 5, 4)}, ["a", "b"],
               lambda a, b: torch.matmul(a, b.transpose(-1, -2)))


# ---- convolution ----
def conv_cases(w):
    convs = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}

    def case(name, x_shape, w_shape, stride, padding, dilation, groups):
        nd = len(w_shape) - 2
        attrs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        with_grads(w, name, "conv", attrs, {"x": rand(*x_shape), "w": rand(*w_shape)}, ["x", "w"],
                   lambda x, w: convs[nd](x, w, None, stride, padding, dilation, groups))

    case("conv2d_basic", (2, 3, 7, 7), (4, 3, 3, 3), [1, 1], [0, 0], [1, 1], 1)
    # H=W=8, k=3, stride 2: the last row and column are never read, so their grad is zero.
    case("conv2d_stride2", (2, 3, 8, 8), (4, 3, 3, 3), [2, 2], [0, 0], [1, 1], 1)
    case("conv2d_padding1", (2, 3, 6, 6), (4, 3, 3, 3), [1, 1], [1, 1], [1, 1], 1)
    case("conv2d_dilation2", (2, 3, 9, 9), (4, 3, 3, 3), [1, 1], [0, 0], [2, 2], 1)
    case("conv2d_groups2", (2, 4, 6, 6), (6, 2, 3, 3), [1, 1], [0, 0], [1, 1], 2)
    case("conv2d_mixed", (2, 4, 9, 8), (6, 2, 3, 2), [2, 1], [1, 2], [1, 2], 2)
    case("conv2d_1x1", (2, 5, 4, 4), (3, 5, 1, 1), [1, 1], [0, 0], [1, 1], 1)
    case("conv1d", (2, 3, 11), (4, 3, 3), [2], [1], [1], 1)
    case("conv3d", (1, 2, 5, 6, 5), (3, 2, 3, 3, 2), [2, 1, 1], [1, 0, 1], [1, 1, 2], 1)


# ---- pooling ----
def pool_cases(w):
    def max_case(name, x_shape, kernel, stride, padding, ceil_mode):
        attrs = {"kind": "max", "kernel": kernel, "stride": stride, "padding": padding,
                 "ceil_mode": ceil_mode, "count_include_pad": True}
        # Random float64 inputs have no ties, so the max is unique and the gradient well defined.
        with_grads(w, name, "pool", attrs, {"x": rand(*x_shape)}, ["x"],
                   lambda x: F.max_pool2d(x, kernel, stride or None, padding, 1, ceil_mode))

    def avg_case(name, x_shape, kernel, stride, padding, ceil_mode, count_include_pad):
        attrs = {"kind": "avg", "kernel": kernel, "stride": stride, "padding": padding,
                 "ceil_mode": ceil_mode, "count_include_pad": count_include_pad}
        with_grads(w, name, "pool", attrs, {"x": rand(*x_shape)}, ["x"],
                   lambda x: F.avg_pool2d(x, kernel, stride or None, padding, ceil_mode, count_include_pad))

    # An empty stride means stride = kernel (both in torch and plumb).
    max_case("max_pool2d_k2", (2, 3, 6, 6), [2, 2], [], [0, 0], False)
    max_case("max_pool2d_k3_s2_p1", (2, 2, 7, 7), [3, 3], [2, 2], [1, 1], False)
    max_case("max_pool2d_ceil", (1, 2, 8, 8), [3, 3], [2, 2], [0, 0], True)
    max_case("max_pool2d_ceil_pad", (1, 2, 6, 7), [3, 3], [2, 2], [1, 1], True)
    max_case("max_pool2d_rect", (2, 2, 7, 6), [3, 2], [2, 1], [1, 0], False)
    avg_case("avg_pool2d_k2", (2, 3, 6, 6), [2, 2], [], [0, 0], False, True)
    avg_case("avg_pool2d_k3_s2_p1", (2, 2, 7, 7), [3, 3], [2, 2], [1, 1], False, True)
    avg_case("avg_pool2d_exclude_pad", (2, 2, 7, 7), [3, 3], [2, 2], [1, 1], False, False)
    avg_case("avg_pool2d_ceil", (1, 2, 8, 8), [3, 3], [2, 2], [0, 0], True, True)
    avg_case("avg_pool2d_ceil_pad", (1, 2, 6, 7), [3, 3], [2, 2], [1, 1], True, True)
    avg_case("avg_pool2d_ceil_pad_exclude", (1, 2, 6, 7), [3, 3], [2, 2], [1, 1], True, False)


# ---- batch norm ----
def batch_norm_cases(w):
    def case(name, x_shape, training, eps):
        c = x_shape[1]
        inputs = {"x": rand(*x_shape, lo=-2, hi=3), "weight": rand(c, lo=0.5, hi=1.5), "bias": rand(c),
                  "running_mean": rand(c, lo=-0.5, hi=0.5), "running_var": rand(c, lo=0.5, hi=2.0)}
        attrs = {"training": training, "eps": eps}
        axes = [0] + list(range(2, len(x_shape)))

        def fn(x, weight, bias, running_mean, running_var):
            y = F.batch_norm(x, running_mean.clone(), running_var.clone(), weight, bias, training, 0.1, eps)
            if training:
                # plumb returns the batch statistics; the variance is the biased one used to normalize.
                return y, x.mean(dim=axes), x.var(dim=axes, unbiased=False)
            return y, running_mean, running_var

        with_grads(w, name, "batch_norm", attrs, inputs, ["x", "weight", "bias"], fn,
                   out_names=("y", "batch_mean", "batch_var"))

    case("batch_norm_train_4d", (3, 4, 3, 3), True, 1e-5)
    case("batch_norm_train_2d", (6, 4), True, 1e-5)
    case("batch_norm_train_3d_eps", (4, 3, 5), True, 1e-3)
    case("batch_norm_eval_4d", (3, 4, 3, 3), False, 1e-5)
    case("batch_norm_eval_2d", (6, 4), False, 1e-3)


# ---- cross entropy ----
def cross_entropy_cases(w):
    def case(name, logits_shape, target, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
        attrs = {"ignore_index": ignore_index, "label_smoothing": label_smoothing, "reduction": reduction}
        inputs = {"logits": rand(*logits_shape, lo=-3, hi=3), "target": target}
        with_grads(w, name, "cross_entropy", attrs, inputs, ["logits"],
                   lambda logits, target: F.cross_entropy(logits, target, None, None, ignore_index, None,
                                                          reduction, label_smoothing))

    t = torch.tensor
    case("cross_entropy_mean", (5, 4), t([0, 3, 1, 2, 3]))
    case("cross_entropy_sum", (5, 4), t([2, 0, 1, 3, 1]), reduction="sum")
    case("cross_entropy_none", (5, 4), t([1, 1, 0, 3, 2]), reduction="none")
    case("cross_entropy_ignore_index", (6, 4), t([0, 2, 2, 1, 3, 2]), ignore_index=2)
    case("cross_entropy_ignore_default", (5, 4), t([0, -100, 3, -100, 1]))
    case("cross_entropy_ignore_sum", (5, 4), t([0, 2, 3, 2, 1]), ignore_index=2, reduction="sum")
    case("cross_entropy_smoothing", (5, 4), t([0, 3, 1, 2, 3]), label_smoothing=0.1)
    case("cross_entropy_smoothing_sum", (5, 4), t([0, 3, 1, 2, 3]), label_smoothing=0.1, reduction="sum")
    case("cross_entropy_smoothing_ignore", (6, 4), t([0, 2, 2, 1, 3, 2]), ignore_index=2, label_smoothing=0.1)
    case("cross_entropy_nd", (2, 4, 3), t([[0, 3, 1], [2, 2, 0]]))
    case("cross_entropy_nd_none", (2, 4, 3), t([[0, 3, 1], [2, 2, 0]]), reduction="none")
    case("cross_entropy_nd2_smoothing", (2, 3, 2, 2), t([[[0, 2], [1, 1]], [[2, 0], [1, 2]]]),
         label_smoothing=0.1)


# ---- local response norm ----
def lrn_cases(w):
    def case(name, x_shape, size, alpha, beta, k):
        attrs = {"size": size, "alpha": alpha, "beta": beta, "k": k}
        with_grads(w, name, "lrn", attrs, {"x": rand(*x_shape, lo=-2, hi=2)}, ["x"],
                   lambda x: F.local_response_norm(x, size, alpha, beta, k))

    # Large alpha so the normalization is far from the identity.
    case("lrn_size5", (2, 7, 3, 3), 5, 0.5, 0.75, 1.0)
    case("lrn_size3", (2, 6, 2, 3), 3, 0.3, 0.5, 2.0)
    case("lrn_size5_defaults", (1, 8, 2, 2), 5, 1e-4, 0.75, 1.0)


# ---- layer norm ----
def layer_norm_cases(w):
    def case(name, x_shape, normalized_dims, eps):
        nshape = x_shape[len(x_shape) - normalized_dims:]
        attrs = {"normalized_dims": normalized_dims, "eps": eps}
        inputs = {"x": rand(*x_shape, lo=-2, hi=3), "weight": rand(*nshape, lo=0.5, hi=1.5), "bias": rand(*nshape)}
        with_grads(w, name, "layer_norm", attrs, inputs, ["x", "weight", "bias"],
                   lambda x, weight, bias: F.layer_norm(x, nshape, weight, bias, eps))

    case("layer_norm_last1", (3, 4, 5), 1, 1e-5)
    case("layer_norm_last2", (3, 4, 5), 2, 1e-5)
    case("layer_norm_2d_eps", (4, 6), 1, 1e-3)


# ---- softmax / log_softmax ----
def softmax_cases(w):
    def case(name, kind, x_shape, axis):
        fn = torch.softmax if kind == "softmax" else torch.log_softmax
        with_grads(w, name, "softmax", {"kind": kind, "axis": axis}, {"x": rand(*x_shape, lo=-3, hi=3)}, ["x"],
                   lambda x: fn(x, axis))

    case("softmax_last", "softmax", (3, 5), -1)
    case("softmax_axis1", "softmax", (2, 4, 3), 1)
    case("log_softmax_last", "log_softmax", (3, 5), -1)
    case("log_softmax_axis0", "log_softmax", (4, 2, 3), 0)


# ---- mse ----
def mse_cases(w):
    def case(name, shape, reduction):
        with_grads(w, name, "mse_loss", {"reduction": reduction}, {"a": rand(*shape), "b": rand(*shape)},
                   ["a", "b"], lambda a, b: F.mse_loss(a, b, reduction=reduction))

    case("mse_loss_mean", (4, 5), "mean")
    case("mse_loss_sum", (3, 2, 4), "sum")
    case("mse_loss_none", (3, 4), "none")


# ---- CTC loss ----
def ctc_cases(w):
    """Scores pass through log_softmax, so torch's gradient w.r.t. log_probs (which adds exp(log_probs) on
    every frame inside the input length: the term that log_softmax's backward cancels) and the gradient
    w.r.t. the logits are both saved; plumb documents the difference (docs/sequence_ops.md)."""
    def case(name, T, C, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
        n = len(input_lengths)
        attrs = {"blank": blank, "reduction": reduction, "zero_infinity": zero_infinity}
        inputs = {"logits": rand(T, n, C, lo=-3, hi=3), "targets": torch.tensor(targets, dtype=torch.int64),
                  "input_lengths": torch.tensor(input_lengths, dtype=torch.int64),
                  "target_lengths": torch.tensor(target_lengths, dtype=torch.int64)}

        def loss_of(lp):
            return F.ctc_loss(lp, inputs["targets"], inputs["input_lengths"], inputs["target_lengths"], blank,
                              reduction, zero_infinity)

        logits = leaf(inputs["logits"])
        log_probs = leaf(F.log_softmax(inputs["logits"], 2))
        loss = loss_of(log_probs)
        cot = rand(*loss.shape)
        (grad_lp,) = grads_of([loss], [cot], [log_probs])
        (grad_logits,) = grads_of([loss_of(F.log_softmax(logits, 2))], [cot], [logits])
        w.add(name, "ctc", attrs, dict(inputs, cot_loss=cot),
              {"loss": loss.detach(), "grad_log_probs": grad_lp, "grad_logits": grad_logits})

    # Padded (N, S) targets, varying lengths; item 0 repeats labels (a blank must separate them).
    case("ctc_padded_mean", 12, 6, [[2, 2, 3, 3, 1], [4, 1, 5, 0, 0], [5, 0, 0, 0, 0], [1, 2, 1, 2, 0]],
         [12, 10, 7, 12], [5, 3, 1, 4])
    case("ctc_padded_sum", 20, 8, [[7, 7, 7, 1, 2, 3], [1, 2, 3, 4, 5, 6], [3, 3, 0, 0, 0, 0]],
         [20, 15, 6], [6, 6, 2], reduction="sum")
    # An empty target (probability of all blanks) and a target as long as the input allows (3 labels in 3 frames).
    case("ctc_none_empty_target", 9, 4, [[1, 2, 3], [0, 0, 0], [3, 1, 2], [2, 2, 0], [1, 0, 0]],
         [9, 5, 3, 8, 1], [3, 0, 3, 2, 1], reduction="none")
    # Concatenated 1-d targets.
    case("ctc_concatenated", 10, 5, [1, 2, 2, 4, 3, 1, 4, 4, 4, 2], [10, 8, 10], [4, 2, 4])
    # The blank is not class 0: the last class, and a middle one (label 0 is then an ordinary label).
    case("ctc_blank_last", 11, 6, [[0, 1, 1, 4], [3, 0, 2, 0], [4, 4, 0, 0]], [11, 9, 6], [4, 4, 2], blank=5)
    case("ctc_blank_middle_sum", 8, 5, [0, 1, 0, 3, 4, 4, 1], [8, 8, 7], [3, 2, 2], blank=2, reduction="sum")
    # Item 1 needs 5 frames (1 1 1) but has 3: an infinite loss, zeroed with its gradient.
    case("ctc_zero_infinity_none", 6, 4, [[1, 2, 3], [1, 1, 1], [3, 3, 0]], [6, 3, 6], [3, 3, 2],
         reduction="none", zero_infinity=True)
    case("ctc_zero_infinity_mean", 6, 4, [[1, 2, 3], [1, 1, 1], [3, 3, 0]], [6, 3, 6], [3, 3, 2],
         zero_infinity=True)
    # Longer sequences: the log-space recursions must not underflow.
    g = torch.Generator().manual_seed(SEED)
    long_targets = torch.randint(1, 10, (2, 15), generator=g).tolist()
    case("ctc_long", 60, 10, long_targets, [60, 48], [15, 11])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_golden.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    tmpdir = tempfile.mkdtemp(prefix=".golden-tmp-", dir=outdir)
    try:
        w = Writer(tmpdir)
        for make in (matmul_cases, conv_cases, pool_cases, batch_norm_cases, cross_entropy_cases, lrn_cases,
                     layer_norm_cases, softmax_cases, mse_cases, ctc_cases):
            make(w)
        for fname in w.files:
            os.replace(os.path.join(tmpdir, fname), os.path.join(outdir, fname))
        manifest = {"version": 1, "torch": torch.__version__, "seed": SEED, "cases": w.cases}
        tmp_manifest = os.path.join(tmpdir, "manifest.json")
        with open(tmp_manifest, "w") as f:
            json.dump(manifest, f, indent=1)
        os.replace(tmp_manifest, os.path.join(outdir, "manifest.json"))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    print(f"make_golden: wrote {len(w.cases)} cases to {outdir}")


if __name__ == "__main__":
    main()
