// The HTML page's building blocks (html_markup.hpp) and html_escape (html_report.hpp).
#include "reports/html_markup.hpp"

#include <cctype>

#include "reports/html_report.hpp"
#include "reports/report_view.hpp"

namespace opbench::reports {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  const std::string replacement = "\xEF\xBF\xBD";  // U+FFFD
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    unsigned char ch = s[i];
    if (ch < 0x80) {
      switch (ch) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        case '\t':
        case '\n':
          out += static_cast<char>(ch);
          break;
        default:
          if (ch < 0x20 || ch == 0x7f) {
            out += replacement;
          } else {
            out += static_cast<char>(ch);
          }
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: copied when well formed (no overlongs, no surrogates, <= U+10FFFF).
    std::size_t len = ch >= 0xC2 && ch <= 0xDF   ? 2
                      : ch >= 0xE0 && ch <= 0xEF ? 3
                      : ch >= 0xF0 && ch <= 0xF4 ? 4
                                                 : 0;
    bool ok = len > 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) ok = (s[i + k] & 0xC0) == 0x80;
    if (ok && len == 3) {
      ok = !(ch == 0xE0 && s[i + 1] < 0xA0) && !(ch == 0xED && s[i + 1] >= 0xA0);
    }
    if (ok && len == 4) {
      ok = !(ch == 0xF0 && s[i + 1] < 0x90) && !(ch == 0xF4 && s[i + 1] >= 0x90);
    }
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += replacement;
      ++i;
    }
  }
  return out;
}

namespace html {

using view::printf_string;

std::string esc(const std::string& s) {
  return html_escape(s);
}

std::string format_count(double v) {
  if (!std::isfinite(v)) return "?";
  if (std::abs(v) >= 9e18) return printf_string("%.3g", v);
  return std::to_string(static_cast<long long>(v));
}

std::string sort_value(double v) {
  return std::isfinite(v) ? printf_string("%.10g", v) : "";
}

Cell text_cell(const std::string& text, std::string cls) {
  return {esc(text), std::move(cls), false, NAN, ""};
}

Cell num_cell(const std::string& text, double value, std::string cls) {
  return {esc(text), cls.empty() ? "num" : "num " + cls, true, value, ""};
}

void add_columns(std::vector<Column>& columns, std::initializer_list<Column> more) {
  for (const Column& c : more) columns.push_back(c);
}

void open_table(std::string& out, const std::vector<Column>& columns, const char* cls) {
  out += "<table class=\"sortable";
  if (*cls) out += std::string(" ") + cls;
  out += "\">\n<thead><tr>";
  for (const Column& c : columns) {
    out += "<th";
    if (c.numeric) out += c.left ? " data-type=\"num\"" : " class=\"num\" data-type=\"num\"";
    if (c.title && *c.title) out += std::string(" title=\"") + esc(c.title) + "\"";
    out += ">" + esc(c.name) + "</th>";
  }
  out += "</tr></thead>\n<tbody>\n";
}

void close_table(std::string& out) {
  out += "</tbody>\n</table>\n";
}

void add_row(std::string& out, const std::vector<Cell>& cells, const std::string& cls,
             const std::string& case_name) {
  out += "<tr";
  if (!cls.empty()) out += " class=\"" + cls + "\"";
  if (!case_name.empty()) out += " data-case=\"" + esc(case_name) + "\"";
  out += ">";
  for (const Cell& c : cells) {
    out += "<td";
    if (!c.cls.empty()) out += " class=\"" + c.cls + "\"";
    if (c.numeric) out += " data-v=\"" + sort_value(c.value) + "\"";
    if (!c.title.empty()) out += " title=\"" + c.title + "\"";
    out += ">" + c.html + "</td>";
  }
  out += "</tr>\n";
}

void add_tile(std::string& out, int n, const std::string& label, const std::string& cls) {
  out += "<div class=\"tile" + (cls.empty() ? std::string() : " " + cls) + "\"><div class=\"n\">" +
         std::to_string(n) + "</div><div class=\"l\">" + esc(label) + "</div></div>";
}

std::string anchor(const std::string& prefix, std::size_t index, const std::string& text) {
  std::string id = prefix + "-" + std::to_string(index) + "-";
  for (unsigned char ch : text) id += std::isalnum(ch) ? static_cast<char>(ch) : '-';
  return id;
}

const char* tone_class(Tone tone) {
  switch (tone) {
    case Tone::good:
      return "good";
    case Tone::warn:
      return "warn";
    case Tone::bad:
      return "bad";
    case Tone::plain:
      break;
  }
  return "skip";
}

}  // namespace html
}  // namespace opbench::reports
