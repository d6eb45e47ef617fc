// NumPy .npy reader (format 1.0, 2.0, 3.0) and writer (1.0, or 2.0 when the header needs it).
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#include "plumb/npy.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>

#include "plumb/file_io.h"

namespace plumb {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

// The header dict's three fields.
struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A Python-literal parser for exactly what .npy headers hold: a dict of str keys whose values
// are strs, True/False, or tuples of non-negative ints.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : s_(text), name_(name) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_str();
      expect(':');
      if (key == "descr") {
        skip_space();
        if (peek() != '\'' && peek() != '"')
          fail(name_, ": unknown descr (structured dtypes are not supported): ", s_);
        h.descr = parse_str();
        seen_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = parse_bool();
        seen_fortran = true;
      } else if (key == "shape") {
        h.shape = parse_shape();
        seen_shape = true;
      } else {
        bad("unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') bad("expected ',' or '}'");
    }
    expect('}');
    skip_space();
    if (pos_ != s_.size()) bad("trailing characters after the dict");
    if (!seen_descr || !seen_fortran || !seen_shape)
      bad("the dict must hold 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& what) const {
    fail(name_, ": unparsable header: ", what, " at offset ", pos_, " in ", s_);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_str() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string");
    ++pos_;
    const size_t end = s_.find(quote, pos_);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    skip_space();
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    bad("expected True or False");
  }
  Shape parse_shape() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') bad("expected a non-negative integer dimension");
      int64_t d = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (d > (std::numeric_limits<int64_t>::max() - 9) / 10) bad("dimension too large");
        d = d * 10 + (peek() - '0');
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix, still found in old files
      shape.push_back(d);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') bad("expected ',' or ')' in the shape");
    }
    expect(')');
    return shape;
  }

  std::string_view s_;
  const std::string& name_;
  size_t pos_ = 0;
};

// Maps a descr ("<f4", "|b1", ">i8") to a dtype; sets `swap` when the data's byte order is not the host's.
DType dtype_from_descr(const std::string& descr, const std::string& name, bool& swap) {
  static const char* const kSupported = "f8 f4 f2 i8 i4 i1 u1 b1 with byte order '<', '>', '|' or '='";
  if (descr.size() < 2) fail(name, ": unknown descr '", descr, "' (supported: ", kSupported, ")");
  const char order = descr[0];
  const std::string code = descr.substr(1);
  DType t;
  if (code == "f8") t = DType::f64;
  else if (code == "f4") t = DType::f32;
  else if (code == "f2") t = DType::f16;
  else if (code == "i8") t = DType::i64;
  else if (code == "i4") t = DType::i32;
  else if (code == "i1") t = DType::i8;
  else if (code == "u1") t = DType::u8;
  else if (code == "b1") t = DType::boolean;
  else fail(name, ": unknown descr '", descr, "' (supported: ", kSupported, ")");
  constexpr bool host_little = std::endian::native == std::endian::little;
  if (order == '<') swap = !host_little;
  else if (order == '>') swap = host_little;
  else if (order == '|' || order == '=') swap = false;
  else fail(name, ": unknown descr '", descr, "' (byte order must be '<', '>', '|' or '=')");
  if (dtype_size(t) == 1) swap = false;
  return t;
}

std::string descr_for(DType t) {
  const char order = std::endian::native == std::endian::little ? '<' : '>';
  switch (t) {
    case DType::f64: return std::string(1, order) + "f8";
    case DType::f32: return std::string(1, order) + "f4";
    case DType::f16: return std::string(1, order) + "f2";
    case DType::i64: return std::string(1, order) + "i8";
    case DType::i32: return std::string(1, order) + "i4";
    case DType::i8: return "|i1";
    case DType::u8: return "|u1";
    case DType::boolean: return "|b1";
    case DType::bf16: break;
  }
  fail("npy: NumPy has no bfloat16 dtype; cast the tensor to f32 before writing it");
}

uint32_t read_le(const std::string& bytes, size_t at, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  return v;
}

void byteswap_elements(char* p, int64_t count, size_t size) {
  for (int64_t i = 0; i < count; ++i, p += size) std::reverse(p, p + size);
}

// Copies `src` (any strides) into contiguous row-major bytes at `dst`.
void gather_row_major(const Tensor& src, char* dst) {
  const size_t size = dtype_size(src.dtype());
  const int64_t n = src.numel();
  if (n == 0) return;
  const char* base = static_cast<const char*>(src.storage()->data());
  const Shape& shape = src.shape();
  const Shape& strides = src.strides();
  const size_t rank = shape.size();
  Shape index(rank, 0);
  int64_t off = src.offset();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(dst + static_cast<size_t>(i) * size, base + static_cast<size_t>(off) * size, size);
    // Odometer increment over the logical index, tracking the element offset.
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < shape[d]) {
        off += strides[d];
        break;
      }
      off -= strides[d] * (shape[d] - 1);
      index[d] = 0;
    }
  }
}

