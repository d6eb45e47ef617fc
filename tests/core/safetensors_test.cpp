// safetensors: round trips of every dtype, the byte layout, every malformed-input error, the
// atomic write, and files exchanged with an independent Python reader/writer.
#include "plumb/safetensors.h"

#include <gtest/gtest.h>

#include "common/temp_dir.h"
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace plumb {
namespace {

namespace fs = std::filesystem;

class SafetensorsFiles : public testing::TempDirTest {
 protected:
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

constexpr DType kAll[] = {DType::f64, DType::f32, DType::f16, DType::bf16, DType::i64,
                          DType::i32, DType::i8,  DType::u8,  DType::boolean};

// Element i's value per dtype; exactly representable in every listed dtype (the Python side
// uses the same formulas).
double value_at(DType t, int64_t i) {
  switch (t) {
    case DType::f64:
    case DType::f32:
    case DType::f16:
    case DType::bf16: return static_cast<double>(i) * 0.5 - 3.0;
    case DType::i64:
    case DType::i32:
    case DType::i8: return static_cast<double>(i - 3);
    case DType::u8: return static_cast<double>(i * 7);
    case DType::boolean: return i % 3 == 0 ? 1.0 : 0.0;
  }
  return 0;
}

Tensor make_tensor(DType t, Shape shape) {
  Tensor x = Tensor::empty(shape, t);
  for (int64_t i = 0; i < x.numel(); ++i) set_element_from_double(x, i, value_at(t, i));
  return x;
}

void expect_values(const Tensor& x, DType t, const Shape& shape) {
  ASSERT_EQ(x.dtype(), t);
  ASSERT_EQ(x.shape(), shape);
  ASSERT_TRUE(x.is_contiguous());
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(element_as_double(x, i), value_at(t, i)) << "element " << i;
}

// Every dtype at shape (2, 3), 0-d and empty (0, 3).
NamedTensors all_tensors() {
  NamedTensors ts;
  for (DType t : kAll) {
    const std::string n(dtype_name(t));
    ts.emplace_back(n + ".matrix", make_tensor(t, {2, 3}));
    ts.emplace_back(n + ".scalar", make_tensor(t, {}));
    ts.emplace_back(n + ".empty", make_tensor(t, {0, 3}));
  }
  return ts;
}

void expect_same(const SafetensorsContents& got, const NamedTensors& want) {
  ASSERT_EQ(got.tensors.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(want[i].first);
    EXPECT_EQ(got.tensors[i].first, want[i].first);
    const Tensor& w = want[i].second;
    const Tensor& g = got.tensors[i].second;
    ASSERT_EQ(g.dtype(), w.dtype());
    ASSERT_EQ(g.shape(), w.shape());
    ASSERT_EQ(g.nbytes(), w.nbytes());
    if (w.nbytes()) EXPECT_EQ(std::memcmp(g.raw_data(), w.raw_data(), w.nbytes()), 0);
  }
}

// A file from a raw header text and data buffer.
std::string make_file(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(header.size()) >> (8 * i)) & 0xff);
  return out + header + data;
}

std::string with_length(uint64_t n, const std::string& rest) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + rest;
}

std::string read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_all(const std::string& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// parse_safetensors(bytes) must throw one Error whose message names the file and contains `fact`.
void expect_error(const std::string& bytes, const std::string& fact) {
  try {
    parse_safetensors(bytes, "bad.safetensors");
    ADD_FAILURE() << "no error; expected: " << fact;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("bad.safetensors: ", 0), 0u) << what;
    EXPECT_NE(what.find(fact), std::string::npos) << "expected '" << fact << "' in: " << what;
  }
}

TEST(Safetensors, RoundTripsEveryDTypeInMemory) {
  const NamedTensors ts = all_tensors();
  const TensorMetadata meta{{"format", "pt"}, {"note", "ünïcode ✓"}};
  const SafetensorsContents got = parse_safetensors(serialize_safetensors(ts, meta), "mem");
  expect_same(got, ts);
  EXPECT_EQ(got.metadata, meta);
  for (size_t i = 0; i < ts.size(); ++i) {
    SCOPED_TRACE(ts[i].first);
    expect_values(got.tensors[i].second, ts[i].second.dtype(), ts[i].second.shape());
  }
}

