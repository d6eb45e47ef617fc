// safetensors reader and writer. Format: https://github.com/huggingface/safetensors#format
// Validation follows the reference implementation: offsets must tile the data buffer exactly.
#include "plumb/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

namespace plumb {

namespace {

using ojson = nlohmann::ordered_json;

constexpr bool kHostLittle = std::endian::native == std::endian::little;
constexpr const char* kSupported = "F64 F32 F16 BF16 I64 I32 I8 U8 BOOL";
constexpr const char* kMetadataKey = "__metadata__";

struct DTypeName {
  const char* name;
  DType dtype;
};
constexpr DTypeName kDTypes[] = {{"F64", DType::f64}, {"F32", DType::f32}, {"F16", DType::f16},
                                 {"BF16", DType::bf16}, {"I64", DType::i64}, {"I32", DType::i32},
                                 {"I8", DType::i8},   {"U8", DType::u8},   {"BOOL", DType::boolean}};
// Valid safetensors dtypes that plumb has no dtype for.
constexpr const char* kUnsupported[] = {"F8_E5M2", "F8_E4M3", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",
                                        "I16",     "U16",     "U32",     "U64",     "C64"};

// One tensor's header entry, validated.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

struct Header {
  std::vector<Entry> entries;  // header order
  TensorMetadata metadata;
};

// A JSON value for an error message, cut short so a hostile header cannot make a huge message.
std::string json_str(const ojson& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 200) s = s.substr(0, 200) + "...";
  return s;
}

DType parse_dtype(const ojson& j, const std::string& tensor, const std::string& name) {
  if (!j.is_string()) fail(name, ": tensor '", tensor, "': dtype must be a string, got ", json_str(j));
  const std::string& s = j.get_ref<const std::string&>();
  for (const DTypeName& d : kDTypes)
    if (s == d.name) return d.dtype;
  for (const char* u : kUnsupported)
    if (s == u) fail(name, ": tensor '", tensor, "': dtype ", s, " is not supported by plumb (supported: ", kSupported, ")");
  fail(name, ": tensor '", tensor, "': unknown dtype '", s, "' (supported: ", kSupported, ")");
}

Shape parse_shape(const ojson& j, DType dtype, const std::string& tensor, const std::string& name) {
  if (!j.is_array()) fail(name, ": tensor '", tensor, "': shape must be an array, got ", json_str(j));
  Shape shape;
  // The product of the nonzero dims (times the element size) must fit in int64, so that strides do.
  uint64_t extent = dtype_size(dtype);
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  for (const ojson& d : j) {
    if (d.is_number_integer() && !d.is_number_unsigned())
      fail(name, ": tensor '", tensor, "': negative dimension ", d.get<int64_t>(), " in shape ", json_str(j));
    if (!d.is_number_unsigned())
      fail(name, ": tensor '", tensor, "': dimensions must be non-negative integers, got ", json_str(d), " in shape ",
           json_str(j));
    const uint64_t v = d.get<uint64_t>();
    if (v > kMax || (v != 0 && extent > kMax / v))
      fail(name, ": tensor '", tensor, "': shape ", json_str(j), " is too large");
    if (v != 0) extent *= v;
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

Entry parse_entry(const std::string& tensor, const ojson& j, uint64_t buffer_size, const std::string& name) {
  if (!j.is_object()) fail(name, ": tensor '", tensor, "': entry must be an object, got ", json_str(j));
  for (auto it = j.begin(); it != j.end(); ++it)
    if (it.key() != "dtype" && it.key() != "shape" && it.key() != "data_offsets")
      fail(name, ": tensor '", tensor, "': unexpected field '", it.key(), "' (expected dtype, shape, data_offsets)");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!j.contains(field)) fail(name, ": tensor '", tensor, "': missing field '", field, "'");

  Entry e;
  e.name = tensor;
  e.dtype = parse_dtype(j["dtype"], tensor, name);
  e.shape = parse_shape(j["shape"], e.dtype, tensor, name);
  const ojson& off = j["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    fail(name, ": tensor '", tensor, "': data_offsets must be two non-negative integers [begin, end], got ",
         json_str(off));
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.end < e.begin) fail(name, ": tensor '", tensor, "': data_offsets ", json_str(off), " end before they begin");
  if (e.end > buffer_size)
    fail(name, ": tensor '", tensor, "': data_offsets ", json_str(off), " are out of range (the data buffer is ",
         buffer_size, " bytes)");
  // parse_shape bounded the extent, so this product cannot overflow.
  const uint64_t need = static_cast<uint64_t>(plumb::numel(e.shape)) * dtype_size(e.dtype);
  if (e.end - e.begin != need)
    fail(name, ": tensor '", tensor, "': shape ", shape_str(e.shape), " of ", safetensors_dtype_name(e.dtype),
         " needs ", need, " bytes but data_offsets ", json_str(off), " span ", e.end - e.begin);
  return e;
}

// Parses and validates the JSON header against a data buffer of `buffer_size` bytes.
Header parse_header(std::string_view text, uint64_t buffer_size, const std::string& name) {
  // The callback rejects duplicate keys (the DOM would keep only one) and nesting deeper than a
  // valid header needs (root object > entry > shape), which also bounds the parser's work.
  struct Level {
    bool object;
    std::set<std::string> keys;
  };
  std::vector<Level> stack;
  auto callback = [&](int, ojson::parse_event_t ev, ojson& parsed) -> bool {
    switch (ev) {
      case ojson::parse_event_t::object_start:
      case ojson::parse_event_t::array_start:
        if (stack.size() >= 3) fail(name, ": header JSON is nested deeper than a safetensors header can be");
        stack.push_back({ev == ojson::parse_event_t::object_start, {}});
        break;
      case ojson::parse_event_t::object_end:
      case ojson::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case ojson::parse_event_t::key:
        if (!stack.empty() && parsed.is_string() && !stack.back().keys.insert(parsed.get<std::string>()).second)
          fail(name, ": header JSON has the key '", parsed.get<std::string>(), "' twice",
               stack.size() == 1 ? " (duplicate tensor name)" : "");
        break;
      case ojson::parse_event_t::value:
        break;
    }
    return true;
  };
  ojson root;
  try {
    root = ojson::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    fail(name, ": header is not valid JSON: ", e.what());
  }
  if (!root.is_object()) fail(name, ": header JSON is not an object (it is ", root.type_name(), ")");

  Header h;
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == kMetadataKey) {
      if (!it.value().is_object()) fail(name, ": __metadata__ must be an object of strings, got ", json_str(it.value()));
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string())
          fail(name, ": __metadata__ value of '", m.key(), "' must be a string, got ", json_str(m.value()));
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    h.entries.push_back(parse_entry(it.key(), it.value(), buffer_size, name));
  }

  // The tensors must tile [0, buffer_size) exactly: no gaps, overlaps or trailing bytes.
  std::vector<const Entry*> order;
  for (const Entry& e : h.entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expected = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : order) {
    if (e->begin < expected)
      fail(name, ": tensor '", e->name, "' (bytes [", e->begin, ", ", e->end, ")) overlaps tensor '", prev->name,
           "' (bytes [", prev->begin, ", ", prev->end, "))");
    if (e->begin > expected)
      fail(name, ": bytes [", expected, ", ", e->begin, ") of the data buffer belong to no tensor (gap before '",
           e->name, "')");
    expected = e->end;
    prev = e;
  }
  if (expected != buffer_size)
    fail(name, ": ", buffer_size - expected, " trailing bytes after the last tensor (the tensors cover ", expected,
         " of ", buffer_size, " data bytes)");
  return h;
}

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

