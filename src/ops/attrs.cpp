#include "plumb/attrs.h"

#include <functional>
#include <sstream>
#include <typeinfo>

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

// Hashes the values as they are (no printing): the profiler hashes a composite's attributes per call.
class Hasher final : public AttrVisitor {
 public:
  size_t seed = 0;
  void field(const char* /*name*/, AttrValue& v) override {  // equal objects share a type: names add nothing
    hash_combine(seed, v.index());
    std::visit([&](const auto& x) { add(x); }, v);
  }

 private:
  template <class T>
  void add(const T& x) {
    hash_combine(seed, x);
  }
  template <class T>
  void add(const std::vector<T>& xs) {
    hash_combine(seed, xs.size());
    for (const T& x : xs) hash_combine(seed, x);
  }
  void add(DType d) { hash_combine(seed, static_cast<int>(d)); }
  void add(const Device& d) {
    hash_combine(seed, static_cast<int>(d.type));
    hash_combine(seed, d.index);
  }
};

// Compares field by field against another object's values, in declaration order (same type).
class CompareWith final : public AttrVisitor {
 public:
  explicit CompareWith(const AttrList& other) : other_(other) {}
  bool equal = true;
  void field(const char* /*name*/, AttrValue& v) override {
    equal = equal && i_ < other_.size() && v == other_[i_].second;
    ++i_;
  }

 private:
  const AttrList& other_;
  size_t i_ = 0;
};
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

bool Attrs::operator==(const Attrs& other) const {
  if (typeid(*this) != typeid(other)) return false;
  const AttrList theirs = other.list();
  CompareWith compare(theirs);
  const_cast<Attrs*>(this)->visit(compare);  // changes nothing
  return compare.equal;
}

size_t Attrs::hash() const {
  Hasher h;
  const_cast<Attrs*>(this)->visit(h);  // changes nothing
  return h.seed;
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
