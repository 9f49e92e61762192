#pragma once
// The worker protocol (version kWorkerProtocol): how a planner hands cases to a worker process and
// gets typed results back. One JSON object per line; the worker reads requests on its stdin and
// answers on its stdout (anything else it prints goes to stderr).
//
// clang-format off
//   worker, first:  {"opbench_worker": 1, "build": {...}}
//   planner:        {"setup": {"selection": {...}, "options": {...}, "repetitions_now": 1,
//                              "known_only": false}}
//   worker:         {"ready": N, "cases": [{"record": {...}, "skip": ""}, ...]}
//                   (its plan: each case's record before it ran)  or  {"error": "..."}
//   planner:        {"first": "<case name>"}
//   worker:         {"first": {"record": {...}, "dataset": {...} | null, "iterations": 1234},
//                    "lost": ""}
//   planner:        {"again": "<case name>", "round": 2, "iterations": 1234}
//   worker:         {"again": {"repetition": {...} | null, "error": ""}, "lost": ""}
//   planner:        {"quit": true}   (or closes the worker's stdin)
// clang-format on
//
// With "known_only" the worker plans the part of the selection its build knows (names of suites,
// ops or implementations it lacks are dropped), as a planner joining two builds' plans needs.
// Records, datasets and repetitions are in harness/case_codec.hpp's form. "lost" is non-empty
// once a backend of the worker cannot run more cases (a sticky CUDA error): the worker exits after
// that answer and the planner starts a fresh one for the next case. A case that kills its worker
// (a signal, a timeout) is an error of that case only.
#include <string>

#include "harness/data_provider.hpp"
#include "harness/registry.hpp"

namespace opbench {

inline constexpr int kWorkerProtocol = 1;

// Serves the protocol on `in_fd` / `out_fd` until the planner quits or closes `in_fd`, with the
// cases `reg` registers and inputs from `data`. Returns the process exit code (0, or 2 after a
// protocol error). SIGINT and SIGTERM are ignored: the planner decides when its workers stop.
int serve_worker(const Registry& reg, const DataProvider& data, int in_fd, int out_fd);

}  // namespace opbench
