#pragma once
// A JSON Schema validator for the subset reports/opbench-report.schema.json uses, so that the
// schema file is the one definition of a valid report: type (a name or a list), required,
// properties, additionalProperties, items, enum, const, minimum, maximum, local $ref, allOf, oneOf
// and if/then/else. Annotations ($schema, $id, title, description) are ignored. The first problem
// is named by the JSON path of the value it concerns: "opbench.cases[1].params.rows: expected an
// integer or a string, got number".
#include <nlohmann/json.hpp>
#include <string>

namespace opbench::reports {

// "null", "boolean", "integer", "number", "string", "array", "object" (as JSON Schema names them).
std::string json_type_name(const nlohmann::json& v);

class JsonSchema {
 public:
  // Throws std::invalid_argument when `schema` uses a keyword this validator does not know, so
  // that a schema edit cannot silently stop checking something.
  explicit JsonSchema(nlohmann::json schema);
  // "" when `doc` is valid, else the first problem.
  std::string validate(const nlohmann::json& doc) const;

 private:
  nlohmann::json schema_;
};

}  // namespace opbench::reports
