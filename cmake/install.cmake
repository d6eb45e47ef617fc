# Install rules and the CMake package config, so another project can `find_package(plumb)`.
# Included by the top-level CMakeLists.txt after the plumb and plumb_cli targets exist.
include(CMakePackageConfigHelpers)

set(PLUMB_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/plumb)

# 0.x: the ABI may change with each minor version, so the soname carries it.
set_target_properties(plumb PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
# `plumb --version` prints the same version the package config advertises.
target_compile_definitions(plumb_cli PRIVATE PLUMB_VERSION="${PROJECT_VERSION}")
# The installed executable finds libplumb next door in the install tree.
set_target_properties(plumb_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")

install(TARGETS plumb EXPORT plumbTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS plumb_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/plumb DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.h")

install(EXPORT plumbTargets NAMESPACE plumb:: DESTINATION ${PLUMB_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/plumbConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/plumbConfig.cmake
  INSTALL_DESTINATION ${PLUMB_INSTALL_CMAKEDIR})
# 0.x releases may change the API with each minor version.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/plumbConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/plumbConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/plumbConfigVersion.cmake
  DESTINATION ${PLUMB_INSTALL_CMAKEDIR})
