# `plumb profile` and `plumb suite` CLI tests (label unit), run by check_profile.cmake in their own directory.
# cli_profile.profile writes a profile, a trace and a CSV that cli_profile.report turns into a report.
set(PLUMB_CLI_PROFILE_DIR ${CMAKE_CURRENT_BINARY_DIR}/cli_profile)
foreach(check profile report bad_args bad_profile suite suite_bad_args)
  add_test(NAME cli_profile.${check}
    COMMAND ${CMAKE_COMMAND} -DPLUMB=$<TARGET_FILE:plumb_cli> -DCHECK=${check} -DDIR=${PLUMB_CLI_PROFILE_DIR}
      -P ${CMAKE_CURRENT_LIST_DIR}/check_profile.cmake)
  set_tests_properties(cli_profile.${check} PROPERTIES LABELS "unit" TIMEOUT 120)
endforeach()
set_tests_properties(cli_profile.profile PROPERTIES FIXTURES_SETUP plumb_profile_lenet5)
set_tests_properties(cli_profile.report PROPERTIES FIXTURES_REQUIRED plumb_profile_lenet5)
