# plumb_embed(<target> <symbol> <file>): compiles <file>'s bytes into <target> through the assembler's
# .incbin, so large assets (JavaScript, JSON tables) cost no compile time. C++ reads them with
# PLUMB_EMBEDDED(<symbol>) from src/core/embedded.h. A change to <file> rebuilds only its object.
enable_language(ASM)

function(plumb_embed target symbol file)
  if(NOT EXISTS "${file}")
    message(FATAL_ERROR "plumb_embed: ${file} does not exist (for ${symbol}); run scripts/setup.sh")
  endif()
  set(asm "${CMAKE_BINARY_DIR}/embed/${symbol}.S")
  file(CONFIGURE OUTPUT "${asm}" CONTENT
"  .section .rodata.plumb_embed_${symbol},\"a\"
  .balign 16
  .global plumb_embed_${symbol}
  .hidden plumb_embed_${symbol}
plumb_embed_${symbol}:
  .incbin \"${file}\"
  .global plumb_embed_${symbol}_end
  .hidden plumb_embed_${symbol}_end
plumb_embed_${symbol}_end:
  .byte 0
  .section .note.GNU-stack,\"\",@progbits
" @ONLY)
  set_source_files_properties("${asm}" PROPERTIES OBJECT_DEPENDS "${file}" LANGUAGE ASM)
  target_sources(${target} PRIVATE "${asm}")
endfunction()
