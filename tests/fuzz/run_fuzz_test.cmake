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
# The main build's libplumb.so, for targets that link the rest of plumb from it (onnx); the others
# ignore it.
if(PLUMB_LIB)
  list(APPEND configure_args -DPLUMB_LIB=${PLUMB_LIB} --no-warn-unused-cli)
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
set(log ${WORK_DIR}/fuzz.log)
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env
    "ASAN_OPTIONS=detect_leaks=1:symbolize=1"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
    ${build}/${NAME}_fuzz ${fuzz_args}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
file(WRITE ${log} "${out}")

# libFuzzer's closing lines: "Done N runs in S second(s)", the final coverage line and stat::.
string(REGEX MATCHALL "(Done [0-9]+ runs[^\n]*|stat::[^\n]*|#[0-9]+[ \t]+DONE[^\n]*)" summary "${out}")
list(JOIN summary "\n" summary)

if(NOT rc EQUAL 0)
  # Print the report verbatim (message(FATAL_ERROR) would rewrap it), from the line of its first
  # marker on, skipping the progress lines before it.
  set(first -1)
  foreach(marker "runtime error:" "ERROR: AddressSanitizer" "ERROR: LeakSanitizer" "ERROR: libFuzzer"
                 "_fuzz: BUG:" "terminate called")
    string(FIND "${out}" "${marker}" at)
    if(at GREATER -1 AND (first EQUAL -1 OR at LESS first))
      set(first ${at})
    endif()
  endforeach()
  set(report "${out}")
  if(first GREATER -1)
    string(SUBSTRING "${out}" 0 ${first} before)
    string(FIND "${before}" "\n" line_start REVERSE)
    math(EXPR line_start "${line_start} + 1")
    string(SUBSTRING "${out}" ${line_start} -1 report)
  endif()
  string(LENGTH "${report}" len)
  if(len GREATER 30000)
    string(SUBSTRING "${report}" 0 30000 report)
    string(APPEND report "\n... (the rest is in ${log})")
  endif()
  message(NOTICE "${report}")
  file(GLOB crashes ${artifacts}/*)
  foreach(c ${crashes})
    file(READ ${c} hex HEX LIMIT 4096)
    file(SIZE ${c} n)
    message(NOTICE "reproducer ${c} (${n} bytes), hex:\n${hex}\n"
      "reproduce: ${build}/${NAME}_fuzz ${c}")
  endforeach()
  message(FATAL_ERROR "fuzz.${NAME}: the fuzzer failed (exit ${rc}); report above, full log in ${log}")
endif()
message(STATUS "fuzz.${NAME}: no crash in ${SECONDS} s over a copy of ${FUZZ_DIR}/corpus "
  "(full log in ${log})\n${summary}")
