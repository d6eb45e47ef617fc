#include "plumb/attrs.h"

#include <functional>
#include <sstream>

#include "plumb/error.h"

namespace plumb {

namespace {
class Collect final : public AttrVisitor {
 public:
  AttrList out;
  void field(const char* name, AttrValue& v) override { out.emplace_back(name, v); }
};

class Assign final : public AttrVisitor {
 public:
  Assign(const std::string& n, const AttrValue& v) : name(n), value(v) {}
  const std::string& name;
  const AttrValue& value;
  bool found = false;
  void field(const char* n, AttrValue& v) override {
    if (name != n) return;
    found = true;
    if (v.index() == value.index()) {
      v = value;
    } else if (std::holds_alternative<double>(v) && std::holds_alternative<int64_t>(value)) {
      v = static_cast<double>(std::get<int64_t>(value));
    } else {
      fail("attribute '", name, "' expects a different type than ", attr_value_str(value));
    }
  }
};

template <class T>
void hash_combine(size_t& seed, const T& v) {
  seed ^= std::hash<T>{}(v) + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2);
}
}  // namespace

AttrList Attrs::list() const {
  Collect c;
  // visit() writes back what the visitor changed; Collect changes nothing.
  const_cast<Attrs*>(this)->visit(c);
  return std::move(c.out);
}

void Attrs::set(const std::string& name, const AttrValue& value) {
  Assign a(name, value);
  visit(a);
  if (!a.found) fail("unknown attribute '", name, "'");
}

bool Attrs::operator==(const Attrs& other) const { return typeid(*this) == typeid(other) && list() == other.list(); }

size_t Attrs::hash() const {
  size_t seed = 0;
  for (const auto& [name, v] : list()) {
    hash_combine(seed, name);
    hash_combine(seed, attr_value_str(v));
  }
  return seed;
}

std::string attr_value_str(const AttrValue& v) {
  std::ostringstream os;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) os << (x ? "true" : "false");
        else if constexpr (std::is_same_v<T, std::string>) os << '"' << x << '"';
        else if constexpr (std::is_same_v<T, DType>) os << dtype_name(x);
        else if constexpr (std::is_same_v<T, Device>) os << x.str();
        else if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<double>>) {
          os << '[';
          for (size_t i = 0; i < x.size(); ++i) os << (i ? ", " : "") << x[i];
          os << ']';
        } else os << x;
      },
      v);
  return os.str();
}

std::string Attrs::str() const {
  std::string out;
  for (const auto& [name, v] : list()) {
    if (!out.empty()) out += ", ";
    out += name + "=" + attr_value_str(v);
  }
  return out;
}

}  // namespace plumb
