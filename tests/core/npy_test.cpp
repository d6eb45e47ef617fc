// .npy read/write: round trips of every dtype, files written by NumPy, and malformed input.
#include "plumb/npy.h"

#include <gtest/gtest.h>

#include "common/temp_dir.h"
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace plumb {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class NpyFiles : public testing::TempDirTest {};

// Logical element i of the test tensors, per dtype.
double value_at(DType t, int64_t i) {
  switch (t) {
    case DType::f64:
    case DType::f32:
    case DType::f16: return static_cast<double>(i) * 0.5 - 3.0;
    case DType::i64:
    case DType::i32:
    case DType::i8: return static_cast<double>(i - 12);
    case DType::u8: return static_cast<double>(i);
    case DType::boolean: return i % 3 == 0 ? 1.0 : 0.0;
    case DType::bf16: return static_cast<double>(i);
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
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(element_as_double(x, i), value_at(t, i)) << "element " << i;
}

// Builds a .npy file from a header dict and raw data, padded as NumPy pads.
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = 8 + len_bytes;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < len_bytes; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + data;
}

template <class T>
std::string raw_bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

const DType kNpyDTypes[] = {DType::f64, DType::f32, DType::f16, DType::i64,
                            DType::i32, DType::i8,  DType::u8,  DType::boolean};

// Expects parse_npy to throw an Error whose message contains every fragment.
void expect_parse_error(const std::string& bytes, const std::vector<std::string>& fragments) {
  try {
    parse_npy(bytes, "bad.npy");
    ADD_FAILURE() << "no error; expected one mentioning " << fragments[0];
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.npy"), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "missing '" << f << "' in: " << msg;
  }
}

TEST(Npy, RoundTripEveryDtypeInMemory) {
  for (DType t : kNpyDTypes) {
    for (const Shape& shape : {Shape{2, 3, 4}, Shape{24}, Shape{}, Shape{0, 3}, Shape{1, 1, 24}}) {
      SCOPED_TRACE(std::string(dtype_name(t)) + shape_str(shape));
      const Tensor x = make_tensor(t, shape);
      const std::string bytes = serialize_npy(x);
      ASSERT_EQ(bytes.compare(0, 6, "\x93NUMPY"), 0);
      EXPECT_EQ(bytes[6], 1);  // version 1.0
      EXPECT_EQ(bytes[7], 0);
      const size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
      EXPECT_EQ((10 + header_len) % 64, 0u) << "data must start 64-byte aligned";
      EXPECT_EQ(bytes[10 + header_len - 1], '\n');
      EXPECT_EQ(bytes.size(), 10 + header_len + x.nbytes());
      expect_values(parse_npy(bytes, "mem.npy"), t, shape);
    }
  }
}

TEST(Npy, HeaderMatchesNumPyRepr) {
  const std::string bytes = serialize_npy(make_tensor(DType::f32, {5}));
  EXPECT_NE(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }"), std::string::npos);
  const std::string b2 = serialize_npy(make_tensor(DType::u8, {2, 3}));
  EXPECT_NE(b2.find("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }"), std::string::npos);
  const std::string b0 = serialize_npy(make_tensor(DType::boolean, {}));
  EXPECT_NE(b0.find("{'descr': '|b1', 'fortran_order': False, 'shape': (), }"), std::string::npos);
}

TEST(Npy, HugeHeaderFallsBackToVersion2) {
  // A header over 65535 bytes cannot be described in format 1.0; NumPy writes 2.0 then, and so do we.
  const Shape shape(25000, 1);
  const Tensor x = Tensor::full(shape, 2.5, DType::f64);
  const std::string bytes = serialize_npy(x);
  EXPECT_EQ(bytes[6], 2);
  const Tensor back = parse_npy(bytes, "wide.npy");
  EXPECT_EQ(back.shape(), shape);
  EXPECT_EQ(back.item(), 2.5);
}

TEST_F(NpyFiles, RoundTripEveryDtypeThroughFiles) {
  for (DType t : kNpyDTypes) {
    SCOPED_TRACE(dtype_name(t));
    const std::string p = path(std::string(dtype_name(t)) + ".npy");
    write_npy(p, make_tensor(t, {3, 8}));
    expect_values(read_npy(p), t, {3, 8});
  }
  // Only the .npy files remain: the temporary files were renamed into place.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().extension(), ".npy") << e.path();
  }
  EXPECT_EQ(files, 8);
}

TEST_F(NpyFiles, OverwritesAnExistingFile) {
  const std::string p = path("x.npy");
  write_npy(p, make_tensor(DType::f64, {24}));
  write_npy(p, make_tensor(DType::i32, {2, 2}));
  expect_values(read_npy(p), DType::i32, {2, 2});
}

