# Optional peers (oneDNN, FAISS, libtorch) must never break opbench's configure or build.
#
# `find_package(X CONFIG QUIET)` is not enough: QUIET silences "not found", but a package config
# that *is* found runs its own code, and Debian's oneDNN config calls find_package(OpenCL REQUIRED)
# for a package libdnnl-dev only recommends. That error stops the whole configure. So each peer is
# first probed in a child CMake process (cmake/peer_probe): load the config, build a small program
# against the library, run it. Only when all three work is the config loaded here; otherwise the
# peer is skipped and the first line of the child's error becomes its status.
#
# opbench_optional_peer(NAME onednn LABEL oneDNN PACKAGE dnnl TARGET DNNL::dnnl
#                       SOURCE cmake/peer_probe/onednn.cpp DEBIAN libdnnl-dev)
# sets, in the caller's scope:
#   OPBENCH_HAVE_<NAME>    ON when the peer is usable (its imported target then exists here)
#   OPBENCH_<NAME>_STATUS  "enabled (oneDNN 2.6.3)", "skipped: <why>" or "disabled (-D...=OFF)"
# with <NAME> upper-cased. The option OPBENCH_WITH_<NAME> turns the peer off altogether.

set(OPBENCH_PEER_PROBE_DIR ${CMAKE_CURRENT_LIST_DIR}/peer_probe)

# The first message of a CMake error in `text` (the lines after "CMake Error ...:" up to its call
# stack), on one line.
function(opbench_first_cmake_error text out_var)
  string(REPLACE "\n" ";" lines "${text}")
  set(message "")
  set(collecting OFF)
  foreach(line IN LISTS lines)
    if(collecting)
      string(STRIP "${line}" stripped)
      if(stripped MATCHES "^Call Stack" OR stripped MATCHES "^CMake Error")
        break()
      elseif(NOT stripped STREQUAL "")
        string(APPEND message " ${stripped}")
      endif()
    elseif(line MATCHES "^CMake Error")
      set(collecting ON)
    endif()
  endforeach()
  string(STRIP "${message}" message)
  # find_package(<dependency> REQUIRED) of a package with neither a Find module nor a config says
  # so in a paragraph; its gist is one clause.
  if(message MATCHES "^By not providing \"Find([^\"]+)\\.cmake\"")
    set(message "it requires the package ${CMAKE_MATCH_1}, which was not found")
  endif()
  if(message STREQUAL "")
    # No CMake error block (a compiler or linker failure): its first error line says most, then
    # make's own complaint ("No rule to make target <a missing library>"), else the last line.
    foreach(line IN LISTS lines)
      if(line MATCHES "[Ee]rror" AND NOT line MATCHES "^g?make")
        string(STRIP "${line}" message)
        break()
      endif()
    endforeach()
    if(message STREQUAL "")
      foreach(line IN LISTS lines)
        if(line MATCHES "^g?make(\\[[0-9]+\\])?: \\*\\*\\* (.*)$")
          set(message "${CMAKE_MATCH_2}")
          break()
        endif()
      endforeach()
    endif()
    if(message STREQUAL "")
      string(STRIP "${text}" stripped)
      string(REGEX REPLACE ".*\n" "" message "${stripped}")
    endif()
  endif()
  string(LENGTH "${message}" length)
  if(length GREATER 240)
    string(SUBSTRING "${message}" 0 237 message)
    string(APPEND message "...")
  endif()
  set(${out_var} "${message}" PARENT_SCOPE)
endfunction()

function(opbench_optional_peer)
  cmake_parse_arguments(P "" "NAME;LABEL;PACKAGE;TARGET;SOURCE;DEBIAN" "" ${ARGN})
  string(TOUPPER "${P_NAME}" upper)
  option(OPBENCH_WITH_${upper} "Build the ${P_LABEL} peer when ${P_LABEL} is found and works" ON)
  set(have OFF)
  set(status "disabled (-DOPBENCH_WITH_${upper}=OFF)")

  if(OPBENCH_WITH_${upper})
    set(probe_dir ${CMAKE_BINARY_DIR}/peer_probes/${P_NAME})
    set(result_file ${probe_dir}/result.cmake)
    file(REMOVE ${result_file})
    # Forward what decides where the config is looked up, and the compilers this build uses.
    set(forwarded
        -DPEER_PACKAGE=${P_PACKAGE} -DPEER_TARGET=${P_TARGET}
        -DPEER_SOURCE=${PROJECT_SOURCE_DIR}/${P_SOURCE} -DPEER_RESULT=${result_file}
        -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
        -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER} "-DCMAKE_PREFIX_PATH=${CMAKE_PREFIX_PATH}")
    if(DEFINED ${P_PACKAGE}_DIR AND ${P_PACKAGE}_DIR)
      list(APPEND forwarded "-D${P_PACKAGE}_DIR=${${P_PACKAGE}_DIR}")
    endif()
    if(DEFINED ${P_PACKAGE}_ROOT)
      list(APPEND forwarded "-D${P_PACKAGE}_ROOT=${${P_PACKAGE}_ROOT}")
    endif()

    execute_process(
      COMMAND ${CMAKE_COMMAND} -S ${OPBENCH_PEER_PROBE_DIR} -B ${probe_dir}/build
              -G ${CMAKE_GENERATOR} ${forwarded}
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(rc EQUAL 0 AND EXISTS ${result_file})
      include(${result_file})
    endif()

    if(NOT rc EQUAL 0)
      if(err MATCHES "Could not find a package configuration file provided by \"${P_PACKAGE}\"")
        set(status "skipped: ${P_LABEL} not found (Debian: ${P_DEBIAN})")
      else()
        opbench_first_cmake_error("${err}" why)
        set(status "skipped: ${P_LABEL}'s CMake package config failed: ${why}")
      endif()
    else()
      execute_process(COMMAND ${CMAKE_COMMAND} --build ${probe_dir}/build
                      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
      if(NOT rc EQUAL 0)
        opbench_first_cmake_error("${out}\n${err}" why)
        set(status "skipped: a test program against ${P_LABEL} did not build: ${why}")
      else()
        execute_process(COMMAND ${probe_dir}/build/peer_probe TIMEOUT 60
                        RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
        if(NOT rc EQUAL 0)
          opbench_first_cmake_error("${out}\n${err}" why)
          set(status "skipped: a test program against ${P_LABEL} built but failed (${rc}): ${why}")
        else()
          # The child proved the config loads and the library works: load it here too.
          find_package(${P_PACKAGE} CONFIG QUIET HINTS ${PROBED_DIR})
          if(${P_PACKAGE}_FOUND AND TARGET ${P_TARGET})
            set(have ON)
            set(status "enabled (${P_LABEL} ${${P_PACKAGE}_VERSION})")
          else()
            set(status "skipped: ${P_LABEL}'s config worked in the probe but not in this project")
          endif()
        endif()
      endif()
    endif()
  endif()

  message(STATUS "opbench ${P_LABEL} peer: ${status}")
  set(OPBENCH_HAVE_${upper} ${have} PARENT_SCOPE)
  set(OPBENCH_${upper}_STATUS "${status}" PARENT_SCOPE)
endfunction()
