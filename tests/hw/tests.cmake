# Device table and calibration (labels: unit), plus `plumb calibrate` CLI checks.
file(GLOB PLUMB_HW_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cpp)
add_executable(plumb_hw_tests ${PLUMB_HW_TEST_SOURCES})
target_include_directories(plumb_hw_tests PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(plumb_hw_tests PRIVATE plumb GTest::gtest GTest::gtest_main)
gtest_discover_tests(plumb_hw_tests PROPERTIES LABELS "unit" DISCOVERY_TIMEOUT 60)

foreach(check devices devices_json bad_devices_file bad_cache cached)
  add_test(NAME cli.calibrate.${check}
    COMMAND ${CMAKE_COMMAND} -DPLUMB=$<TARGET_FILE:plumb_cli> -DCHECK=${check}
      -DWORK=${CMAKE_CURRENT_BINARY_DIR}/hw_cli/${check} -P ${CMAKE_CURRENT_LIST_DIR}/check_calibrate.cmake)
  set_tests_properties(cli.calibrate.${check} PROPERTIES LABELS "unit" TIMEOUT 120)
endforeach()
