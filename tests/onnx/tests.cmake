# ONNX import and export (label onnx): the C++ tests (every tests/onnx/*_test.cpp, one executable),
# and the ONNX backend node tests: scripts/onnx_node_tests.py writes ONNX's cases into the build
# directory (fixture onnx.node_data), plumb_onnx_node_tests imports, runs and compares each one
# (onnx.node_tests; onnx.node_tests_opset17 for the old-opset cases the script retargets).
file(GLOB PLUMB_ONNX_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*_test.cpp)
if(PLUMB_ONNX_TEST_SOURCES)
add_executable(plumb_onnx_tests ${PLUMB_ONNX_TEST_SOURCES})
target_include_directories(plumb_onnx_tests PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(plumb_onnx_tests PRIVATE plumb onnx onnx_proto protobuf::libprotobuf nlohmann_json::nlohmann_json
  GTest::gtest GTest::gtest_main)
target_compile_definitions(plumb_onnx_tests PRIVATE
  PLUMB_SCRIPTS_DIR="${PROJECT_SOURCE_DIR}/scripts"
  PLUMB_ONNX_TEST_DIR="${CMAKE_CURRENT_BINARY_DIR}/onnx_test_data"
  PLUMB_CLI="$<TARGET_FILE:plumb_cli>")
add_dependencies(plumb_onnx_tests plumb_cli)
gtest_discover_tests(plumb_onnx_tests PROPERTIES LABELS "onnx" DISCOVERY_TIMEOUT 60)
endif()

add_executable(plumb_onnx_node_tests ${CMAKE_CURRENT_LIST_DIR}/node_tests.cpp)
target_link_libraries(plumb_onnx_node_tests PRIVATE plumb onnx onnx_proto protobuf::libprotobuf
  nlohmann_json::nlohmann_json)
set(PLUMB_ONNX_NODE_DATA ${CMAKE_CURRENT_BINARY_DIR}/onnx_node_data)
add_test(NAME onnx.node_data COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/onnx_node_tests.py
  ${PLUMB_ONNX_NODE_DATA})
set_tests_properties(onnx.node_data PROPERTIES LABELS "onnx" TIMEOUT 300 FIXTURES_SETUP plumb_onnx_node_data)
add_test(NAME onnx.node_tests COMMAND plumb_onnx_node_tests ${PLUMB_ONNX_NODE_DATA}
  --markdown ${CMAKE_CURRENT_BINARY_DIR}/onnx_node_tests.md --json ${CMAKE_CURRENT_BINARY_DIR}/onnx_node_tests.json)
set_tests_properties(onnx.node_tests PROPERTIES LABELS "onnx" TIMEOUT 600 FIXTURES_REQUIRED plumb_onnx_node_data)
# Cases written for opsets below 11 whose ops did not change, retargeted to opset 17 by the script.
add_test(NAME onnx.node_tests_opset17 COMMAND plumb_onnx_node_tests ${PLUMB_ONNX_NODE_DATA}/node_opset17)
set_tests_properties(onnx.node_tests_opset17 PROPERTIES LABELS "onnx" TIMEOUT 600
  FIXTURES_REQUIRED plumb_onnx_node_data)

# Other ONNX test fragments in this directory (the PyTorch model tests) join here.
file(GLOB PLUMB_ONNX_TEST_CMAKE CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cmake)
list(REMOVE_ITEM PLUMB_ONNX_TEST_CMAKE ${CMAKE_CURRENT_LIST_DIR}/tests.cmake)
foreach(f ${PLUMB_ONNX_TEST_CMAKE})
  include(${f})
endforeach()
