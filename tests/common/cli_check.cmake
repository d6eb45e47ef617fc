# Helpers for the cmake -P scripts behind the CLI tests: run ${PLUMB} (in ${PLUMB_RUN_DIR} when set)
# and check its exit code and output.

function(plumb_run)
  if(DEFINED PLUMB_RUN_DIR)
    set(wd WORKING_DIRECTORY "${PLUMB_RUN_DIR}")
  endif()
  execute_process(COMMAND ${PLUMB} ${ARGN} ${wd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                  TIMEOUT 300)
  set(rc "${rc}" PARENT_SCOPE)
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

function(expect_ok what)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "'plumb ${what}' exited ${rc}\nstdout: ${out}\nstderr: ${err}")
  endif()
endfunction()

# A failed command: exit 1, nothing on stdout, and exactly one stderr line "plumb: error: ..."
# matching the regular expression `pattern`.
function(expect_error what pattern)
  if(NOT rc EQUAL 1)
    message(FATAL_ERROR "'plumb ${what}' should exit 1, got ${rc}\nstdout: ${out}\nstderr: ${err}")
  endif()
  if(NOT err MATCHES "^plumb: error: [^\n]*${pattern}[^\n]*\n$")
    message(FATAL_ERROR "'plumb ${what}' should print one 'plumb: error:' line matching '${pattern}', got:\n${err}")
  endif()
  if(NOT out STREQUAL "")
    message(FATAL_ERROR "'plumb ${what}' printed on stdout: ${out}")
  endif()
endfunction()
