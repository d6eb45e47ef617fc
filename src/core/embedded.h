#pragma once
// Bytes compiled into the library by cmake/embed.cmake's plumb_embed(<target> <symbol> <file>).
#include <string_view>

#define PLUMB_DECLARE_EMBEDDED(symbol)             \
  extern "C" const char plumb_embed_##symbol[];    \
  extern "C" const char plumb_embed_##symbol##_end[]

// The file's contents (without the trailing NUL the assembler adds).
#define PLUMB_EMBEDDED(symbol) \
  std::string_view(plumb_embed_##symbol, static_cast<size_t>(plumb_embed_##symbol##_end - plumb_embed_##symbol))
