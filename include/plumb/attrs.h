#pragma once
// Typed, visitable op attributes: one reflection point serves equality, hashing, JSON, ONNX and printing.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "plumb/device.h"
#include "plumb/dtype.h"

namespace plumb {

using AttrValue =
    std::variant<bool, int64_t, double, std::string, std::vector<int64_t>, std::vector<double>, DType, Device>;
using AttrList = std::vector<std::pair<std::string, AttrValue>>;

class AttrVisitor {
 public:
  virtual ~AttrVisitor() = default;
  virtual void field(const char* name, AttrValue& value) = 0;
};

class Attrs {
 public:
  virtual ~Attrs() = default;
  // Calls `v.field` once per field, in declaration order; writes back what the visitor changed.
  virtual void visit(AttrVisitor& v) = 0;
  virtual std::unique_ptr<Attrs> clone() const = 0;

  AttrList list() const;                                   // name/value pairs in order
  void set(const std::string& name, const AttrValue& value);  // throws Error on unknown field or type
  bool operator==(const Attrs& other) const;
  size_t hash() const;
  std::string str() const;  // "stride=[1, 1], groups=1"
};

std::string attr_value_str(const AttrValue& v);

namespace detail {
template <class T>
void visit_field(AttrVisitor& v, const char* name, T& field) {
  if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int32_t>) {
    AttrValue value = static_cast<int64_t>(field);
    v.field(name, value);
    field = static_cast<T>(std::get<int64_t>(value));
  } else if constexpr (std::is_same_v<T, float>) {
    AttrValue value = static_cast<double>(field);
    v.field(name, value);
    field = static_cast<float>(std::get<double>(value));
  } else {
    AttrValue value = field;
    v.field(name, value);
    field = std::get<T>(value);
  }
}
}  // namespace detail

// An attribute struct derives from AttrsOf<Self> and lists its fields once:
//   template <class F> void fields(F&& f) { f("stride", stride); f("groups", groups); }
template <class Self>
class AttrsOf : public Attrs {
 public:
  void visit(AttrVisitor& v) override {
    static_cast<Self*>(this)->fields([&](const char* name, auto& field) { detail::visit_field(v, name, field); });
  }
  std::unique_ptr<Attrs> clone() const override { return std::make_unique<Self>(static_cast<const Self&>(*this)); }
};

struct NoAttrs : AttrsOf<NoAttrs> {
  template <class F>
  void fields(F&&) {}
};

}  // namespace plumb
