#pragma once
// plumb::Error is the one exception type for user-facing failures.
#include <stdexcept>
#include <string>

namespace plumb {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates its arguments with operator<< into one message.
template <class... Args>
[[noreturn]] void fail(const Args&... args);

}  // namespace plumb

#include <sstream>

namespace plumb {
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}

#define PLUMB_CHECK(cond, ...)       \
  do {                               \
    if (!(cond)) ::plumb::fail(__VA_ARGS__); \
  } while (0)
}  // namespace plumb
