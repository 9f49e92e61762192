# Embeds a text file into the build as a C++ string constant, so opbench carries it wherever the
# binary is copied (the report schema, the known-failure manifest). Run at build time:
#   cmake -DINPUT=file -DOUTPUT=file.cpp -DNAMESPACE=opbench::x -DSYMBOL=kText -P embed_text.cmake
# declares `extern const char* const SYMBOL;` in NAMESPACE and defines it. Written only when it
# changed, so nothing recompiles for nothing.
foreach(var INPUT OUTPUT NAMESPACE SYMBOL)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_text.cmake: set -D${var}=...")
  endif()
endforeach()
file(READ ${INPUT} text)
string(FIND "${text}" ")opbench_embedded\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw string's delimiter")
endif()
get_filename_component(name ${INPUT} NAME)
file(WRITE ${OUTPUT}.tmp
     "// Generated from ${name} at build time: do not edit.\n"
     "namespace ${NAMESPACE} {\n"
     "extern const char* const ${SYMBOL};\n"
     "const char* const ${SYMBOL} = R\"opbench_embedded(${text})opbench_embedded\";\n"
     "}  // namespace ${NAMESPACE}\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
