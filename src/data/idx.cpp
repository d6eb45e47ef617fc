// IDX reader and writer (the MNIST format), plain or gzip through zlib.
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "plumb/data.h"

namespace plumb {
namespace {

struct IdxType {
  uint8_t code;
  size_t file_bytes;  // element size in the file
  DType dtype;        // element type in memory
};

const IdxType* idx_type(uint8_t code) {
  static const IdxType types[] = {{0x08, 1, DType::u8},  {0x09, 1, DType::i8},
                                  {0x0B, 2, DType::i32}, {0x0C, 4, DType::i32},
                                  {0x0D, 4, DType::f32}, {0x0E, 8, DType::f64}};
  for (const auto& t : types)
    if (t.code == code) return &t;
  return nullptr;
}

uint32_t read_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Copies one big-endian element of `n` bytes into native order.
void from_big_endian(const unsigned char* src, unsigned char* dst, size_t n) {
  if constexpr (std::endian::native == std::endian::little) {
    for (size_t k = 0; k < n; ++k) dst[k] = src[n - 1 - k];
  } else {
    std::memcpy(dst, src, n);
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Whole file contents, decompressed when the file is gzip (zlib passes plain files through).
std::vector<unsigned char> read_all(const std::string& path) {
  std::error_code ec;
  PLUMB_CHECK(std::filesystem::is_regular_file(path, ec), "read_idx: ", path, ": no such file");
  gzFile f = gzopen(path.c_str(), "rb");
  PLUMB_CHECK(f != nullptr, "read_idx: ", path, ": cannot open");
  std::vector<unsigned char> bytes;
  unsigned char chunk[1 << 16];
  while (true) {
    const int got = gzread(f, chunk, sizeof(chunk));
    if (got < 0) {
      int code = 0;
      std::string msg = gzerror(f, &code);
      gzclose(f);
      fail("read_idx: ", path, ": corrupt or truncated gzip data (", msg, ")");
    }
    if (got == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + got);
  }
  int code = Z_OK;
  std::string msg = gzerror(f, &code);
  gzclose(f);
  // A gzip stream cut short reads as Z_BUF_ERROR ("unexpected end of file") at the end.
  PLUMB_CHECK(code == Z_OK || code == Z_STREAM_END, "read_idx: ", path,
              ": corrupt or truncated gzip data (", msg, ")");
  return bytes;
}

}  // namespace

Tensor read_idx(const std::string& path) {
  const std::vector<unsigned char> bytes = read_all(path);
  PLUMB_CHECK(bytes.size() >= 4, "read_idx: ", path, ": truncated header (", bytes.size(),
              " bytes, need at least 4)");
  const uint32_t magic = read_be32(bytes.data());
  const IdxType* type = idx_type(bytes[2]);
  if (bytes[0] != 0 || bytes[1] != 0 || type == nullptr) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "0x%08x", magic);
    fail("read_idx: ", path, ": bad magic ", hex,
         " (expected 0x0000TTNN with type TT in 08, 09, 0B, 0C, 0D, 0E)");
  }
  const size_t ndims = bytes[3];
  const size_t header = 4 + 4 * ndims;
  PLUMB_CHECK(bytes.size() >= header, "read_idx: ", path, ": truncated header (", bytes.size(),
              " bytes, ", ndims, " dims need ", header, ")");
  Shape shape(ndims);
  uint64_t count = 1;
  for (size_t d = 0; d < ndims; ++d) {
    shape[d] = read_be32(bytes.data() + 4 + 4 * d);
    PLUMB_CHECK(shape[d] == 0 || count <= std::numeric_limits<uint64_t>::max() / 16 / shape[d],
                "read_idx: ", path, ": dimensions overflow");
    count *= static_cast<uint64_t>(shape[d]);
  }
  const uint64_t expected = count * type->file_bytes;
  const uint64_t have = bytes.size() - header;
  PLUMB_CHECK(have >= expected, "read_idx: ", path, ": truncated data (", have, " bytes, shape needs ",
              expected, ")");
  PLUMB_CHECK(have == expected, "read_idx: ", path, ": ", have - expected,
              " trailing bytes after the data");