TEST(Npy, WritesStridedViewsInLogicalOrder) {
  const Tensor base = make_tensor(DType::f64, {2, 3});  // [[-3, -2.5, -2], [-1.5, -1, -0.5]]
  const Tensor t = Tensor::view_of(base, {3, 2}, {1, 3}, 0);  // transpose
  const Tensor back = parse_npy(serialize_npy(t), "t.npy");
  EXPECT_EQ(back.shape(), (Shape{3, 2}));
  EXPECT_EQ(back.to_vector<double>(), (std::vector<double>{-3, -1.5, -2.5, -1, -2, -0.5}));
  const Tensor row = Tensor::view_of(base, {3}, {1}, 3);  // second row, nonzero offset
  EXPECT_EQ(parse_npy(serialize_npy(row), "r.npy").to_vector<double>(), (std::vector<double>{-1.5, -1, -0.5}));
  const Tensor bcast = Tensor::view_of(base, {2, 3}, {0, 1}, 0);  // zero stride
  EXPECT_EQ(parse_npy(serialize_npy(bcast), "b.npy").to_vector<double>(),
            (std::vector<double>{-3, -2.5, -2, -3, -2.5, -2}));
}

TEST(Npy, ReadsFortranOrder) {
  // Column-major (2, 3): memory holds x[0,0], x[1,0], x[0,1], x[1,1], x[0,2], x[1,2].
  const std::vector<double> col_major = {0, 3, 1, 4, 2, 5};
  const Tensor x =
      parse_npy(make_npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", raw_bytes(col_major)), "f.npy");
  EXPECT_TRUE(x.is_contiguous());
  EXPECT_EQ(x.to_vector<double>(), (std::vector<double>{0, 1, 2, 3, 4, 5}));

  // Rank 3: element (i, j, k) sits at i + 2*j + 6*k in memory.
  std::vector<int32_t> mem(24);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) mem[i + 2 * j + 6 * k] = i * 12 + j * 4 + k;
  const Tensor y =
      parse_npy(make_npy("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }", raw_bytes(mem)), "f3.npy");
  std::vector<int32_t> expected(24);
  for (int i = 0; i < 24; ++i) expected[i] = i;
  EXPECT_EQ(y.to_vector<int32_t>(), expected);
}

TEST(Npy, ByteswapsBigEndian) {
  const std::vector<double> values = {1.5, -2.25, 1e300};
  std::string data = raw_bytes(values);
  for (size_t i = 0; i < data.size(); i += 8) std::reverse(data.begin() + i, data.begin() + i + 8);
  const Tensor x = parse_npy(make_npy("{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }", data), "be.npy");
  EXPECT_EQ(x.to_vector<double>(), values);

  const std::string be_i4 = std::string("\x00\x00\x01\x02\xff\xff\xff\xfe", 8);
  const Tensor y = parse_npy(make_npy("{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", be_i4), "be4.npy");
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{258, -2}));
}

TEST(Npy, ReadsVersions2And3AndOddSpacing) {
  const std::vector<float> v = {1, 2, 3};
  for (int major : {2, 3}) {
    const Tensor x =
        parse_npy(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", raw_bytes(v), major), "v.npy");
    EXPECT_EQ(x.to_vector<float>(), v) << "version " << major;
  }
  // Key order and spacing are free; a Python 2 'L' suffix and double quotes are accepted.
  const Tensor y =
      parse_npy(make_npy("{ \"shape\" :(3L,),'fortran_order':False ,'descr':'<f4'}", raw_bytes(v)), "sp.npy");
  EXPECT_EQ(y.to_vector<float>(), v);
}

TEST(Npy, BoolBytesNormalize) {
  const Tensor x =
      parse_npy(make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x00\x01\x07", 3)),
                "b.npy");
  EXPECT_EQ(x.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1}));
}

TEST(Npy, MalformedFiles) {
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  const std::string two_floats(8, '\0');
  expect_parse_error("", {"bad magic"});
  expect_parse_error("PK\x03\x04 zip file", {"bad magic"});
  expect_parse_error(std::string("\x93NUMPY\x01", 7), {"truncated header"});
  expect_parse_error(std::string("\x93NUMPY\x01\x00\x76", 9), {"truncated header"});
  // Header length field says 118 bytes; only a few follow.
  expect_parse_error(std::string("\x93NUMPY\x01\x00\x76\x00{'descr'", 18), {"truncated header", "118"});
  std::string v4 = make_npy(ok_dict, two_floats);
  v4[6] = 4;
  expect_parse_error(v4, {"version 4.0"});

  expect_parse_error(make_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", std::string(16, '\0')),
                     {"unknown descr", "<c8"});
  expect_parse_error(make_npy("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }", std::string(4, '\0')),
                     {"unknown descr", "<u2"});
  expect_parse_error(make_npy("{'descr': 'f4', 'fortran_order': False, 'shape': (2,), }", two_floats),
                     {"unknown descr", "byte order"});
  expect_parse_error(
      make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", two_floats), {"unknown descr"});

  expect_parse_error(make_npy(ok_dict, std::string(7, '\0')), {"data is 7 bytes", "(2,)", "needs 8"});
  expect_parse_error(make_npy(ok_dict, std::string(12, '\0')), {"data is 12 bytes", "needs 8"});
  expect_parse_error(make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", ""),
                     {"data is 0 bytes", "needs 8"});

  expect_parse_error(make_npy("not a dict", two_floats), {"unparsable header"});
  expect_parse_error(make_npy("{'descr': '<f4', 'shape': (2,), }", two_floats), {"unparsable header", "fortran_order"});
  expect_parse_error(make_npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", two_floats),
                     {"unparsable header", "True or False"});
  expect_parse_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", two_floats),
                     {"unparsable header"});
  expect_parse_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", two_floats),
                     {"unparsable header", "extra"});
  expect_parse_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ", two_floats),
                     {"unparsable header"});
  expect_parse_error(make_npy("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", two_floats),
                     {"unparsable header"});
  expect_parse_error(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, "
                              "99999999999), }",
                              two_floats),
                     {"too large"});
}

