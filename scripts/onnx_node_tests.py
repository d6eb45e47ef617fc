#!/usr/bin/python3
"""Writes the ONNX backend node-test cases for plumb's importer conformance run
(tests/onnx/node_tests.cpp, `plumb_onnx_node_tests OUT_DIR`).

Usage: /usr/bin/python3 scripts/onnx_node_tests.py OUT_DIR

Needs Debian's python3-onnx (scripts/setup.sh installs it). Runs onnx's own test-data generator
(onnx.backend.test.cmd_tools generate-data) and keeps its node cases:
  OUT_DIR/node/test_<case>/model.onnx
  OUT_DIR/node/test_<case>/test_data_set_0/input_<k>.pb, output_<k>.pb   (TensorProto)
plumb imports opsets 11 to 17. Cases written for an older opset whose every op has the same
definition (schema since_version) in that opset and in opset 17 are also written retargeted to
opset 17, unchanged otherwise, as OUT_DIR/node_opset17/test_<case>/.
Both sets are made in a private temporary directory whose folders replace the old ones by rename,
so a concurrent reader never sees a partial set.
"""
import os
import shutil
import sys
import tempfile
import types
import warnings

import numpy as np

# Debian's onnx 1.12 still uses NumPy aliases that NumPy 1.24 removed.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # hasattr on np.object / np.str warns
    for alias, target in [("float", float), ("int", int), ("bool", bool), ("object", object), ("str", str)]:
        if not hasattr(np, alias):
            setattr(np, alias, target)

try:
    import onnx  # noqa: E402
    from onnx.backend.test import cmd_tools  # noqa: E402
except ImportError as e:
    sys.exit(f"onnx_node_tests.py: cannot import onnx's test generator ({e}); "
             "scripts/setup.sh installs python3-onnx")


TARGET_OPSET = 17
MIN_OPSET = 11


def default_opset(model) -> int:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return 0


def unchanged_up_to_target(model, opset: int) -> bool:
    """Whether every node's op has one definition from `opset` through TARGET_OPSET."""
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            return False
        try:
            then = onnx.defs.get_schema(node.op_type, opset).since_version
            now = onnx.defs.get_schema(node.op_type, TARGET_OPSET).since_version
        except Exception:  # an op unknown to this onnx, or removed since
            return False
        if then != now:
            return False
    return True


def retarget(node_dir: str, out_dir: str) -> int:
    """Copies the cases below MIN_OPSET whose ops did not change, with opset TARGET_OPSET."""
    os.makedirs(out_dir)
    count = 0
    for case in sorted(os.listdir(node_dir)):
        model = onnx.load(os.path.join(node_dir, case, "model.onnx"))
        opset = default_opset(model)
        if opset == 0 or opset >= MIN_OPSET or not unchanged_up_to_target(model, opset):
            continue
        for o in model.opset_import:
            if o.domain in ("", "ai.onnx"):
                o.version = TARGET_OPSET
        model.ir_version = max(model.ir_version, 8)  # opset 17 needs IR 8
        shutil.copytree(os.path.join(node_dir, case), os.path.join(out_dir, case))
        onnx.save(model, os.path.join(out_dir, case, "model.onnx"))
        count += 1
    return count


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: onnx_node_tests.py OUT_DIR", file=sys.stderr)
        return 2
    out_dir = os.path.abspath(sys.argv[1])
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".node-", dir=out_dir)
    try:
        cmd_tools.generate_data(types.SimpleNamespace(output=tmp, op_type=None))
        node_dir = os.path.join(tmp, "node")
        cases = sorted(os.listdir(node_dir))
        if not cases:
            print("onnx_node_tests.py: the generator wrote no node cases", file=sys.stderr)
            return 1
        retargeted = retarget(node_dir, os.path.join(tmp, "node_opset17"))
        for name in ("node", "node_opset17"):
            target = os.path.join(out_dir, name)
            old = None
            if os.path.exists(target):
                old = tempfile.mkdtemp(prefix=".old-", dir=out_dir)
                os.replace(target, os.path.join(old, name))
            os.replace(os.path.join(tmp, name), target)
            if old:
                shutil.rmtree(old, ignore_errors=True)
        print(f"wrote {len(cases)} ONNX {onnx.__version__} node cases to {os.path.join(out_dir, 'node')} "
              f"and {retargeted} retargeted to opset {TARGET_OPSET} to {os.path.join(out_dir, 'node_opset17')}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
