#include "harness/process_worker.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

#include "harness/case_codec.hpp"
#include "harness/errors.hpp"
#include "harness/interrupt.hpp"
#include "harness/worker_protocol.hpp"

namespace opbench {

using nlohmann::json;

namespace {

// The worker died, timed out or was stopped in a unit: that unit has no answer.
struct UnitLost {
  std::string reason;
  bool interrupted = false;
};

constexpr double kStartTimeoutS = 120;  // registering the suites and planning the selection

bool stop_requested() {
  return interrupted();
}

std::string text_of(const json& j) {
  return j.is_string() ? j.get<std::string>() : j.dump();
}

std::string seconds_text(double s) {
  std::string t = std::to_string(s);
  t.erase(t.find_last_not_of('0') + 1);
  if (!t.empty() && t.back() == '.') t.pop_back();
  return t;
}

}  // namespace

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    std::string text = "died of signal " + std::to_string(sig) + " (" +
                       (abbrev ? std::string("SIG") + abbrev + ": " : std::string()) +
                       strsignal(sig) + ")";
    if (sig == SIGKILL) {
      text += "; the kernel's OOM killer sends SIGKILL when memory runs out";
    }
    return text;
  }
  return "ended with wait status " + std::to_string(status);
}

ProcessWorker::ProcessWorker(WorkerCommand command, const Selection& sel, const RunOptions& options,
                             int repetitions_now, double case_timeout_s, bool known_only)
    : command_(std::move(command)), timeout_s_(case_timeout_s > 0 ? case_timeout_s : -1) {
  if (command_.argv.empty()) throw std::invalid_argument("ProcessWorker: no command");
  setup_ = {{"setup",
             {{"selection", codec::to_json(sel)},
              {"options", codec::to_json(options)},
              {"repetitions_now", repetitions_now},
              {"known_only", known_only}}}};
  // A worker that dies while we write to it must not take the planner with it (SIGPIPE).
  std::signal(SIGPIPE, SIG_IGN);
}

ProcessWorker::~ProcessWorker() {
  stop(false);
}

