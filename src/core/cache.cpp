#include "plumb/cache.h"

#include <cstdlib>
#include <filesystem>

#include "plumb/error.h"

namespace plumb {

const char* env_value(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

std::vector<std::string> cache_roots() {
  namespace fs = std::filesystem;
  std::vector<std::string> roots;
  if (const char* d = env_value("PLUMB_CACHE_DIR")) roots.push_back(fs::path(d).string());
  if (const char* d = env_value("XDG_CACHE_HOME")) roots.push_back((fs::path(d) / "plumb").string());
  if (const char* d = env_value("HOME")) roots.push_back((fs::path(d) / ".cache" / "plumb").string());
  return roots;
}

std::string cache_path(std::string_view name, std::string_view what) {
  const std::vector<std::string> roots = cache_roots();
  if (roots.empty()) fail(what, ": no cache directory: set PLUMB_CACHE_DIR, XDG_CACHE_HOME or HOME");
  return (std::filesystem::path(roots.front()) / std::string(name)).string();
}

}  // namespace plumb
