#pragma once
// plumb's per-user cache (calibrations, generated corpora): $PLUMB_CACHE_DIR, else
// $XDG_CACHE_HOME/plumb, else $HOME/.cache/plumb. Unset or empty variables are skipped.
#include <string>
#include <string_view>
#include <vector>

namespace plumb {

// A non-empty environment variable's value, or nullptr.
const char* env_value(const char* name);
// The cache roots whose variable is set, in that order.
std::vector<std::string> cache_roots();
// `name` under the first root; throws Error "<what>: no cache directory: set PLUMB_CACHE_DIR,
// XDG_CACHE_HOME or HOME" when none is set.
std::string cache_path(std::string_view name, std::string_view what);

}  // namespace plumb
