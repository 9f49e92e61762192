#include "reports/text_table.hpp"

#include <algorithm>

namespace opbench::reports {

namespace {
// Display width of UTF-8 text: continuation bytes take no column ("µs").
std::size_t utf8_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}
}  // namespace

void Table::print(std::ostream& out, bool markdown, bool color, const std::string& indent) const {
  std::vector<std::size_t> width(header_.size());
  for (std::size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], utf8_width(row[c].text));
    }
  }
  auto line = [&](const std::vector<Cell>& cells) {
    out << indent << (markdown ? "|" : "");
    for (std::size_t c = 0; c < width.size(); ++c) {
      Cell cell = c < cells.size() ? cells[c] : Cell{};
      std::string pad(width[c] - std::min(width[c], utf8_width(cell.text)), ' ');
      std::string text =
          color && cell.color ? std::string(cell.color) + cell.text + "\x1b[0m" : cell.text;
      // The last column of the terminal table is not padded: no trailing blanks.
      std::string padded =
          right_[c] ? pad + text : (markdown || c + 1 < width.size() ? text + pad : text);
      if (markdown) {
        out << " " << padded << " |";
      } else {
        out << (c ? "  " : "") << padded;
      }
    }
    out << "\n";
  };
  std::vector<Cell> head;
  for (const auto& h : header_) head.push_back({h});
  line(head);
  out << indent;
  if (markdown) {
    out << "|";
    for (std::size_t c = 0; c < width.size(); ++c) {
      out << (right_[c] ? std::string(width[c] + 1, '-') + ":|"
                        : std::string(width[c] + 2, '-') + "|");
    }
  } else {
    std::size_t total = 0;
    for (std::size_t w : width) total += w;
    out << std::string(total + 2 * (width.size() - 1), '-');
  }
  out << "\n";
  for (const auto& row : rows_) line(row);
}

}  // namespace opbench::reports
