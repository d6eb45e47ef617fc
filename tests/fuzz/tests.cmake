# Fuzz tests (label fuzz): standalone libFuzzer projects under tests/fuzz/<name>/ (npy,
# safetensors, onnx), configured and built with clang into the build tree by run_fuzz_test.cmake, then
# run for a bounded time over a copy of their seed corpus. They need clang++ with libFuzzer
# (Debian: clang, libclang-rt-14-dev); without it the tests are not added.
find_program(PLUMB_FUZZ_CXX NAMES clang++-14 clang++ DOC "clang++ with libFuzzer, for the fuzz tests")
if(PLUMB_FUZZ_CXX)
  set(PLUMB_FUZZ_SECONDS 30 CACHE STRING "How long each fuzz test runs its fuzzer (-max_total_time)")
  # Build (about a minute on two cores) plus the fuzzing time.
  math(EXPR _plumb_fuzz_timeout "${PLUMB_FUZZ_SECONDS} + 600")
  # One test per target: tests/fuzz/<name>/ builds <name>_fuzz, seeded from <name>/corpus/ and
  # using <name>/<name>.dict when present.
  # onnx compiles only src/onnx and src/graph with clang and links the rest from this build's
  # libplumb.so (PLUMB_LIB; the others ignore it).
  foreach(_plumb_fuzz_target npy safetensors onnx)
    add_test(NAME fuzz.${_plumb_fuzz_target}
      COMMAND ${CMAKE_COMMAND}
        -DNAME=${_plumb_fuzz_target}
        -DFUZZ_DIR=${CMAKE_CURRENT_LIST_DIR}/${_plumb_fuzz_target}
        -DPLUMB_ROOT=${PROJECT_SOURCE_DIR}
        -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/fuzz_${_plumb_fuzz_target}
        -DGENERATOR=${CMAKE_GENERATOR}
        -DCXX=${PLUMB_FUZZ_CXX}
        -DLAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
        -DSECONDS=${PLUMB_FUZZ_SECONDS}
        -DPLUMB_LIB=$<TARGET_FILE:plumb>
        -P ${CMAKE_CURRENT_LIST_DIR}/run_fuzz_test.cmake)
    set_tests_properties(fuzz.${_plumb_fuzz_target} PROPERTIES LABELS "fuzz" TIMEOUT ${_plumb_fuzz_timeout})
  endforeach()
else()
  message(STATUS "plumb: no clang++-14/clang++ found; the fuzz tests (label fuzz) are not added. "
    "Install the Debian packages clang and libclang-rt-14-dev to enable them.")
endif()
