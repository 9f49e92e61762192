#pragma once
// The typed results of a run as JSON and back, without loss (NaN and infinities included): what a
// worker process sends its planner (harness/worker_protocol.hpp) and what the run's journal holds
// line by line (harness/journal.hpp). Not the report: reports/ writes that, for people and tools;
// this is the engine's own wire format, versioned with the worker protocol.
#include <nlohmann/json.hpp>

#include "harness/results.hpp"
#include "harness/runner.hpp"

namespace opbench::codec {

using nlohmann::json;

json to_json(const Repetition& r);
json to_json(const CaseRecord& c);
json to_json(const DatasetRecord& d);
json to_json(const TensorRecord& t);  // as the report's datasets list it too
json to_json(const Ceiling& c);
json to_json(const BuildInfo& b);
json to_json(const Selection& s);
// The options a worker needs to run cases as its planner would (not progress, command line or
// interleaving, which the planner keeps).
json to_json(const RunOptions& o);

// Each throws std::runtime_error naming the field when `j` is not what to_json writes.
Repetition repetition_from(const json& j);
CaseRecord case_from(const json& j);
DatasetRecord dataset_from(const json& j);
Ceiling ceiling_from(const json& j);
BuildInfo build_from(const json& j);
Selection selection_from(const json& j);
RunOptions options_from(const json& j);

}  // namespace opbench::codec
