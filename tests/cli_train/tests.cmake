# `plumb train` / `plumb eval` CLI tests (label unit), run by check_train.cmake in their own directory.
# cli_train.train writes a checkpoint and metrics that cli_train.eval reads (a CTest fixture).
set(PLUMB_CLI_TRAIN_DIR ${CMAKE_CURRENT_BINARY_DIR}/cli_train)
foreach(check train eval unknown_model bad_args resume)
  add_test(NAME cli_train.${check}
    COMMAND ${CMAKE_COMMAND} -DPLUMB=$<TARGET_FILE:plumb_cli> -DCHECK=${check} -DDIR=${PLUMB_CLI_TRAIN_DIR}
      -P ${CMAKE_CURRENT_LIST_DIR}/check_train.cmake)
  set_tests_properties(cli_train.${check} PROPERTIES LABELS "unit" TIMEOUT 60)
endforeach()
set_tests_properties(cli_train.train PROPERTIES FIXTURES_SETUP plumb_train_mlp)
set_tests_properties(cli_train.eval PROPERTIES FIXTURES_REQUIRED plumb_train_mlp)
