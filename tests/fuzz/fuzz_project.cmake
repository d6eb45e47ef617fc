# Shared by the standalone libFuzzer projects under tests/fuzz/<name>/ (included after project()):
# clang is required, C++20, PLUMB_ROOT names the source tree, and plumb_fuzz_executable builds a
# fuzz target with libFuzzer, ASan and UBSan (any UB aborts the run).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "${PROJECT_NAME} needs clang++ with libFuzzer (-fsanitize=fuzzer); "
    "CMAKE_CXX_COMPILER is ${CMAKE_CXX_COMPILER} (${CMAKE_CXX_COMPILER_ID})")
endif()

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

get_filename_component(_plumb_root_default "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(PLUMB_ROOT "${_plumb_root_default}" CACHE PATH "plumb source tree")

function(plumb_fuzz_executable target)
  add_executable(${target} ${ARGN})
  target_include_directories(${target} PRIVATE ${PLUMB_ROOT}/include ${PLUMB_ROOT}/src)
  set(sanitizers -fsanitize=fuzzer,address,undefined)
  target_compile_options(${target} PRIVATE ${sanitizers} -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(${target} PRIVATE ${sanitizers})
endfunction()
