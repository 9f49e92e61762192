#include "tools/child_process.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>

#include "harness/errors.hpp"

namespace opbench::cli {

namespace {

std::vector<char*> argv_of(std::vector<std::string>& storage) {
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

// In the child, right after fork: dies with the parent; false when the parent is already gone.
bool tie_to_parent(pid_t parent) {
  // The parent may have died between fork and prctl: then it is no longer our parent.
  return ::prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && ::getppid() == parent;
}

int wait_status(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

}  // namespace

int run_self(const std::vector<std::string>& args, const std::string& stdout_to) {
  std::vector<std::string> storage = {"opbench"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv = argv_of(storage);
  std::cout << std::flush;
  std::cerr << std::flush;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw UsageError("nightly: cannot start opbench " + args.front() + ": " + std::strerror(errno));
  }
  if (pid == 0) {
    if (!tie_to_parent(parent)) ::_exit(127);
    if (!stdout_to.empty()) {
      const int fd = ::open(stdout_to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || ::dup2(fd, STDOUT_FILENO) < 0) ::_exit(127);
    }
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  return wait_status(pid);
}

int run_capture(const std::vector<std::string>& argv_in, std::string& out) {
  out.clear();
  std::vector<std::string> storage = argv_in;
  std::vector<char*> argv = argv_of(storage);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return 127;
  std::cout << std::flush;
  std::cerr << std::flush;
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return 127;
  }
  if (pid == 0) {
    if (!tie_to_parent(parent)) ::_exit(127);
    ::dup2(fds[1], STDOUT_FILENO);
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  return wait_status(pid);
}

std::string describe_status(int status) {
  if (status >= 0) return "exit " + std::to_string(status);
  const char* name = ::strsignal(-status);
  return "killed by signal " + std::to_string(-status) +
         (name ? std::string(" (") + name + ")" : "");
}

}  // namespace opbench::cli
