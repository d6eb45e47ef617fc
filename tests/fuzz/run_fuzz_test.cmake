# cmake -P script behind the fuzz.<NAME> tests; see tests.cmake for the variables. Configures and
# builds FUZZ_DIR with clang, copies FUZZ_DIR/corpus (the repository's copy is never written), then
# runs the fuzzer for SECONDS. Fails on any crash, sanitizer report, leak, timeout or OOM, and
# prints the reproducer.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "fuzz.${NAME}: ${what} failed (${rc})\n${out}\n${err}")
  endif()
endfunction()

set(build ${WORK_DIR}/build)
set(corpus ${WORK_DIR}/corpus)
set(artifacts ${WORK_DIR}/artifacts)
# Keep the build between runs (incremental); start the corpus and artifacts fresh each time.
file(REMOVE_RECURSE ${corpus} ${artifacts})
file(MAKE_DIRECTORY ${corpus} ${artifacts})

set(configure_args -S ${FUZZ_DIR} -B ${build} -G ${GENERATOR}
  -DCMAKE_CXX_COMPILER=${CXX} -DPLUMB_ROOT=${PLUMB_ROOT} -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if(LAUNCHER)
  list(APPEND configure_args -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
run("configuring ${FUZZ_DIR} with ${CXX} (does it have libFuzzer? Debian: clang, libclang-rt-14-dev)"
  ${CMAKE_COMMAND} ${configure_args})
run("building ${NAME}_fuzz" ${CMAKE_COMMAND} --build ${build} --parallel 2)

file(GLOB seeds ${FUZZ_DIR}/corpus/*)
if(NOT seeds)
  message(FATAL_ERROR "fuzz.${NAME}: no seed corpus in ${FUZZ_DIR}/corpus")
endif()
file(COPY ${seeds} DESTINATION ${corpus})

set(fuzz_args ${corpus} -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10
  -artifact_prefix=${artifacts}/ -print_final_stats=1)
if(EXISTS ${FUZZ_DIR}/${NAME}.dict)
  list(APPEND fuzz_args -dict=${FUZZ_DIR}/${NAME}.dict)
endif()
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env
    "ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:symbolize=1"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
    ${build}/${NAME}_fuzz ${fuzz_args}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)

# libFuzzer's closing lines: "Done N runs in S second(s)" and the stat:: table.
string(REGEX MATCHALL "(Done [0-9]+ runs[^\n]*|stat::[^\n]*|#[0-9]+[ \t]+DONE[^\n]*)" summary "${out}")
list(JOIN summary "\n" summary)

if(NOT rc EQUAL 0)
  set(repro "")
  file(GLOB crashes ${artifacts}/*)
  foreach(c ${crashes})
    file(READ ${c} hex HEX LIMIT 4096)
    file(SIZE ${c} n)
    string(APPEND repro "\n${c} (${n} bytes), hex:\n${hex}\n"
      "reproduce: ${build}/${NAME}_fuzz ${c}\n")
  endforeach()
  string(LENGTH "${out}" len)
  if(len GREATER 20000)
    math(EXPR start "${len} - 20000")
    string(SUBSTRING "${out}" ${start} -1 out)
    set(out "...\n${out}")
  endif()
  message(FATAL_ERROR "fuzz.${NAME}: the fuzzer failed (exit ${rc})\n${out}\n${repro}")
endif()
message(STATUS "fuzz.${NAME}: no crash in ${SECONDS} s over a copy of ${FUZZ_DIR}/corpus\n${summary}")
