#!/usr/bin/python3
"""Writes the seed corpus for safetensors_fuzz into tests/fuzz/safetensors/corpus/ (run once; the
files are committed).

Valid seeds are written as the reference implementation writes them (8-byte little-endian header
length, compact JSON space-padded to an 8-byte boundary, tensors tiling the data buffer) across
every dtype plumb supports, 0-d and empty shapes, zero-size tensors, metadata and header orders
that differ from the data order; malformed ones cover what plumb must reject with plumb::Error.
Only the standard library is used. Every file stays under 1 KiB.
"""
import json
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def st_raw(header_text, data=b"", pad=True, length=None):
    """A file from a literal header string (padded with spaces to 8 bytes) and a data buffer."""
    text = header_text.encode("utf-8") if isinstance(header_text, str) else header_text
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + data


def st(tensors, metadata=None, order=None):
    """tensors: [(name, dtype, shape, bytes)] laid out in the given order; `order` lists the names
    in the order the header gives them (default: the same)."""
    header, data, off = {}, b"", 0
    entries = {}
    for name, dtype, shape, raw in tensors:
        entries[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in order or [t[0] for t in tensors]:
        header[name] = entries[name]
    return st_raw(json.dumps(header, separators=(",", ":"), ensure_ascii=False), data)


f32 = lambda *v: struct.pack(f"<{len(v)}f", *v)
f64 = lambda *v: struct.pack(f"<{len(v)}d", *v)
i64 = lambda *v: struct.pack(f"<{len(v)}q", *v)
i32 = lambda *v: struct.pack(f"<{len(v)}i", *v)
one_f32 = [("w", "F32", [1], f32(1.0))]

seeds = {
    # valid
    "f32_2x3_meta.safetensors": st([("weight", "F32", [2, 3], f32(0.5, -1, 2, float("inf"), float("nan"), -0.0))],
                                    metadata={"format": "pt", "note": "h\u00e9llo"}),
    "all_dtypes.safetensors": st([
        ("a.f64", "F64", [2], f64(1e300, -2.5)),
        ("b.f16", "F16", [3], struct.pack("<3H", 0x3C00, 0x7E01, 0x8001)),
        ("c.bf16", "BF16", [2], struct.pack("<2H", 0x3F80, 0xFF81)),
        ("d.i64", "I64", [2], i64(-(2**63), 2**63 - 1)),
        ("e.i32", "I32", [1, 1], i32(-7)),
        ("f.i8", "I8", [4], struct.pack("<4b", -128, -1, 0, 127)),
        ("g.u8", "U8", [2, 2], bytes([0, 1, 200, 255])),
        ("h.bool", "BOOL", [3], bytes([0, 1, 0])),
    ]),
    "header_order_differs.safetensors": st([("x", "I32", [2], i32(1, 2)), ("y", "F32", [1], f32(3))],
                                           order=["y", "x"]),
    "zero_d_and_empty.safetensors": st([("scalar", "F64", [], f64(3.25)), ("empty", "F32", [2, 0, 3], b""),
                                        ("none", "U8", [0], b"")]),
    "only_metadata.safetensors": st([], metadata={"k": "v"}),
    "empty_header.safetensors": st_raw("{}"),
    "bool_nonzero_bytes.safetensors": st([("m", "BOOL", [3], bytes([0, 2, 255]))]),
    "unicode_names.safetensors": st([("\u00fcber.\U0001F600", "U8", [1], b"\x07"), ("", "I8", [1], b"\x01")]),
    "escaped_header.safetensors": st_raw('{"w\\u0000":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                         '"__metadata__":{"a\\"b":"\\ud83d\\ude00"}}', b"\x09"),
    # malformed: plumb must reject each with plumb::Error
    "bad_short.safetensors": b"\x02\x00\x00",
    "bad_len_huge.safetensors": st_raw("{}", length=2**64 - 1),
    "bad_len_past_end.safetensors": st_raw("{}", length=64),
    "bad_not_json.safetensors": st_raw('{"w":{"dtype":"F32",'),
    "bad_not_object.safetensors": st_raw("[1,2]"),
    "bad_unknown_dtype.safetensors": st([("w", "F33", [1], f32(1))]),
    "bad_unsupported_dtype.safetensors": st([("w", "U16", [2], b"\0\0\0\0")]),
    "bad_negative_dim.safetensors": st([("w", "F32", [-1], b"")]),
    "bad_float_dim.safetensors": st_raw('{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', f32(1)),
    "bad_huge_shape.safetensors": st([("w", "U8", [0, 4294967296, 4294967296], b"")]),
    "bad_offsets_size.safetensors": st_raw('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', f32(1)),
    "bad_offsets_reversed.safetensors": st_raw('{"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', f32(1)),
    "bad_overlap.safetensors": st_raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                      '"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1)),
    "bad_gap.safetensors": st_raw('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32(1, 2)),
    "bad_trailing.safetensors": st([("w", "F32", [1], f32(1))])[:] + b"\0\0\0\0",
    "bad_duplicate_name.safetensors": st_raw('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                             '"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"\1\2"),
    "bad_extra_field.safetensors": st_raw('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}', b"\1"),
    "bad_missing_field.safetensors": st_raw('{"w":{"dtype":"U8","shape":[1]}}', b"\1"),
    "bad_metadata_value.safetensors": st([], metadata={"k": 1}),
    "bad_deep_nesting.safetensors": st_raw('{"w":{"dtype":"U8","shape":[[1]],"data_offsets":[0,1]}}', b"\1"),
    "bad_invalid_utf8.safetensors": st_raw(b'{"\xff":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\1"),
}

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    assert len(data) < 1024, (name, len(data))
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} files to {OUT}")
