# The characterization report (label unit): the data model and page in C++ tests (ReportData.*,
# ReportPage.*, ReportFiles.*), and, also labelled report, the `plumb report` CLI and the page rendered
# in headless Chromium with a screenshot kept under <build>/tests/report/artifacts/.
add_executable(plumb_report_tests ${CMAKE_CURRENT_LIST_DIR}/report_test.cpp)
target_include_directories(plumb_report_tests PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(plumb_report_tests PRIVATE plumb nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
target_compile_definitions(plumb_report_tests PRIVATE PLUMB_WEB_MODULES="${PROJECT_SOURCE_DIR}/web/node_modules")
gtest_discover_tests(plumb_report_tests PROPERTIES LABELS "unit" DISCOVERY_TIMEOUT 60)

# Profiles of three small models (train and infer, with a thread sweep) and their report.
add_executable(plumb_report_fixture ${CMAKE_CURRENT_LIST_DIR}/report_fixture.cpp)
target_link_libraries(plumb_report_fixture PRIVATE plumb)
set(PLUMB_REPORT_TEST_DIR ${CMAKE_CURRENT_BINARY_DIR}/report)
add_test(NAME report.fixture COMMAND plumb_report_fixture ${PLUMB_REPORT_TEST_DIR}/fixture)
set_tests_properties(report.fixture PROPERTIES LABELS "unit;report" TIMEOUT 180 FIXTURES_SETUP plumb_report_fixture)

add_test(NAME report.chromium
  COMMAND ${CMAKE_COMMAND} -DINDEX=${PLUMB_REPORT_TEST_DIR}/fixture/report/index.html
    -DARTIFACTS=${PLUMB_REPORT_TEST_DIR}/artifacts -DMIN_CHARTS=6
    -P ${CMAKE_CURRENT_LIST_DIR}/check_chromium.cmake)
set_tests_properties(report.chromium PROPERTIES LABELS "unit;report" TIMEOUT 180
  FIXTURES_REQUIRED plumb_report_fixture RESOURCE_LOCK chromium)

foreach(check report_ok bad_profile usage)
  add_test(NAME report.cli.${check}
    COMMAND ${CMAKE_COMMAND} -DPLUMB=$<TARGET_FILE:plumb_cli> -DCHECK=${check}
      -DPROFILES=${PLUMB_REPORT_TEST_DIR}/fixture/profiles -DOUT=${PLUMB_REPORT_TEST_DIR}/cli_${check}
      -P ${CMAKE_CURRENT_LIST_DIR}/check_report_cli.cmake)
  set_tests_properties(report.cli.${check} PROPERTIES LABELS "unit;report" TIMEOUT 120
    FIXTURES_REQUIRED plumb_report_fixture)
endforeach()
