#pragma once
// The journal of a run: one JSON line per event of the run (its description, the ceilings, each
// dataset, each case as it finishes, each later repetition), appended and flushed to the disk
// (fsync) as it happens, next to the report. A run that ends writes its report from what it holds
// in memory and removes the journal; a run that is killed leaves it, and `opbench report
// --from-journal` turns it into a report of what finished (marked incomplete).
#include <cstdio>
#include <string>

#include "harness/results.hpp"
#include "harness/run_sink.hpp"

namespace opbench {

inline constexpr int kJournalVersion = 1;

class Journal final : public RunSink {
 public:
  // Creates `path` (it must not exist: an earlier run's journal is never overwritten); throws
  // UsageError naming the path when it cannot.
  explicit Journal(std::string path);
  ~Journal() override;  // closes the file, leaves it on the disk
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::string& path() const { return path_; }
  std::size_t cases() const { return cases_; }  // case lines written
  // Closes and deletes the journal (its run's report is written).
  void remove();

  void on_begin(const RunResult& run) override;
  void on_ceilings(const std::vector<Ceiling>& ceilings) override;
  void on_dataset(const DatasetRecord& dataset) override;
  void on_case(std::size_t index, const CaseRecord& record) override;
  void on_repetition(std::size_t index, const Repetition& repetition) override;
  void on_round_error(std::size_t index, const std::string& error) override;
  void on_end() override;

 private:
  void line(const std::string& text);
  std::string path_;
  int fd_ = -1;
  std::size_t cases_ = 0;
};

// The run a journal holds: complete when it ends with its end line, else marked incomplete
// ("killed: the journal ends after N of M planned cases"). A last line cut off by the kill is
// ignored; anything else unreadable throws UsageError naming the file and the line.
RunResult read_journal(const std::string& path);

}  // namespace opbench
