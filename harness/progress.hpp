#pragma once
// A one-line progress display on stderr ("[3/40] checking norm/layernorm/..."), erased when done.
#include <cstddef>
#include <iostream>
#include <string>

namespace opbench {

class Progress {
 public:
  Progress(bool on, std::size_t total) : on_(on), total_(total) {}
  void show(std::size_t i, const std::string& what, const std::string& name) {
    if (!on_) return;
    std::cerr << "\r\033[K[" << i + 1 << "/" << total_ << "] " << what << " " << name << std::flush;
  }
  ~Progress() {
    if (on_) std::cerr << "\r\033[K" << std::flush;
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

 private:
  bool on_;
  std::size_t total_;
};

}  // namespace opbench
