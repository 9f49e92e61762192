#pragma once
// A text table for the terminal and for markdown: columns padded to the widest cell, numbers
// right-aligned, colour codes added after padding so they never shift a column. Shared by the
// run summary and `opbench compare`.
#include <ostream>
#include <string>
#include <vector>

namespace opbench::reports {

struct Cell {
  std::string text;
  const char* color = nullptr;  // an ANSI colour code, or nullptr
};

inline constexpr const char* kRed = "\x1b[31m";
inline constexpr const char* kGreen = "\x1b[32m";
inline constexpr const char* kYellow = "\x1b[33m";
inline constexpr const char* kBoldYellow = "\x1b[1;33m";

class Table {
 public:
  Table(std::vector<std::string> header, std::vector<bool> right)
      : header_(std::move(header)), right_(std::move(right)) {}
  void add(std::vector<Cell> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // `markdown`: pipes and an alignment row; else columns two blanks apart under a rule.
  // `color`: the cells' colours (only for a terminal).
  void print(std::ostream& out, bool markdown, bool color, const std::string& indent = "") const;

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_;
  std::vector<std::vector<Cell>> rows_;
};

}  // namespace opbench::reports
