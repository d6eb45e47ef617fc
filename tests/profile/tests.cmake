# Profiler tests: recording, the Fathom protocol, summaries, JSON / CSV / Chrome-trace output (labels: unit).
file(GLOB PLUMB_PROFILE_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cpp)
add_executable(plumb_profile_tests ${PLUMB_PROFILE_TEST_SOURCES})
target_include_directories(plumb_profile_tests PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(plumb_profile_tests PRIVATE plumb nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main)
gtest_discover_tests(plumb_profile_tests PROPERTIES LABELS "unit" DISCOVERY_TIMEOUT 60)
