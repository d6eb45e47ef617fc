#pragma once
// The message of the plumb::Error a callable throws, or "no error" when it throws none.
#include <functional>
#include <string>

#include "plumb/error.h"

namespace plumb::testing {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace plumb::testing
