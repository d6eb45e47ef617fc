# Graph IR tests (label unit): capture, executor, JSON and DOT.
file(GLOB PLUMB_GRAPH_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cpp)
add_executable(plumb_graph_tests ${PLUMB_GRAPH_TEST_SOURCES})
target_include_directories(plumb_graph_tests PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(plumb_graph_tests PRIVATE plumb GTest::gtest GTest::gtest_main)
gtest_discover_tests(plumb_graph_tests PROPERTIES LABELS "unit" DISCOVERY_TIMEOUT 60)

# `plumb graph` from the command line: files, a training step, one-line errors.
foreach(check files train errors)
  add_test(NAME graph.cli.${check}
    COMMAND ${CMAKE_COMMAND} -DPLUMB=$<TARGET_FILE:plumb_cli> -DCHECK=${check}
      -DWORK=${CMAKE_CURRENT_BINARY_DIR}/graph_cli_${check} -P ${CMAKE_CURRENT_LIST_DIR}/check_graph_cli.cmake)
  set_tests_properties(graph.cli.${check} PROPERTIES LABELS "unit" TIMEOUT 120)
endforeach()