TEST_F(SafetensorsFiles, RoundTripsEveryDTypeThroughAFile) {
  const NamedTensors ts = all_tensors();
  write_safetensors(path("all.safetensors"), ts, {{"k", "v"}});
  const SafetensorsContents got = read_safetensors(path("all.safetensors"));
  expect_same(got, ts);
  EXPECT_EQ(got.metadata, (TensorMetadata{{"k", "v"}}));
  // Same bytes as the in-memory serializer.
  EXPECT_EQ(read_all(path("all.safetensors")), serialize_safetensors(ts, {{"k", "v"}}));
}

TEST(Safetensors, KeepsSpecialFloatBitsAndNormalizesBools) {
  // +inf, -inf, a NaN with payload, -0, the smallest subnormal.
  Tensor raw_bits = Tensor::empty({5}, DType::f16);
  const uint16_t h_bits[] = {0x7c00, 0xfc00, 0x7e01, 0x8000, 0x0001};
  std::memcpy(raw_bits.raw_data(), h_bits, 10);
  Tensor bf = Tensor::empty({3}, DType::bf16);
  const uint16_t bf_bits[] = {0x7f80, 0x7fc1, 0x0001};
  std::memcpy(bf.raw_data(), bf_bits, 6);
  const NamedTensors ts{{"h", raw_bits}, {"b", bf}};
  const SafetensorsContents got = parse_safetensors(serialize_safetensors(ts), "mem");
  expect_same(got, ts);

  // A BOOL byte other than 0/1 reads as true, stored as 1.
  const std::string file = make_file(R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\x00\x05\x01", 3));
  const Tensor b = parse_safetensors(file, "mem").tensors.at(0).second;
  EXPECT_EQ(b.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1}));
}

TEST(Safetensors, WritesTheDocumentedLayout) {
  const NamedTensors ts{{"b", make_tensor(DType::f32, {2, 3})}, {"a", make_tensor(DType::i8, {5})}};
  const std::string bytes = serialize_safetensors(ts, {{"who", "plumb"}});
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  EXPECT_EQ(n % 8, 0u);  // space padded, so the data starts 8-byte aligned
  ASSERT_EQ(bytes.size(), 8 + n + 24 + 5);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));  // only spaces after the JSON
  EXPECT_NE(header.find(R"("b":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]})"), std::string::npos) << header;
  EXPECT_NE(header.find(R"("a":{"dtype":"I8","shape":[5],"data_offsets":[24,29]})"), std::string::npos) << header;
  EXPECT_NE(header.find(R"("__metadata__":{"who":"plumb"})"), std::string::npos) << header;
  // Data in order, little-endian.
  float first;
  std::memcpy(&first, bytes.data() + 8 + n, 4);
  EXPECT_EQ(first, -3.0f);
  EXPECT_EQ(static_cast<signed char>(bytes[8 + n + 24 + 4]), 1);
  // Header order, not offset order, is the order tensors come back in.
  const std::string swapped = make_file(
      R"({"late":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},"early":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
      "xyz");
  const SafetensorsContents got = parse_safetensors(swapped, "mem");
  ASSERT_EQ(got.tensors.size(), 2u);
  EXPECT_EQ(got.tensors[0].first, "late");
  EXPECT_EQ(got.tensors[0].second.to_vector<uint8_t>(), std::vector<uint8_t>{'z'});
  EXPECT_EQ(got.tensors[1].first, "early");
  EXPECT_TRUE(got.metadata.empty());
}

TEST(Safetensors, WritesStridedViewsInLogicalOrder) {
  const Tensor base = make_tensor(DType::f64, {2, 3});
  const Tensor t = Tensor::view_of(base, {3, 2}, {1, 3}, 0);  // the transpose
  const Tensor col = Tensor::view_of(base, {2}, {3}, 1);      // column 1, with an offset
  const SafetensorsContents got = parse_safetensors(serialize_safetensors({{"t", t}, {"col", col}}), "mem");
  EXPECT_EQ(got.tensors[0].second.shape(), (Shape{3, 2}));
  EXPECT_EQ(got.tensors[0].second.to_vector<double>(), (std::vector<double>{-3, -1.5, -2.5, -1, -2, -0.5}));
  EXPECT_EQ(got.tensors[1].second.to_vector<double>(), (std::vector<double>{-2.5, -1}));
}

