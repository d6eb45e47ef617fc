# cmake -P script behind report.chromium: loads ${INDEX} in headless Chromium with every host name
# unresolvable, lets the page's charts settle, and checks from the dumped DOM that the page is ready,
# every chart drew marks (at least ${MIN_CHARTS}) and no error was logged. Then keeps a screenshot as
# ${ARTIFACTS}/report.png.
foreach(var INDEX ARTIFACTS MIN_CHARTS)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_chromium.cmake: -D${var}=... is required")
  endif()
endforeach()

find_program(CHROMIUM NAMES chromium chromium-browser google-chrome-stable google-chrome)
if(NOT CHROMIUM)
  message(FATAL_ERROR "chromium is not installed: run scripts/setup.sh (it installs Debian's chromium)")
endif()
find_program(TIMEOUT_PROGRAM timeout REQUIRED)
if(NOT EXISTS "${INDEX}")
  message(FATAL_ERROR "${INDEX} does not exist (the report.fixture test writes it)")
endif()

file(REMOVE_RECURSE "${ARTIFACTS}")
file(MAKE_DIRECTORY "${ARTIFACTS}")
set(screenshot "${ARTIFACTS}/report.png")

# No network (every host name fails to resolve), no first-run or background fetches, a fresh profile.
# `timeout` kills Chromium's whole process group if it ever hangs.
set(chromium_args
  --headless --no-sandbox --disable-gpu --no-first-run --no-default-browser-check
  --disable-extensions --disable-sync --disable-background-networking --disable-component-update
  "--host-resolver-rules=MAP * ~NOTFOUND" --virtual-time-budget=30000 --hide-scrollbars
  "--user-data-dir=${ARTIFACTS}/chromium-profile")

function(run_chromium what)
  execute_process(
    COMMAND ${TIMEOUT_PROGRAM} -k 10 75 ${CHROMIUM} ${chromium_args} ${ARGN} "file://${INDEX}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 88)
  file(WRITE "${ARTIFACTS}/chromium-${what}.log" "exit: ${rc}\n--- stderr\n${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "chromium (${what}) exited with '${rc}' (124: timed out)\nstderr:\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

run_chromium(dom --dump-dom)
file(WRITE "${ARTIFACTS}/dom.html" "${out}")
string(REGEX MATCH "<body[^>]*data-ready=\"[^>]*>" body_tag "${out}")
if(NOT body_tag)
  message(FATAL_ERROR "chromium dumped no <body> (see ${ARTIFACTS}/dom.html)")
endif()

function(body_attribute name var)
  if(body_tag MATCHES "${name}=\"([^\"]*)\"")
    set(${var} "${CMAKE_MATCH_1}" PARENT_SCOPE)
  else()
    set(${var} "" PARENT_SCOPE)
  endif()
endfunction()
body_attribute(data-ready ready)
body_attribute(data-errors errors)
body_attribute(data-charts-expected expected)
body_attribute(data-charts-drawn drawn)
message(STATUS "report page: ready=${ready} errors=${errors} charts drawn ${drawn} of ${expected}")

set(problems "")
if(NOT ready STREQUAL "1")
  string(APPEND problems "the page never became ready (data-ready='${ready}'); ")
endif()
if(NOT errors STREQUAL "0")
  # The page lists each error as a <div> inside #errors.
  string(REGEX MATCH "<div id=\"errors\"[^>]*><strong>[^<]*</strong>(<div>[^<]*</div>)*" error_box "${out}")
  string(REGEX REPLACE "^<div id=\"errors\"[^>]*><strong>[^<]*</strong>" "" error_box "${error_box}")
  string(REPLACE "</div>" "; " error_box "${error_box}")
  string(REPLACE "<div>" "" error_box "${error_box}")
  string(APPEND problems "the page logged ${errors} error(s): ${error_box}")
endif()
if(NOT expected MATCHES "^[0-9]+$" OR NOT drawn MATCHES "^[0-9]+$")
  string(APPEND problems "chart counts missing (expected='${expected}', drawn='${drawn}'); ")
elseif(expected LESS MIN_CHARTS)
  string(APPEND problems "only ${expected} charts on the page (at least ${MIN_CHARTS} expected); ")
elseif(NOT drawn EQUAL expected)
  string(APPEND problems "${drawn} of ${expected} charts drew marks; ")
endif()
if(problems)
  message(FATAL_ERROR "report page check failed: ${problems}(DOM in ${ARTIFACTS}/dom.html)")
endif()

run_chromium(screenshot "--screenshot=${screenshot}" --window-size=1400,4000)
if(NOT EXISTS "${screenshot}")
  message(FATAL_ERROR "chromium wrote no screenshot at ${screenshot}")
endif()
file(SIZE "${screenshot}" bytes)
if(bytes LESS 20000)
  message(FATAL_ERROR "the screenshot ${screenshot} is only ${bytes} bytes: the page looks empty")
endif()
file(REMOVE_RECURSE "${ARTIFACTS}/chromium-profile")
message(STATUS "screenshot: ${screenshot} (${bytes} bytes)")
