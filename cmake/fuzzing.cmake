# -DOPBENCH_FUZZ=ON: every library is built for libFuzzer (coverage instrumentation) with
# AddressSanitizer and UndefinedBehaviorSanitizer, so that the fuzz targets in fuzz/ find memory
# errors and undefined behaviour in the code they reach, not only crashes. Needs clang
# (Debian: clang, libclang-rt-14-dev for the runtimes, libomp-14-dev for OpenMP);
# tools/fuzz.sh configures it.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "OPBENCH_FUZZ needs clang (libFuzzer): configure with CC=clang CXX=clang++ "
                      "(tools/fuzz.sh does), not ${CMAKE_CXX_COMPILER_ID}")
endif()
set(OPBENCH_FUZZ_FLAGS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
                       -fno-omit-frame-pointer -g)
foreach(flag IN LISTS OPBENCH_FUZZ_FLAGS)
  add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${flag}>")
endforeach()
add_link_options(-fsanitize=address,undefined)