  Tensor t = Tensor::empty(shape, type->dtype);
  const unsigned char* src = bytes.data() + header;
  const int64_t n = static_cast<int64_t>(count);
  switch (type->code) {
    case 0x08:
    case 0x09:
      std::memcpy(t.raw_data(), src, count);
      break;
    case 0x0B: {  // i16 widens to i32
      int32_t* dst = t.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) {
        int16_t v;
        from_big_endian(src + 2 * i, reinterpret_cast<unsigned char*>(&v), 2);
        dst[i] = v;
      }
      break;
    }
    default: {
      auto* dst = static_cast<unsigned char*>(t.raw_data());
      const size_t s = type->file_bytes;
      for (int64_t i = 0; i < n; ++i) from_big_endian(src + s * i, dst + s * i, s);
    }
  }
  return t;
}

void write_idx(const std::string& path, const Tensor& t) {
  PLUMB_CHECK(t.defined() && !t.is_meta(), "write_idx: ", path, ": tensor has no data");
  uint8_t code = 0;
  switch (t.dtype()) {
    case DType::u8: code = 0x08; break;
    case DType::i8: code = 0x09; break;
    case DType::i32: code = 0x0C; break;
    case DType::f32: code = 0x0D; break;
    case DType::f64: code = 0x0E; break;
    default: fail("write_idx: ", path, ": IDX cannot hold dtype ", dtype_name(t.dtype()));
  }
  PLUMB_CHECK(t.dim() <= 255, "write_idx: ", path, ": ", t.dim(), " dims exceed IDX's 255");
  std::vector<unsigned char> out = {0, 0, code, static_cast<unsigned char>(t.dim())};
  for (int64_t d : t.shape()) {
    PLUMB_CHECK(d <= std::numeric_limits<uint32_t>::max(), "write_idx: ", path, ": dim ", d,
                " exceeds 32 bits");
    const auto u = static_cast<uint32_t>(d);
    for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<unsigned char>(u >> shift));
  }
  // Element bytes in big-endian order; strided tensors are made contiguous by the element copy.
  const size_t s = dtype_size(t.dtype());
  Tensor c = t;
  if (!t.is_contiguous()) {
    c = Tensor::empty(t.shape(), t.dtype());
    for (int64_t i = 0; i < t.numel(); ++i) set_element_from_double(c, i, element_as_double(t, i));
  }
  const auto* src = static_cast<const unsigned char*>(c.raw_data());
  const size_t header = out.size();
  out.resize(header + s * static_cast<size_t>(c.numel()));
  for (int64_t i = 0; i < c.numel(); ++i) from_big_endian(src + s * i, out.data() + header + s * i, s);

  if (ends_with(path, ".gz")) {
    gzFile f = gzopen(path.c_str(), "wb");
    PLUMB_CHECK(f != nullptr, "write_idx: ", path, ": cannot open for writing");
    size_t done = 0;
    while (done < out.size()) {
      const unsigned part = static_cast<unsigned>(std::min<size_t>(out.size() - done, 1u << 30));
      const int wrote = gzwrite(f, out.data() + done, part);
      if (wrote <= 0) {
        gzclose(f);
        fail("write_idx: ", path, ": gzip write failed");
      }
      done += static_cast<size_t>(wrote);
    }
    PLUMB_CHECK(gzclose(f) == Z_OK, "write_idx: ", path, ": gzip close failed");
  } else {
    std::ofstream f(path, std::ios::binary);
    PLUMB_CHECK(f.good(), "write_idx: ", path, ": cannot open for writing");
    f.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
    PLUMB_CHECK(f.good(), "write_idx: ", path, ": write failed");
  }
}

}  // namespace plumb
