#pragma once
// Whole-file reads and atomic writes: every file plumb writes goes to a sibling temporary name
// first and is renamed into place, so a killed run never leaves half a file.
#include <string>
#include <string_view>

namespace plumb {

// Throws Error naming the path and the system's reason.
std::string read_file(const std::string& path);
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace plumb
