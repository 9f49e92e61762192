# CTest script: tools/check_fresh_machine.sh refuses what it cannot do with one line and exit 2,
# before it touches anything: run as a user other than root, and an unknown argument.
# (The check itself debootstraps a Debian root for ~10 minutes: .ci/run runs it, not CTest.)
#
# cmake -DSOURCE_DIR=<repo> -P test_tools_check_fresh_machine.cmake

set(script ${SOURCE_DIR}/tools/check_fresh_machine.sh)

# check_refusal(WHAT TEXT RC OUT ERR): exit 2, nothing on stdout, one stderr line saying TEXT.
function(check_refusal what expected_text rc out err)
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

execute_process(COMMAND ${script} --no-such-flag RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
check_refusal("an unknown argument" "unknown argument '--no-such-flag'" "${rc}" "${out}" "${err}")

# Not root: as root, drop to the nobody user; as anyone else, run it as it is.
execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(uid STREQUAL "0")
  # nobody may be unable to reach the checkout (a clone under /root is 0700, as in the
  # fresh-machine check itself): it runs a copy from a directory everyone can read.
  find_program(SETPRIV setpriv REQUIRED)
  execute_process(COMMAND mktemp -d OUTPUT_VARIABLE copy_dir OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(readable OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ
               WORLD_EXECUTE)
  file(CHMOD ${copy_dir} DIRECTORY_PERMISSIONS ${readable})
  file(COPY ${script} DESTINATION ${copy_dir}/tools FILE_PERMISSIONS ${readable}
       DIRECTORY_PERMISSIONS ${readable})
  execute_process(COMMAND ${SETPRIV} --reuid=65534 --regid=65534 --clear-groups
                          ${copy_dir}/tools/check_fresh_machine.sh
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  file(REMOVE_RECURSE ${copy_dir})
else()
  execute_process(COMMAND ${script} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
endif()
check_refusal("not root" "must run as root" "${rc}" "${out}" "${err}")
message(STATUS "check_fresh_machine.sh refuses bad arguments and non-root users with one line")
