# Install test (label unit): installs this build into a scratch prefix, then builds and runs
# tests/install/consumer against it through find_package(plumb).
set(PLUMB_CONSUMER_FLAGS "")
if(PLUMB_SANITIZE)
  # libplumb is instrumented, so the consumer must link the sanitizer runtimes too.
  set(PLUMB_CONSUMER_FLAGS "-fsanitize=address,undefined")
endif()
add_test(NAME install.find_package_consumer
  COMMAND ${CMAKE_COMMAND}
    -DBUILD_DIR=${PROJECT_BINARY_DIR}
    -DCONFIG=$<CONFIG>
    -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_test
    -DCONSUMER_DIR=${CMAKE_CURRENT_LIST_DIR}/consumer
    -DGENERATOR=${CMAKE_GENERATOR}
    -DCXX=${CMAKE_CXX_COMPILER}
    -DLAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
    -DCXX_FLAGS=${PLUMB_CONSUMER_FLAGS}
    -DVERSION=${PROJECT_VERSION}
    -P ${CMAKE_CURRENT_LIST_DIR}/run_install_test.cmake)
set_tests_properties(install.find_package_consumer PROPERTIES LABELS "unit" TIMEOUT 600)
