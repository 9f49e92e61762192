#pragma once
// Receives a run's typed results as they happen, the way Google Benchmark's reporters receive runs:
// the journal (harness/journal.hpp) writes each one down at once so that a killed run loses
// nothing already measured. Records are numbered in the order on_case gives them, which is their
// index in RunResult::cases.
#include <cstddef>
#include <string>
#include <vector>

#include "harness/results.hpp"

namespace opbench {

class RunSink {
 public:
  virtual ~RunSink() = default;
  // The run's description (context, build, devices, threads): `run` has no cases yet.
  virtual void on_begin(const RunResult& run) = 0;
  virtual void on_ceilings(const std::vector<Ceiling>& ceilings) = 0;
  virtual void on_dataset(const DatasetRecord& dataset) = 0;
  // A case's record after its first unit (or its skip): record number `index`.
  virtual void on_case(std::size_t index, const CaseRecord& record) = 0;
  // One more repetition of record `index`, taken in a later round.
  virtual void on_repetition(std::size_t index, const Repetition& repetition) = 0;
  // Record `index` failed in a later round: it gets `error` and loses its time.
  virtual void on_round_error(std::size_t index, const std::string& error) = 0;
  // Every planned case finished (not called for a run that was interrupted).
  virtual void on_end() = 0;
};

}  // namespace opbench