TEST(Safetensors, RejectsEveryMalformedInput) {
  const std::string ok_entry = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string data8(8, '\1');
  // Sanity: the base case parses.
  EXPECT_NO_THROW(parse_safetensors(make_file("{" + ok_entry + "}", data8), "ok"));

  expect_error("", "too short");
  expect_error("\x10\0\0", "too short");
  expect_error(with_length(64, "{}"), "header length 64 extends beyond the end of the file");
  expect_error(with_length(uint64_t{1} << 62, "{}"), "is absurd");
  expect_error(with_length(~uint64_t{0}, "{}"), "is absurd");
  expect_error(make_file(""), "not valid JSON");
  expect_error(make_file("{\"x\":"), "not valid JSON");
  expect_error(make_file("{} junk"), "not valid JSON");
  expect_error(make_file(std::string("{\"\xff\":1}")), "not valid JSON");  // bad UTF-8
  expect_error(make_file("[1, 2]"), "not an object");
  expect_error(make_file("\"text\""), "not an object");
  expect_error(make_file(R"({"x":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", data8), "unknown dtype 'F33'");
  expect_error(make_file(R"({"x":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})", data8), "not supported");
  expect_error(make_file(R"({"x":{"dtype":7,"shape":[2],"data_offsets":[0,8]}})", data8), "dtype must be a string");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data8), "needs 12 bytes");
  expect_error(make_file(R"({"x":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", data8), "needs 16 bytes");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data8), "negative dimension -2");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", data8), "non-negative integers");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", data8), "non-negative integers");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", data8), "shape must be an array");
  expect_error(make_file(R"({"x":{"dtype":"U8","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}})"),
               "too large");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data8 + "tail"),
               "4 trailing bytes");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", data8), "out of range");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[0],"data_offsets":[9,9]}})", data8), "out of range");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", data8), "end before they begin");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", data8), "two non-negative integers");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", data8), "two non-negative integers");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                         data8),
               "overlaps tensor 'x'");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data8), "bytes [0, 4)");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                         R"("y":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
                         data8),
               "gap before 'y'");
  expect_error(make_file("{" + ok_entry + "," + ok_entry + "}", data8), "key 'x' twice (duplicate tensor name)");
  expect_error(make_file(R"({"__metadata__":{"a":"1","a":"2"}})"), "key 'a' twice");
  expect_error(make_file(R"({"x":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data8), "twice");
  expect_error(make_file(R"({"__metadata__":{"a":1}})"), "must be a string");
  expect_error(make_file(R"({"__metadata__":["a"]})"), "__metadata__ must be an object");
  expect_error(make_file(R"({"x":[1]})"), "entry must be an object");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2]}})", data8), "missing field 'data_offsets'");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", data8),
               "unexpected field 'extra'");
  expect_error(make_file(R"({"x":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}})", data8), "nested deeper");
  expect_error(make_file(std::string(100000, '[') + std::string(100000, ']')), "nested deeper");
}