TEST_F(NpyFiles, FileErrorsNameThePath) {
  const std::string missing = path("missing.npy");
  try {
    read_npy(missing);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing + ": cannot open"), std::string::npos) << e.what();
  }
  const std::string junk = path("junk.npy");
  std::ofstream(junk) << "hello";
  try {
    read_npy(junk);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(junk + ": not a .npy file (bad magic"), std::string::npos) << e.what();
  }
  try {
    write_npy(path("no_such_dir/x.npy"), make_tensor(DType::f32, {2}));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_dir/x.npy: cannot write"), std::string::npos) << e.what();
  }
}

TEST(Npy, RejectsWhatNumPyCannotHold) {
  try {
    serialize_npy(Tensor::zeros({2}, DType::bf16));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bfloat16"), std::string::npos) << e.what();
  }
  EXPECT_THROW(serialize_npy(Tensor::empty({2}, DType::f32, kMeta)), Error);
  EXPECT_THROW(serialize_npy(Tensor()), Error);
}

// Files written by NumPy itself, and plumb's files read back by NumPy.
TEST_F(NpyFiles, InteroperatesWithNumPy) {
  const char* python = "/usr/bin/python3";
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "/usr/bin/python3 with numpy is not available (Debian package python3-numpy)";

  const std::string script = path("numpy_side.py");
  std::ofstream(script) << R"PY(
import sys, numpy as np
from numpy.lib import format as fmt
mode, d = sys.argv[1], sys.argv[2]
def expected(code, shape):
    i = np.arange(int(np.prod(shape)))
    if code in ('f8', 'f4', 'f2'): v = i * 0.5 - 3
    elif code in ('i8', 'i4', 'i1'): v = i - 12
    elif code == 'u1': v = i
    else: v = (i % 3 == 0)
    return v.astype(code).reshape(shape)
codes = ['f8', 'f4', 'f2', 'i8', 'i4', 'i1', 'u1', 'b1']
if mode == 'write':
    for c in codes:
        np.save(f'{d}/np_{c}.npy', expected(c, (2, 3, 4)))
    np.save(f'{d}/np_fortran.npy', np.asfortranarray(expected('f8', (2, 3, 4))))
    np.save(f'{d}/np_big.npy', expected('i4', (4, 6)).astype('>i4'))
    np.save(f'{d}/np_scalar.npy', np.float64(-3.0))
    np.save(f'{d}/np_empty.npy', np.zeros((0, 3), 'f4'))
    for v in [(2, 0), (3, 0)]:
        with open(f'{d}/np_v{v[0]}.npy', 'wb') as f:
            fmt.write_array(f, expected('f4', (24,)), version=v)
else:
    for c in codes:
        a = np.load(f'{d}/plumb_{c}.npy')
        e = expected(c, (3, 8))
        if a.dtype != e.dtype or a.shape != e.shape or not np.array_equal(a, e):
            print('mismatch for', c, a.dtype, a.shape, a.ravel()[:5]); sys.exit(1)
    print('numpy read every plumb file')
)PY";
  const std::string dir = dir_.string();
  ASSERT_EQ(std::system((std::string(python) + " " + script + " write " + dir).c_str()), 0);

  const char* codes[] = {"f8", "f4", "f2", "i8", "i4", "i1", "u1", "b1"};
  for (size_t i = 0; i < 8; ++i) {
    SCOPED_TRACE(codes[i]);
    expect_values(read_npy(path(std::string("np_") + codes[i] + ".npy")), kNpyDTypes[i], {2, 3, 4});
    write_npy(path(std::string("plumb_") + codes[i] + ".npy"), make_tensor(kNpyDTypes[i], {3, 8}));
  }
  expect_values(read_npy(path("np_fortran.npy")), DType::f64, {2, 3, 4});
  expect_values(read_npy(path("np_big.npy")), DType::i32, {4, 6});
  expect_values(read_npy(path("np_scalar.npy")), DType::f64, {});
  expect_values(read_npy(path("np_empty.npy")), DType::f32, {0, 3});
  expect_values(read_npy(path("np_v2.npy")), DType::f32, {24});
  expect_values(read_npy(path("np_v3.npy")), DType::f32, {24});

  EXPECT_EQ(std::system((std::string(python) + " " + script + " read " + dir).c_str()), 0);
}

}  // namespace
}  // namespace plumb
