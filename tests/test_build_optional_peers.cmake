# CTest script: an optional peer whose CMake package is broken must cost that peer, never the build.
#
# Configures opbench into a scratch folder with three unusable peers put first on the search path:
#   - a oneDNN config that requires a dependency that is not installed (Debian's oneDNN config
#     requires OpenCL, which libdnnl-dev only recommends: the failure a fresh machine met);
#   - a FAISS config that loads but names a library file that does not exist;
#   - a libtorch config likewise (libtorch-dev's headers may be installed or not: either way its
#     test program cannot link).
# Then builds the opbench command line and checks that configure, `opbench list` and the report's
# build block all say each peer was skipped, and why.
#
# cmake -DSOURCE_DIR=<repo> -DWORK_DIR=<scratch> -P test_build_optional_peers.cmake

foreach(var SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "set -D${var}=...")
  endif()
endforeach()

file(REMOVE_RECURSE ${WORK_DIR})
set(broken ${WORK_DIR}/broken-peers)
# As Debian's oneDNN config does for OpenCL: its own Find module, then a REQUIRED lookup.
file(WRITE ${broken}/dnnl/dnnl-config.cmake
     "set(dnnl_VERSION 9.9.9)\nlist(INSERT CMAKE_MODULE_PATH 0 \${CMAKE_CURRENT_LIST_DIR})\n"
     "find_package(OpbenchMissingDependency REQUIRED)\n")
file(WRITE ${broken}/dnnl/FindOpbenchMissingDependency.cmake
     "include(FindPackageHandleStandardArgs)\n"
     "find_library(OpbenchMissingDependency_LIBRARY NAMES opbench_missing_dependency)\n"
     "find_package_handle_standard_args(OpbenchMissingDependency\n"
     "  REQUIRED_VARS OpbenchMissingDependency_LIBRARY)\n")
file(WRITE ${broken}/faiss/faiss-config.cmake
     "set(faiss_VERSION 9.9.9)\nadd_library(faiss SHARED IMPORTED)\n"
     "set_target_properties(faiss PROPERTIES IMPORTED_LOCATION ${broken}/faiss/libfaiss-gone.so)\n")
file(WRITE ${broken}/torch/TorchConfig.cmake
     "set(Torch_VERSION 9.9.9)\nadd_library(torch SHARED IMPORTED)\n"
     "set_target_properties(torch PROPERTIES IMPORTED_LOCATION ${broken}/torch/libtorch-gone.so)\n")

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(step_output "${out}\n${err}" PARENT_SCOPE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
endfunction()

function(expect_in text pattern where)
  string(FIND "${text}" "${pattern}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${where} does not say \"${pattern}\":\n${text}")
  endif()
endfunction()

# This checks the build's wiring, not its speed: no optimization, no debug information, no native
# tuning, and a unity build (several sources compiled as one), which builds the command line in
# about a quarter of the time a Debug build takes (95 s against 408 s on 2 cores).
set(build ${WORK_DIR}/build)
run_step("configure with broken peers"
         ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -DCMAKE_BUILD_TYPE=Debug
         -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DCMAKE_UNITY_BUILD=ON -DOPBENCH_NATIVE=OFF
         -DOPBENCH_WITH_CUDA=OFF -DBUILD_TESTING=OFF -Ddnnl_DIR=${broken}/dnnl
         -Dfaiss_DIR=${broken}/faiss -DTorch_DIR=${broken}/torch)
set(configure_output "${step_output}")
expect_in("${configure_output}"
          "opbench oneDNN peer: skipped: oneDNN's CMake package config failed: Could NOT find OpbenchMissingDependency"
          "configure")
expect_in("${configure_output}"
          "opbench FAISS peer: skipped: a test program against FAISS did not build: No rule to make target"
          "configure")
expect_in("${configure_output}" "opbench libtorch peer: skipped: a test program against libtorch did not build"
          "configure")

run_step("build without the broken peers" ${CMAKE_COMMAND} --build ${build} --target opbench -j 2)

run_step("opbench list" ${build}/tools/opbench list --suite norm)
expect_in("${step_output}" "onednn  NOT available: not built: skipped: oneDNN's CMake package config failed"
          "opbench list")
expect_in("${step_output}" "faiss  NOT available: not built: skipped: a test program against FAISS"
          "opbench list")
expect_in("${step_output}" "torch  NOT available: not built: skipped: a test program against libtorch"
          "opbench list")

set(report ${WORK_DIR}/report.json)
run_step("opbench check" ${build}/tools/opbench check --op rmsnorm --impl cpu.plain --axis rows=4
         --axis cols=64 --axis dist=normal --json ${report})
file(READ ${report} json)
string(JSON onednn GET "${json}" opbench build onednn)
string(JSON faiss GET "${json}" opbench build faiss)
string(JSON torch GET "${json}" opbench build torch)
expect_in("${onednn}" "skipped: oneDNN's CMake package config failed" "the report's build.onednn")
expect_in("${faiss}" "skipped: a test program against FAISS did not build" "the report's build.faiss")
expect_in("${torch}" "skipped: a test program against libtorch did not build" "the report's build.torch")

file(REMOVE_RECURSE ${WORK_DIR})
message(STATUS "broken peers skipped with their reasons; opbench built and ran without them")