// Random corruptions of a valid file either parse or throw plumb::Error: never another exception.
TEST(Safetensors, SurvivesCorruptedInput) {
  const std::string good = serialize_safetensors(all_tensors(), {{"a", "b"}});
  std::mt19937_64 rng(7);
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes = good;
    const int kind = static_cast<int>(rng() % 4);
    if (kind == 0) {
      bytes.resize(rng() % bytes.size());
    } else if (kind == 1) {
      for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
    } else if (kind == 2) {
      bytes[8 + rng() % 400] = "{}[]\",:0-9e. "[rng() % 13];
    } else {
      bytes.insert(rng() % bytes.size(), 1, static_cast<char>(rng()));
    }
    try {
      parse_safetensors(bytes, "fuzz");
      ++parsed;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(parsed, 0);  // flips inside the data buffer are still valid files
}

TEST_F(SafetensorsFiles, ReadErrorsNameTheFile) {
  const std::string p = path("truncated.safetensors");
  const std::string bytes = serialize_safetensors({{"x", make_tensor(DType::f32, {4})}});
  write_all(p, bytes.substr(0, bytes.size() - 3));
  try {
    read_safetensors(p);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p + ": "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
  }
  try {
    read_safetensors(path("missing.safetensors"));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.safetensors: cannot open"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_safetensors(dir_.string()), Error);  // a directory
  write_all(path("short"), "abc");
  EXPECT_THROW(read_safetensors(path("short")), Error);
}

TEST_F(SafetensorsFiles, RejectsBadTensorListsBeforeTouchingTheDisk) {
  const Tensor x = make_tensor(DType::f32, {2});
  const std::string p = path("out.safetensors");
  EXPECT_THROW(write_safetensors(p, {{"a", x}, {"a", x}}), Error);
  EXPECT_THROW(write_safetensors(p, {{"__metadata__", x}}), Error);
  EXPECT_THROW(write_safetensors(p, {{"u", Tensor()}}), Error);
  EXPECT_THROW(write_safetensors(p, {{"m", Tensor::empty({2}, DType::f32, kMeta)}}), Error);
  EXPECT_THROW(write_safetensors(p, {{"bad\xff", x}}), Error);  // names must be UTF-8
  EXPECT_THROW(write_safetensors(p, {{"a", x}}, {{"k", "\xc3"}}), Error);
  EXPECT_TRUE(listing().empty());
  // An empty file (no tensors) is valid.
  write_safetensors(p, {});
  EXPECT_TRUE(read_safetensors(p).tensors.empty());
}

TEST_F(SafetensorsFiles, WritesAtomically) {
  const std::string p = path("model.safetensors");
  write_safetensors(p, {{"v1", make_tensor(DType::f32, {3})}});
  EXPECT_EQ(listing(), std::vector<std::string>{"model.safetensors"});  // no temp file left behind
  const std::string v1 = read_all(p);

  // Overwriting replaces the whole file.
  write_safetensors(p, {{"v2", make_tensor(DType::i64, {2, 2})}});
  EXPECT_EQ(listing(), std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(read_safetensors(p).tensors.at(0).first, "v2");
  write_all(p, v1);

  // A failed write leaves the target untouched: bad input, a missing directory, a failed rename.
  EXPECT_THROW(write_safetensors(p, {{"a", Tensor()}}), Error);
  try {
    write_safetensors(path("no_such_dir/model.safetensors"), {{"x", make_tensor(DType::f32, {3})}});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_dir/model.safetensors: cannot create the temporary file"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(path("no_such_dir")));
  fs::create_directory(path("occupied"));
  write_all(path("occupied/keep"), "keep");
  EXPECT_THROW(write_safetensors(path("occupied"), {{"x", make_tensor(DType::f32, {3})}}), Error);
  EXPECT_EQ(read_all(path("occupied/keep")), "keep");
  EXPECT_EQ(read_all(p), v1);
  EXPECT_EQ(listing(), (std::vector<std::string>{"model.safetensors", "occupied"}));
}

// Files exchanged with Debian's Python: the `safetensors` package when installed, otherwise an
// independent reader/writer made of struct + json + numpy.
TEST_F(SafetensorsFiles, InteroperatesWithPython) {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 with numpy is not available (Debian package python3-numpy)";
  const std::string script = path("python_side.py");
  std::ofstream(script) << R"PY(
import json, struct, sys
import numpy as np
mode, d = sys.argv[1], sys.argv[2]
try:
    import safetensors.numpy as stnp  # the reference implementation, when installed
except ImportError:
    stnp = None
CODES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'BF16': '<u2', 'I64': '<i8', 'I32': '<i4',
         'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}
PLUMB = {'F64': 'f64', 'F32': 'f32', 'F16': 'f16', 'BF16': 'bf16', 'I64': 'i64', 'I32': 'i32',
         'I8': 'i8', 'U8': 'u8', 'BOOL': 'bool'}
def expected(st, shape):
    n = int(np.prod(shape, dtype=np.int64))
    i = np.arange(n)
    if st in ('F64', 'F32', 'F16', 'BF16'): v = i * 0.5 - 3
    elif st in ('I64', 'I32', 'I8'): v = i - 3
    elif st == 'U8': v = i * 7
    else: v = (i % 3 == 0)
    if st == 'BF16':  # exact values: the top half of the f32 bits
        return (v.astype('<f4').view('<u4') >> 16).astype('<u2').reshape(shape)
    return v.astype(CODES[st]).reshape(shape)
SHAPES = {'matrix': (2, 3), 'scalar': (), 'empty': (0, 3)}

def parse(path):
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    assert n % 8 == 0, 'header not padded to 8 bytes'
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    data = raw[8 + n:]
    meta = header.pop('__metadata__', {})
    spans = sorted((tuple(v['data_offsets']), k) for k, v in header.items())
    at = 0
    for (b, e), k in spans:
        assert b == at, f'gap or overlap at {k}'
        at = e
    assert at == len(data), 'trailing bytes'
    out = {}
    for k, v in header.items():
        b, e = v['data_offsets']
        out[k] = (v['dtype'], np.frombuffer(data[b:e], dtype=CODES[v['dtype']]).reshape(v['shape']))
    return out, meta

if mode == 'read':
    tensors, meta = parse(f'{d}/plumb.safetensors')
    assert meta == {'writer': 'plumb', 'unicode': 'ünï ✓'}, meta
    assert len(tensors) == 27, len(tensors)
    for st, p in PLUMB.items():
        for kind, shape in SHAPES.items():
            dt, a = tensors[f'{p}.{kind}']
            e = expected(st, shape)
            assert dt == st and a.shape == e.shape and np.array_equal(a, e), (p, kind, dt, a)
    if stnp is not None:
        loaded = stnp.load_file(f'{d}/plumb.safetensors')
        assert np.array_equal(loaded['f32.matrix'], expected('F32', (2, 3)))
    print('python read the plumb file')
else:
    # Header order differs from buffer order on purpose; the buffer is packed in reverse.
    items = [(f'py.{p}.{kind}', st, shape) for st, p in PLUMB.items() for kind, shape in SHAPES.items()]
    blobs, header, at = [], {'__metadata__': {'writer': 'python'}}, 0
    for name, st, shape in reversed(items):
        b = expected(st, shape).tobytes()
        header[name] = None
        blobs.append((name, st, shape, at, at + len(b), b))
        at += len(b)
    header = {'__metadata__': header['__metadata__']}
    for name, st, shape in items:
        for nm, s, sh, b, e, _ in blobs:
            if nm == name:
                header[name] = {'dtype': s, 'shape': list(sh), 'data_offsets': [b, e]}
    text = json.dumps(header).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(f'{d}/python.safetensors', 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(x[5] for x in blobs))
)PY";
  const std::string py = "/usr/bin/python3 " + script + " ";
  write_safetensors(path("plumb.safetensors"), all_tensors(), {{"writer", "plumb"}, {"unicode", "ünï ✓"}});
  EXPECT_EQ(std::system((py + "read " + dir_.string()).c_str()), 0);

  ASSERT_EQ(std::system((py + "write " + dir_.string()).c_str()), 0);
  const SafetensorsContents got = read_safetensors(path("python.safetensors"));
  EXPECT_EQ(got.metadata, (TensorMetadata{{"writer", "python"}}));
  ASSERT_EQ(got.tensors.size(), 27u);
  size_t i = 0;
  for (DType t : kAll)
    for (const auto& [kind, shape] : std::vector<std::pair<std::string, Shape>>{{"matrix", {2, 3}}, {"scalar", {}}, {"empty", {0, 3}}}) {
      SCOPED_TRACE(got.tensors[i].first);
      EXPECT_EQ(got.tensors[i].first, "py." + std::string(dtype_name(t)) + "." + kind);
      expect_values(got.tensors[i].second, t, shape);
      ++i;
    }
}

}  // namespace
}  // namespace plumb
