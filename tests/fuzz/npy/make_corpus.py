#!/usr/bin/python3
"""Writes the seed corpus for npy_fuzz into tests/fuzz/npy/corpus/ (run once; the files are committed).

Valid seeds come from NumPy's own writer (np.lib.format.write_array) across dtypes, byte orders,
format versions, fortran_order, 0-d and empty shapes; a few hand-made ones cover what NumPy no
longer writes (Python 2 'L' suffixes, '=' byte order) and malformed files plumb must reject.
Every file stays under 1 KiB.
"""
import io
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def npy(arr, version=(1, 0)):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version, allow_pickle=False)
    return buf.getvalue()


def raw(header, data=b"", version=(1, 0)):
    """A .npy file with a hand-written header dict (padded like NumPy, to a 64-byte boundary)."""
    len_bytes = 2 if version[0] == 1 else 4
    prefix = 6 + 2 + len_bytes
    total = (prefix + len(header) + 1 + 63) // 64 * 64
    text = header + " " * (total - prefix - len(header) - 1) + "\n"
    fmt = "<H" if len_bytes == 2 else "<I"
    return b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(text)) + text.encode("latin1") + data


seeds = {
    # valid, written by NumPy
    "f8_2x3.npy": npy(np.arange(6, dtype="<f8").reshape(2, 3) * 0.5 - 1),
    "f4_be_4.npy": npy(np.array([1.5, -0.0, np.inf, np.nan], dtype=">f4")),
    "f2_3.npy": npy(np.array([0.1, -65504, 6e-8], dtype="<f2")),
    "i8_be_2x2_v2.npy": npy(np.array([[1, -2], [2**40, -(2**62)]], dtype=">i8"), version=(2, 0)),
    "i4_fortran_2x3.npy": npy(np.asfortranarray(np.arange(6, dtype="<i4").reshape(2, 3))),
    "i1_fortran_2x3x2_v3.npy": npy(np.asfortranarray(np.arange(-6, 6, dtype="i1").reshape(2, 3, 2)), version=(3, 0)),
    "u1_0d.npy": npy(np.array(200, dtype="u1")),
    "b1_5.npy": npy(np.array([True, False, True, True, False])),
    "f4_empty_0.npy": npy(np.zeros((0,), dtype="<f4")),
    "i4_empty_2x0x3.npy": npy(np.zeros((2, 0, 3), dtype="<i4")),
    "f8_0d_v2.npy": npy(np.array(3.25, dtype="<f8"), version=(2, 0)),
    "f4_1x1x1x1.npy": npy(np.ones((1, 1, 1, 1), dtype="<f4")),
    # valid, hand-written: Python 2 long suffixes, '=' byte order, double quotes, fortran 1-d
    "i8_py2_long.npy": raw("{'descr': '<i8', 'fortran_order': False, 'shape': (2L, 1L), }", struct.pack("<2q", 7, -7)),
    "f4_eq_order.npy": raw('{"descr": "=f4", "fortran_order": True, "shape": (2,)}', struct.pack("<2f", 1, 2)),
    "b1_nonzero_bytes.npy": raw("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", b"\x00\x02\xff"),
    # malformed: plumb must reject each with plumb::Error
    "bad_magic.npy": b"\x93NUMPZ\x01\x00" + npy(np.zeros(1, "<f4"))[8:],
    "bad_version_4.npy": npy(np.zeros(2, "<f4"))[:6] + b"\x04\x00" + npy(np.zeros(2, "<f4"))[8:],
    "bad_truncated_data.npy": npy(np.arange(4, dtype="<f8"))[:-3],
    "bad_truncated_header.npy": npy(np.arange(4, dtype="<f8"))[:40],
    "bad_structured.npy": npy(np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])),
    "bad_huge_shape.npy": raw("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
    "bad_unknown_key.npy": raw("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", b"\0\0\0\0"),
    "bad_complex.npy": npy(np.zeros(1, dtype="<c8")),
    # regression, found by npy_fuzz: a zero dimension first skips parse_npy's size check, and the
    # other dimensions overflow int64 in contiguous_strides (shape.cpp) -- must be rejected
    "regress_zero_dim_overflow.npy": raw("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }"),
}

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    assert len(data) < 1024, (name, len(data))
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} files to {OUT}")
