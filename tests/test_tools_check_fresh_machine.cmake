# CTest script: tools/check_fresh_machine.sh refuses what it cannot do with one line and exit 2,
# before it touches anything: run as a user other than root, and an unknown argument.
# (The check itself debootstraps a Debian root for ~10 minutes: .ci/run runs it, not CTest.)
#
# cmake -DSOURCE_DIR=<repo> -P test_tools_check_fresh_machine.cmake

set(script ${SOURCE_DIR}/tools/check_fresh_machine.sh)

function(expect_refusal what expected_text)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(STRIP "${err}" err)
  string(REPLACE "\n" ";" lines "${err}")
  list(LENGTH lines count)
  if(NOT rc EQUAL 2 OR NOT count EQUAL 1 OR NOT out STREQUAL "")
    message(FATAL_ERROR "${what}: want exit 2 and one line on stderr, got exit ${rc}, "
                        "stdout '${out}', stderr '${err}'")
  endif()
  string(FIND "${err}" "${expected_text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: '${err}' does not say '${expected_text}'")
  endif()
endfunction()

expect_refusal("an unknown argument" "unknown argument '--no-such-flag'" ${script} --no-such-flag)

# Not root: as root, drop to the nobody user; as anyone else, run it as it is.
execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(uid STREQUAL "0")
  find_program(SETPRIV setpriv REQUIRED)
  expect_refusal("not root" "must run as root"
                 ${SETPRIV} --reuid=65534 --regid=65534 --clear-groups ${script})
else()
  expect_refusal("not root" "must run as root" ${script})
endif()
message(STATUS "check_fresh_machine.sh refuses bad arguments and non-root users with one line")
