# Embeds suites/known_failures.json into the build as a string, so opbench carries its manifest
# wherever it is copied. Run by CMake at build time (see suites/CMakeLists.txt).
file(READ ${INPUT} text)
file(WRITE ${OUTPUT}.tmp
     "// Generated from suites/known_failures.json at build time: do not edit.\n"
     "namespace opbench::suite {\n"
     "extern const char* const kKnownFailuresJson;\n"
     "const char* const kKnownFailuresJson = R\"opbench_manifest(${text})opbench_manifest\";\n"
     "}  // namespace opbench::suite\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
