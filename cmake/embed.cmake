# opbench_embed_text(TARGET_SOURCES_VAR INPUT NAMESPACE SYMBOL): a generated .cpp defining
# `NAMESPACE::SYMBOL` as the text of INPUT, appended to the list variable TARGET_SOURCES_VAR.
function(opbench_embed_text sources_var input namespace symbol)
  get_filename_component(stem ${input} NAME)
  string(MAKE_C_IDENTIFIER "${stem}" stem)
  set(output ${CMAKE_CURRENT_BINARY_DIR}/embedded_${stem}.cpp)
  add_custom_command(OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${input} -DOUTPUT=${output} -DNAMESPACE=${namespace}
            -DSYMBOL=${symbol} -P ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
    DEPENDS ${input} ${PROJECT_SOURCE_DIR}/cmake/embed_text.cmake
    COMMENT "Embedding ${input}")
  set(${sources_var} ${${sources_var}} ${output} PARENT_SCOPE)
endfunction()