void ProcessWorker::start() {
  int to[2], from[2];
  if (::pipe2(to, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + strerror(errno));
  if (::pipe2(from, O_CLOEXEC) != 0) {
    ::close(to[0]);
    ::close(to[1]);
    throw std::runtime_error(std::string("pipe: ") + strerror(errno));
  }
  std::vector<char*> argv;
  for (const std::string& a : command_.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    for (int fd : {to[0], to[1], from[0], from[1]}) ::close(fd);
    throw std::runtime_error(std::string("fork: ") + strerror(errno));
  }
  if (pid == 0) {
    // The worker never outlives its planner, however the planner ends.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(to[0], 0);
    ::dup2(from[1], 1);
    ::execv(argv[0], argv.data());
    const char* msg = "opbench: cannot start the worker program\n";
    (void)!::write(2, msg, std::strlen(msg));
    ::_exit(127);
  }
  ::close(to[0]);
  ::close(from[1]);
  pid_ = pid;
  to_worker_ = to[1];
  from_worker_ = from[0];
  pipe_ = std::make_unique<LinePipe>(from_worker_, to_worker_);
  ++starts_;

  std::string hello;
  const LinePipe::Read r = pipe_->read_line(hello, kStartTimeoutS, stop_requested);
  json h;
  try {
    if (r == LinePipe::Read::line) h = json::parse(hello);
  } catch (const json::exception&) {
  }
  if (r == LinePipe::Read::interrupted) {
    stop(true);
    throw UnitLost{"interrupted (" + interrupt_name() + ")", true};
  }
  if (!h.is_object() || !h.contains("opbench_worker")) {
    std::string how =
        r == LinePipe::Read::line ? "it said '" + hello.substr(0, 80) + "'" : "it gave no hello";
    stop(true);
    throw UsageError(command_.label + " (" + command_.argv[0] +
                     ") is not an opbench worker: " + how);
  }
  if (!h.at("opbench_worker").is_number_integer() ||
      h.at("opbench_worker").get<int>() != kWorkerProtocol) {
    const std::string theirs = h.at("opbench_worker").dump();
    stop(true);
    throw UsageError(command_.label + " (" + command_.argv[0] +
                     ") speaks the opbench worker protocol " + theirs + "; this opbench speaks " +
                     std::to_string(kWorkerProtocol) + ": use two builds of compatible versions");
  }
  try {
    build_ = codec::build_from(h.at("build"));
  } catch (const std::exception& e) {
    stop(true);
    throw UsageError(command_.label + " (" + command_.argv[0] +
                     ") gave a malformed build: " + e.what());
  }
  json ready;
  try {
    ready = ask(setup_, kStartTimeoutS);
  } catch (const UnitLost& lost) {
    if (lost.interrupted) throw;
    throw UsageError(command_.label + " (" + command_.argv[0] + ") " + lost.reason +
                     " while planning the selection");
  }
  if (ready.contains("error")) {
    const std::string why = text_of(ready.at("error"));
    stop(true);
    throw UsageError(command_.label + " cannot plan this selection: " + why);
  }
  try {
    std::vector<WorkerCase> cases;
    for (const json& c : ready.at("cases")) {
      cases.push_back({codec::case_from(c.at("record")), c.at("skip").get<std::string>()});
    }
    cases_ = std::move(cases);
  } catch (const std::exception& e) {
    stop(true);
    throw UsageError(command_.label + " (" + command_.argv[0] +
                     ") gave a malformed plan: " + e.what());
  }
}

void ProcessWorker::stop(bool kill_now) {
  if (pid_ > 0 && paused_) ::kill(pid_, SIGCONT);  // a stopped worker cannot quit
  paused_ = false;
  if (pid_ > 0) {
    if (!kill_now && pipe_) pipe_->write_line(json{{"quit", true}}.dump());
    if (to_worker_ >= 0) ::close(to_worker_);
    to_worker_ = -1;
    int status = 0;
    bool reaped = false;
    if (!kill_now) {
      for (int i = 0; i < 40 && !reaped; ++i) {
        reaped = ::waitpid(pid_, &status, WNOHANG) == pid_;
        if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    if (!reaped) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
  }
  if (to_worker_ >= 0) ::close(to_worker_);
  if (from_worker_ >= 0) ::close(from_worker_);
  to_worker_ = from_worker_ = -1;
  pid_ = -1;
  pipe_.reset();
}

json ProcessWorker::ask(const json& request, double timeout_s) {
  if (pid_ < 0) start();
  if (paused_) {
    ::kill(pid_, SIGCONT);
    paused_ = false;
  }
  auto died = [&]() -> UnitLost {
    int status = 0;
    std::string how = "ended";
    if (::waitpid(pid_, &status, 0) == pid_) how = describe_exit(status);
    pid_ = -1;
    stop(true);
    return UnitLost{"its worker process " + how + " while running this case"};
  };
  if (!pipe_->write_line(request.dump(-1, ' ', false, json::error_handler_t::replace))) {
    throw died();
  }
  std::string line;
  switch (pipe_->read_line(line, timeout_s, stop_requested)) {
    case LinePipe::Read::line:
      break;
    case LinePipe::Read::closed:
      throw died();
    case LinePipe::Read::timeout:
      stop(true);
      throw UnitLost{"timed out after " + seconds_text(timeout_s) +
                     " s (--case-timeout); its worker process was killed"};
    case LinePipe::Read::interrupted:
      stop(true);
      throw UnitLost{"interrupted (" + interrupt_name() + ")", true};
  }
  json answer;
  try {
    answer = json::parse(line);
  } catch (const json::exception&) {
    stop(true);
    throw UnitLost{"its worker process answered something that is not JSON: '" +
                   line.substr(0, 80) + "'"};
  }
  if (!answer.is_object()) {
    stop(true);
    throw UnitLost{"its worker process answered something that is not a JSON object"};
  }
  // A worker whose backend was lost exits after this answer: the next unit starts a fresh one.
  if (answer.contains("lost") && answer.at("lost").is_string() &&
      !answer.at("lost").get<std::string>().empty()) {
    stop(false);
  } else if (pause_when_idle_ && pid_ > 0) {
    paused_ = ::kill(pid_, SIGSTOP) == 0;
  }
  return answer;
}

void ProcessWorker::start_now() {
  if (pid_ >= 0) return;
  try {
    start();
  } catch (const UnitLost& lost) {
    throw UsageError(command_.label + ": " + lost.reason);
  }
}

FirstUnit ProcessWorker::first(const CasePlan& c) {
  return first_named(record_of(c));
}

RoundUnit ProcessWorker::again(const CasePlan& c, int round, std::int64_t iterations) {
  return again_named(c.name, round, iterations);
}

FirstUnit ProcessWorker::first_named(const CaseRecord& before) {
  FirstUnit unit;
  unit.record = before;
  auto fail = [&](std::string error) {
    unit.record.error = std::move(error);
    unit.record.agreement.status = AgreementStatus::error;
  };
  try {
    const json a = ask(json{{"first", before.name}}, timeout_s_);
    if (a.contains("error")) {
      fail(command_.label + ": " + text_of(a.at("error")));
      return unit;
    }
    const json& f = a.at("first");
    unit.record = codec::case_from(f.at("record"));
    if (!f.at("dataset").is_null()) unit.dataset = codec::dataset_from(f.at("dataset"));
    unit.iterations = f.at("iterations").get<std::int64_t>();
  } catch (const UnitLost& lost) {
    unit.interrupted = lost.interrupted;
    fail(lost.reason);
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    fail(command_.label + ": a malformed answer: " + e.what());
  }
  return unit;
}

RoundUnit ProcessWorker::again_named(const std::string& name, int round, std::int64_t iterations) {
  RoundUnit unit;
  try {
    const json a =
        ask(json{{"again", name}, {"round", round}, {"iterations", iterations}}, timeout_s_);
    if (a.contains("error")) {
      unit.error = command_.label + ": " + text_of(a.at("error"));
      return unit;
    }
    const json& g = a.at("again");
    if (!g.at("repetition").is_null()) unit.repetition = codec::repetition_from(g.at("repetition"));
    unit.error = g.at("error").get<std::string>();
  } catch (const UnitLost& lost) {
    unit.interrupted = lost.interrupted;
    unit.error = lost.reason;
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    unit.error = command_.label + ": a malformed answer: " + e.what();
  }
  return unit;
}

}  // namespace opbench
