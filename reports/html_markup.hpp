#pragma once
// The building blocks of the HTML page: escaped text, table cells that sort by their value,
// sortable tables, count tiles. Every string from a report goes through esc() (html_escape).
#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "reports/report_model.hpp"

namespace opbench::reports::html {

std::string esc(const std::string& s);  // html_escape

// An integer count as digits ("?" when unknown; beyond 64 bits in exponent form).
std::string format_count(double v);

// The value of a data-v attribute: the number to 10 significant digits, "" when unknown (sorts
// last).
std::string sort_value(double v);

// A table cell: `html` is already escaped. Numeric cells carry their value in data-v so that the
// sort is numeric and unknown values sort last.
struct Cell {
  std::string html;
  std::string cls;
  bool numeric = false;
  double value = NAN;
  std::string title;  // escaped
};

Cell text_cell(const std::string& text, std::string cls = "");
Cell num_cell(const std::string& text, double value, std::string cls = "");

struct Column {
  const char* name;
  bool numeric;       // sorted by data-v, aligned right
  const char* title;  // the header's tooltip
  bool left = false;  // numeric sort, but aligned left (the agreement columns)
};

// Appends `more` to `columns`, one by one (GCC 12 warns falsely of an overflow on
// vector::insert of a braced list after a conditional push_back).
void add_columns(std::vector<Column>& columns, std::initializer_list<Column> more);

void open_table(std::string& out, const std::vector<Column>& columns, const char* cls = "");
void close_table(std::string& out);
// A row; `case_name` (when given) becomes its data-case attribute, so that a case's row can be
// found in the page.
void add_row(std::string& out, const std::vector<Cell>& cells, const std::string& cls = "",
             const std::string& case_name = "");

// A count with its label: <div class="tile CLS"><div class="n">N</div><div class="l">LABEL</div>.
void add_tile(std::string& out, int n, const std::string& label, const std::string& cls = "");

// An anchor id from arbitrary text: letters, digits and '-' only, made unique by `index`.
std::string anchor(const std::string& prefix, std::size_t index, const std::string& text);

// The class a tone of the shared model (agreement_tone) takes on the page: "good", "warn", "bad",
// or "skip" for plain.
const char* tone_class(Tone tone);

}  // namespace opbench::reports::html