// Python's repr of a shape tuple: (), (3,), (2, 3).
std::string py_tuple(const Shape& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& name) {
  if (bytes.size() < kMagicLen || std::memcmp(bytes.data(), kMagic, kMagicLen) != 0)
    fail(name, ": not a .npy file (bad magic; expected \\x93NUMPY)");
  if (bytes.size() < kMagicLen + 2) fail(name, ": truncated header (file is ", bytes.size(), " bytes)");
  const int major = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    fail(name, ": unsupported .npy format version ", major, ".", minor, " (supported: 1.0, 2.0, 3.0)");
  const size_t len_bytes = major == 1 ? 2 : 4;
  const size_t prefix = kMagicLen + 2 + len_bytes;
  if (bytes.size() < prefix) fail(name, ": truncated header (file is ", bytes.size(), " bytes)");
  const size_t header_len = read_le(bytes, kMagicLen + 2, len_bytes);
  if (bytes.size() < prefix + header_len)
    fail(name, ": truncated header (it declares ", header_len, " bytes but the file has ", bytes.size() - prefix,
         " after the prefix)");

  const std::string_view header_text(bytes.data() + prefix, header_len);
  const Header h = HeaderParser(header_text, name).parse();
  bool swap = false;
  const DType dtype = dtype_from_descr(h.descr, name, swap);

  const size_t item = dtype_size(dtype);
  // `extent` multiplies max(d, 1), so a zero dim cannot hide later dims whose strides would overflow.
  uint64_t count = 1, extent = 1;
  for (int64_t d : h.shape) {
    const uint64_t m = d ? static_cast<uint64_t>(d) : 1;
    if (extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / item / m)
      fail(name, ": shape ", shape_str(h.shape), " is too large");
    extent *= m;
    count *= static_cast<uint64_t>(d);
  }
  const uint64_t expected = count * item;
  const uint64_t actual = bytes.size() - prefix - header_len;
  if (actual != expected)
    fail(name, ": data is ", actual, " bytes but shape ", shape_str(h.shape), " of ", h.descr, " needs ", expected);

  const char* data = bytes.data() + prefix + header_len;
  Tensor out = Tensor::empty(h.shape, dtype);
  char* dst = static_cast<char*>(out.raw_data());
  if (!h.fortran_order || h.shape.size() < 2) {
    if (expected) std::memcpy(dst, data, expected);
  } else {
    // Column-major data is row-major data of the reversed shape; read it as such, then copy the
    // permuted view (axes reversed back) into row-major order.
    Shape reversed(h.shape.rbegin(), h.shape.rend());
    Tensor raw = Tensor::empty(reversed, dtype);
    if (expected) std::memcpy(raw.raw_data(), data, expected);
    Shape strides = contiguous_strides(reversed);
    std::reverse(strides.begin(), strides.end());
    gather_row_major(Tensor::view_of(raw, h.shape, strides, 0), dst);
  }
  if (swap) byteswap_elements(dst, static_cast<int64_t>(count), item);
  if (dtype == DType::boolean)  // any nonzero byte is True in NumPy; plumb's bools are 0 or 1
    for (uint64_t i = 0; i < count; ++i) dst[i] = dst[i] != 0;
  return out;
}

std::string serialize_npy(const Tensor& t) {
  if (!t.defined()) fail("npy: cannot serialize an undefined tensor");
  if (t.is_meta()) fail("npy: a meta tensor has no data to serialize");
  const std::string descr = descr_for(t.dtype());
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + py_tuple(t.shape()) + ", }";
  // Pad with spaces and a final newline so the data starts on a 64-byte boundary (as NumPy does).
  int major = 1;
  size_t prefix = kMagicLen + 2 + 2;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  if (total - prefix > 0xffff) {
    major = 2;
    prefix = kMagicLen + 2 + 4;
    total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  }
  const size_t header_len = total - prefix;
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';

  std::string out;
  out.reserve(total + t.nbytes());
  out.append(kMagic, kMagicLen);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xff);
  out += dict;
  const size_t data_at = out.size();
  out.resize(data_at + t.nbytes());
  if (t.nbytes()) gather_row_major(t, out.data() + data_at);
  return out;
}

Tensor read_npy(const std::string& path) { return parse_npy(read_file(path), path); }

void write_npy(const std::string& path, const Tensor& t) { write_file_atomic(path, serialize_npy(t)); }

}  // namespace plumb
