#include "harness/journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "harness/case_codec.hpp"
#include "harness/errors.hpp"

namespace opbench {

using nlohmann::json;

Journal::Journal(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_APPEND, 0644);
  if (fd_ < 0) {
    throw UsageError("cannot create the run's journal " + path_ + ": " + std::strerror(errno));
  }
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::remove() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(path_.c_str());
}

// One line, on the disk before the run goes on: a kill right after loses nothing written. A
// journal that cannot be written stops the run (the measurements would be lost on a kill).
void Journal::line(const std::string& text) {
  if (fd_ < 0) return;
  const std::string data = text + "\n";
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw std::runtime_error("writing the run's journal " + path_ + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  ::fdatasync(fd_);
}

void Journal::on_begin(const RunResult& run) {
  json devices = run.devices;
  line(json{{"journal", "opbench"},
            {"version", kJournalVersion},
            {"begin",
             {{"context", run.context},
              {"build", codec::to_json(run.build)},
              {"devices", devices},
              {"threads", run.threads},
              {"timed", run.timed},
              {"interleaved", run.interleaved},
              {"aggregates_only", run.aggregates_only},
              {"command_line", run.command_line},
              {"planned", run.planned},
              {"settings", run.settings},
              {"workers", run.workers}}}}
           .dump(-1, ' ', false, json::error_handler_t::replace));
}

void Journal::on_ceilings(const std::vector<Ceiling>& ceilings) {
  json list = json::array();
  for (const Ceiling& c : ceilings) list.push_back(codec::to_json(c));
  line(json{{"ceilings", list}}.dump(-1, ' ', false, json::error_handler_t::replace));
}

void Journal::on_dataset(const DatasetRecord& dataset) {
  line(json{{"dataset", codec::to_json(dataset)}}.dump(-1, ' ', false,
                                                       json::error_handler_t::replace));
}

void Journal::on_case(std::size_t index, const CaseRecord& record) {
  ++cases_;
  line(json{{"case", index}, {"record", codec::to_json(record)}}.dump(
      -1, ' ', false, json::error_handler_t::replace));
}

void Journal::on_repetition(std::size_t index, const Repetition& repetition) {
  line(json{{"repetition", index}, {"value", codec::to_json(repetition)}}.dump());
}

void Journal::on_round_error(std::size_t index, const std::string& error) {
  line(json{{"round_error", index}, {"error", error}}.dump(-1, ' ', false,
                                                           json::error_handler_t::replace));
}

void Journal::on_end() {
  line(json{{"end", true}}.dump());
}

namespace {

void apply_begin(const json& b, RunResult& run) {
  run.context = b.at("context");
  run.build = codec::build_from(b.at("build"));
  run.devices = b.at("devices").get<std::vector<std::string>>();
  run.threads = b.at("threads").get<int>();
  run.timed = b.at("timed").get<bool>();
  run.interleaved = b.at("interleaved").get<bool>();
  run.aggregates_only = b.at("aggregates_only").get<bool>();
  run.command_line = b.at("command_line").get<std::string>();
  run.planned = b.at("planned").get<std::size_t>();
  run.workers = b.at("workers").get<std::string>();
  run.settings = b.value("settings", json());
}

CaseRecord& record_at(RunResult& run, const json& index) {
  const auto i = index.get<std::size_t>();
  if (i >= run.cases.size())
    throw std::runtime_error("refers to case " + std::to_string(i) +
                             ", which the journal has not given yet");
  return run.cases[i];
}

}  // namespace

RunResult read_journal(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("--from-journal " + path + ": cannot open: " + std::strerror(errno));
  RunResult run;
  bool begun = false, ended = false;
  std::string text;
  std::size_t number = 0;
  while (std::getline(in, text)) {
    ++number;
    const bool last = in.peek() == std::char_traits<char>::eof();
    json j;
    try {
      j = json::parse(text);
    } catch (const json::exception&) {
      // A kill may cut the last line short (it was being written): what came before stands.
      if (last && !in.bad()) break;
      throw UsageError(path + " line " + std::to_string(number) + ": not a line of JSON");
    }
    try {
      if (!j.is_object()) throw std::runtime_error("not an object");
      if (number == 1) {
        if (j.value("journal", json()) != "opbench") {
          throw std::runtime_error("not an opbench journal (no \"journal\": \"opbench\")");
        }
        if (!j.at("version").is_number_integer() || j.at("version").get<int>() != kJournalVersion) {
          throw std::runtime_error("journal version " + j.at("version").dump() +
                                   ", this opbench reads version " +
                                   std::to_string(kJournalVersion));
        }
        apply_begin(j.at("begin"), run);
        begun = true;
      } else if (j.contains("ceilings")) {
        for (const json& c : j.at("ceilings")) run.ceilings.push_back(codec::ceiling_from(c));
      } else if (j.contains("dataset")) {
        run.datasets.push_back(codec::dataset_from(j.at("dataset")));
      } else if (j.contains("case")) {
        if (j.at("case").get<std::size_t>() != run.cases.size()) {
          throw std::runtime_error("case " + j.at("case").dump() + " out of order");
        }
        run.cases.push_back(codec::case_from(j.at("record")));
      } else if (j.contains("repetition")) {
        record_at(run, j.at("repetition"))
            .timing.repetitions.push_back(codec::repetition_from(j.at("value")));
      } else if (j.contains("round_error")) {
        CaseRecord& rec = record_at(run, j.at("round_error"));
        rec.error = j.at("error").get<std::string>();
        rec.timing.repetitions.clear();
      } else if (j.contains("end")) {
        ended = true;
      } else {
        throw std::runtime_error("an unknown kind of line");
      }
    } catch (const UsageError&) {
      throw;
    } catch (const std::exception& e) {
      throw UsageError(path + " line " + std::to_string(number) + ": " + e.what());
    }
  }
  if (!begun) throw UsageError(path + ": an empty journal (the run was killed before it began)");
  if (!ended) {
    run.incomplete = "killed: its journal ends after " + std::to_string(run.cases.size()) + " of " +
                     std::to_string(run.planned) + " planned cases";
  }
  for (CaseRecord& rec : run.cases) rec.rates = case_rates(rec, run.ceilings);
  return run;
}

}  // namespace opbench
