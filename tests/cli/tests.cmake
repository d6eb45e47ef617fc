# CLI tests (label unit): the `plumb` executable's output and exit codes, checked by check_cli.cmake.
foreach(check ops_json ops_table unknown_command help_version)
  add_test(NAME cli.${check}
    COMMAND ${CMAKE_COMMAND} -DPLUMB=$<TARGET_FILE:plumb_cli> -DCHECK=${check} -DVERSION=${PROJECT_VERSION}
      -P ${CMAKE_CURRENT_LIST_DIR}/check_cli.cmake)
  set_tests_properties(cli.${check} PROPERTIES LABELS "unit" TIMEOUT 120)
endforeach()