void check_header_length(uint64_t n, uint64_t file_size, const std::string& name) {
  if (n > kSafetensorsMaxHeader)
    fail(name, ": header length ", n, " is absurd (plumb accepts at most ", kSafetensorsMaxHeader, " bytes)");
  if (n > file_size - 8)
    fail(name, ": header length ", n, " extends beyond the end of the file (", file_size, " bytes)");
}

// Makes freshly read bytes valid tensor data: host byte order, bools 0 or 1.
void fix_up(Tensor& t) {
  char* p = static_cast<char*>(t.raw_data());
  const int64_t n = t.numel();
  const size_t size = dtype_size(t.dtype());
  if (!kHostLittle && size > 1)
    for (int64_t i = 0; i < n; ++i) std::reverse(p + i * size, p + (i + 1) * size);
  if (t.dtype() == DType::boolean)
    for (int64_t i = 0; i < n; ++i) p[i] = p[i] != 0;
}

// Copies `src` (any strides) into contiguous row-major little-endian bytes at `dst`.
void gather_le(const Tensor& src, char* dst) {
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
    char* out = dst + static_cast<size_t>(i) * size;
    std::memcpy(out, base + static_cast<size_t>(off) * size, size);
    if (!kHostLittle) std::reverse(out, out + size);
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

// Validates the tensors and returns the padded header (length prefix included).
std::string build_header(const NamedTensors& tensors, const TensorMetadata& metadata, const std::string& name) {
  ojson root = ojson::object();
  if (!metadata.empty()) {
    ojson m = ojson::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    root[kMetadataKey] = std::move(m);
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [tname, t] : tensors) {
    if (tname == kMetadataKey) fail(name, ": '__metadata__' is reserved and cannot name a tensor");
    if (!seen.insert(tname).second) fail(name, ": tensor name '", tname, "' appears twice");
    if (!t.defined()) fail(name, ": tensor '", tname, "' is undefined");
    if (t.device() != kCPU)
      fail(name, ": tensor '", tname, "' is on ", t.device().str(), "; only CPU tensors can be written (copy it first)");
    ojson shape = ojson::array();
    for (int64_t d : t.shape()) shape.push_back(d);
    const uint64_t nbytes = t.nbytes();
    root[tname] = {{"dtype", safetensors_dtype_name(t.dtype())},
                   {"shape", std::move(shape)},
                   {"data_offsets", ojson::array({offset, offset + nbytes})}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = root.dump();  // strict UTF-8: names and metadata must be valid UTF-8
  } catch (const nlohmann::json::exception& e) {
    fail(name, ": cannot encode the header (names and metadata must be valid UTF-8): ", e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);
  return out + text;
}

// Emits the header and then each tensor's bytes through `sink`.
void emit(const NamedTensors& tensors, const TensorMetadata& metadata, const std::string& name,
          const std::function<void(const char*, size_t)>& sink) {
  const std::string header = build_header(tensors, metadata, name);
  sink(header.data(), header.size());
  std::string buf;
  for (const auto& [tname, t] : tensors) {
    if (t.nbytes() == 0) continue;
    if (t.is_contiguous() && (kHostLittle || dtype_size(t.dtype()) == 1)) {
      sink(static_cast<const char*>(t.raw_data()), t.nbytes());
    } else {
      buf.resize(t.nbytes());
      gather_le(t, buf.data());
      sink(buf.data(), buf.size());
    }
  }
}

std::string errno_str(int err) { return std::strerror(err); }

// Reads exactly n bytes at `offset`; false on a short read (the file shrank) or an error.
bool pread_full(int fd, char* dst, size_t n, uint64_t offset, int& err) {
  while (n > 0) {
    const ssize_t got = ::pread(fd, dst, n, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      err = errno;
      return false;
    }
    if (got == 0) {
      err = 0;
      return false;
    }
    dst += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string safetensors_dtype_name(DType t) {
  for (const DTypeName& d : kDTypes)
    if (d.dtype == t) return d.name;
  fail("safetensors: dtype ", dtype_name(t), " has no safetensors name");
}

std::string serialize_safetensors(const NamedTensors& tensors, const TensorMetadata& metadata) {
  std::string out;
  emit(tensors, metadata, "safetensors", [&](const char* p, size_t n) { out.append(p, n); });
  return out;
}

SafetensorsContents parse_safetensors(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 8)
    fail(name, ": file is ", bytes.size(), " bytes, too short for the 8-byte header length");
  const uint64_t n = read_u64_le(reinterpret_cast<const unsigned char*>(bytes.data()));
  check_header_length(n, bytes.size(), name);
  const size_t data_at = 8 + static_cast<size_t>(n);
  Header h = parse_header(std::string_view(bytes).substr(8, n), bytes.size() - data_at, name);
  SafetensorsContents out;
  out.metadata = std::move(h.metadata);
  for (Entry& e : h.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), bytes.data() + data_at + e.begin, e.end - e.begin);
    fix_up(t);
    out.tensors.emplace_back(std::move(e.name), std::move(t));
  }
  return out;
}

SafetensorsContents read_safetensors(const std::string& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) fail(path, ": cannot open: ", errno_str(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) fail(path, ": cannot stat: ", errno_str(errno));
  if (!S_ISREG(st.st_mode)) fail(path, ": not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) fail(path, ": file is ", size, " bytes, too short for the 8-byte header length");
  int err = 0;
  unsigned char len[8];
  if (!pread_full(f.fd, reinterpret_cast<char*>(len), 8, 0, err))
    fail(path, ": cannot read the header length: ", err ? errno_str(err) : "file truncated");
  const uint64_t n = read_u64_le(len);
  check_header_length(n, size, path);
  std::string text(static_cast<size_t>(n), '\0');
  if (!pread_full(f.fd, text.data(), text.size(), 8, err))
    fail(path, ": cannot read the header: ", err ? errno_str(err) : "file truncated while reading");
  const uint64_t data_at = 8 + n;
  Header h = parse_header(text, size - data_at, path);

  // Read each tensor straight into its storage: no second copy of a large checkpoint in memory.
  SafetensorsContents out;
  out.metadata = std::move(h.metadata);
  for (Entry& e : h.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin &&
        !pread_full(f.fd, static_cast<char*>(t.raw_data()), e.end - e.begin, data_at + e.begin, err))
      fail(path, ": cannot read tensor '", e.name, "': ", err ? errno_str(err) : "file truncated while reading");
    fix_up(t);
    out.tensors.emplace_back(std::move(e.name), std::move(t));
  }
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors, const TensorMetadata& metadata) {
  // Validate everything (build_header) before touching the file system.
  build_header(tensors, metadata, path);

  // A sibling temp file (same file system, so rename is atomic), unique per process and call.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) fail(path, ": cannot create the temporary file ", tmp, ": ", errno_str(errno));

  int err = 0;
  auto sink = [&](const char* p, size_t n) {
    while (n > 0 && err == 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0) {
        if (errno != EINTR) err = errno;
        continue;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  };
  try {
    emit(tensors, metadata, path, sink);
  } catch (...) {
    ::close(fd);
    std::remove(tmp.c_str());
    throw;
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    std::remove(tmp.c_str());
    fail(path, ": cannot write: ", errno_str(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int rename_err = errno;
    std::remove(tmp.c_str());
    fail(path, ": cannot rename the temporary file into place: ", errno_str(rename_err));
  }
  // Persist the rename itself; best effort, since some file systems cannot fsync a directory and
  // the file's contents are already durable.
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace plumb
