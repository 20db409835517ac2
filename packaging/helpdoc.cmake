# helpdoc.cmake -- writes OUT from `PROG --help` (the reference installed in
# share/doc/herald/, one text file per program). Inputs: PROG, OUT.
execute_process(COMMAND "${PROG}" --help OUTPUT_FILE "${OUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROG} --help exited ${rc}")
endif()
