# PyTorch-exported torchvision models (label onnx). The fixture test onnx.torch_models.export runs
# scripts/torch_onnx_models.py into the build tree (about 30 s and 250 MB; a later run finds the
# data up to date); the Onnx/TorchModels.MatchesPyTorch/<model> tests of plumb_onnx_tests
# (torch_models_test.cpp) import and execute each model and compare with PyTorch's output. Needs
# Debian's python3-torch and python3-torchvision for /usr/bin/python3.
set(PLUMB_TORCH_ONNX_MODELS resnet18 mobilenet_v2 squeezenet1_1 shufflenet_v2_x1_0 densenet121 googlenet
  inception_v3 mobilenet_v3_small efficientnet_b0)
set(PLUMB_TORCH_ONNX_DIR ${CMAKE_CURRENT_BINARY_DIR}/torch_onnx_models)
list(JOIN PLUMB_TORCH_ONNX_MODELS "," _plumb_torch_onnx_models)

# Only the test's own file gets the definitions, so changing the list rebuilds one file.
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/torch_models_test.cpp PROPERTIES COMPILE_DEFINITIONS
  "PLUMB_TORCH_ONNX_DIR=\"${PLUMB_TORCH_ONNX_DIR}\";PLUMB_TORCH_ONNX_MODELS=\"${_plumb_torch_onnx_models}\"")

add_test(NAME onnx.torch_models.export
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/torch_onnx_models.py ${PLUMB_TORCH_ONNX_DIR}
    --models ${_plumb_torch_onnx_models})
set_tests_properties(onnx.torch_models.export PROPERTIES LABELS "onnx" TIMEOUT 600
  FIXTURES_SETUP plumb_torch_onnx_models)

# The TorchModels tests are discovered from plumb_onnx_tests at build time, so they get the fixture
# in a CTest include file that runs after the discovery's (deferred to the end of this directory,
# whatever the order of the includes), reading the list gtest_discover_tests leaves in
# plumb_onnx_tests_TESTS.
set(_plumb_torch_onnx_include ${CMAKE_CURRENT_BINARY_DIR}/plumb_torch_onnx_fixture.cmake)
file(WRITE ${_plumb_torch_onnx_include}
  "foreach(t IN LISTS plumb_onnx_tests_TESTS)\n"
  "  if(t MATCHES \"TorchModels\\\\.\")\n"
  "    set_tests_properties(\"\${t}\" PROPERTIES FIXTURES_REQUIRED plumb_torch_onnx_models)\n"
  "  endif()\n"
  "endforeach()\n")
cmake_language(DEFER CALL set_property DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${_plumb_torch_onnx_include})
