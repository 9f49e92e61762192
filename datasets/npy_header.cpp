#include "datasets/npy_header.hpp"

#include <cstring>
#include <limits>
#include <optional>

#include "harness/errors.hpp"

namespace opbench::datasets {

namespace {

constexpr char kMagic[] = "\x93NUMPY";  // 6 bytes
constexpr std::size_t kMagicLen = 6;
constexpr std::uint32_t kMaxHeaderLen = 1u << 20;

[[noreturn]] void fail_npy_header(const std::string& name, const std::string& problem) {
  throw UsageError("npy file '" + name + "': " + problem);
}

// Text taken from a file, safe to put in a one-line message: control and non-ASCII bytes as
// \xNN, at most 40 characters.
std::string printable(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < 40; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (s.size() > 40) out += "...";
  return out;
}

constexpr DType kNpyDtypes[] = {DType::f32, DType::f64, DType::f16, DType::i32, DType::i64};

std::string supported_descrs() {
  std::string s;
  for (DType t : kNpyDtypes) {
    if (!s.empty()) s += ", ";
    s += "'" + std::string(numpy_descr(t)) + "'";
  }
  return s;
}

// ---- the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } ----------

class HeaderParser {
 public:
  HeaderParser(const std::string& name, std::string_view text) : name_(name), s_(text) {}

  NpyHeader parse() {
    std::optional<std::string> descr;
    std::optional<bool> fortran;
    std::optional<Shape> shape;
    skip_ws();
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      const std::string key = string_literal();
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (descr) bad("key 'descr' appears twice");
        if (peek() == '[') bad("structured dtypes (a descr list) are not supported");
        descr = string_literal();
      } else if (key == "fortran_order") {
        if (fortran) bad("key 'fortran_order' appears twice");
        fortran = boolean();
      } else if (key == "shape") {
        if (shape) bad("key 'shape' appears twice");
        shape = tuple();
      } else {
        bad("unexpected key '" + printable(key) + "' in the header");
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        bad("expected ',' or '}' in the header at byte " + std::to_string(pos_));
      }
    }
    skip_ws();
    if (pos_ != s_.size()) bad("unexpected text after the header dict");
    if (!descr) bad("header lacks 'descr'");
    if (!fortran) bad("header lacks 'fortran_order'");
    if (!shape) bad("header lacks 'shape'");

    NpyHeader h;
    bool found = false;
    for (DType t : kNpyDtypes) {
      if (numpy_descr(t) == *descr) {
        h.dtype = t;
        found = true;
      }
    }
    if (!found) {
      std::string why = "unsupported dtype '" + printable(*descr) + "'";
      if (!descr->empty() && descr->front() == '>') why += " (big-endian)";
      fail_npy_header(name_, why + "; supported: " + supported_descrs());
    }
    if (*fortran) {
      int big_dims = 0;
      for (std::int64_t d : *shape) big_dims += d > 1;
      if (big_dims > 1) {
        fail_npy_header(name_,
                        "fortran_order is True; only C-order arrays are supported "
                        "(save np.ascontiguousarray(a))");
      }
    }
    std::int64_t n = 0;
    try {
      n = shape_numel(*shape);
    } catch (const UsageError& e) {
      fail_npy_header(name_, e.what());
    }
    if (n > std::numeric_limits<std::int64_t>::max() / 8) {
      fail_npy_header(name_, "shape " + shape_string(*shape) + " is too large");
    }
    h.shape = std::move(*shape);
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& why) {
    fail_npy_header(name_, "malformed header: " + why);
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  void expect(char c) {
    if (peek() != c) bad(std::string("expected '") + c + "' at byte " + std::to_string(pos_));
    ++pos_;
  }
  std::string string_literal() {
    const char q = peek();
    if (q != '\'' && q != '"') bad("expected a quoted string at byte " + std::to_string(pos_));
    const std::size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    bad("fortran_order must be True or False");
  }
  // A Python tuple of non-negative integers: (), (3,), (3, 4) or (3, 4,); (3) is not a tuple.
  Shape tuple() {
    Shape out;
    bool comma_after_last = false;
    expect('(');
    while (true) {
      skip_ws();
      if (peek() == ')') {
        ++pos_;
        break;
      }
      if (peek() < '0' || peek() > '9') bad("shape must be a tuple of non-negative integers");
      std::int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        const int digit = peek() - '0';
        if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
          bad("a shape dimension overflows 64 bits");
        }
        v = v * 10 + digit;
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 longs
      out.push_back(v);
      skip_ws();
      comma_after_last = peek() == ',';
      if (comma_after_last) {
        ++pos_;
      } else if (peek() != ')') {
        bad("expected ',' or ')' in the shape");
      }
    }
    if (out.size() == 1 && !comma_after_last) {
      bad("shape (" + std::to_string(out[0]) + ") is not a tuple; numpy writes (" +
          std::to_string(out[0]) + ",)");
    }
    return out;
  }

  const std::string& name_;
  std::string_view s_;
  std::size_t pos_ = 0;
};

std::uint32_t little_endian(std::string_view bytes) {
  std::uint32_t v = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) {
    v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return v;
}

// The length of the fixed part (10 for version 1.0, 12 for 2.0 and 3.0) and the header length.
struct Prefix {
  std::size_t fixed = 0;
  std::uint32_t header_len = 0;
};

Prefix read_prefix(std::string_view first, const std::string& name) {
  if (first.size() < kMagicLen || std::memcmp(first.data(), kMagic, kMagicLen) != 0) {
    fail_npy_header(name, "not an .npy file (bad magic; expected \\x93NUMPY)");
  }
  if (first.size() < 8) fail_npy_header(name, "truncated header (file ends inside the preamble)");
  const int major = static_cast<unsigned char>(first[6]);
  const int minor = static_cast<unsigned char>(first[7]);
  Prefix p;
  if ((major == 1 || major == 2 || major == 3) && minor == 0) {
    p.fixed = major == 1 ? 10 : 12;
  } else {
    fail_npy_header(name, "unsupported .npy format version " + std::to_string(major) + "." +
                              std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  if (first.size() < p.fixed)
    fail_npy_header(name, "truncated header (file ends inside the preamble)");
  p.header_len = little_endian(first.substr(8, p.fixed - 8));
  if (p.header_len > kMaxHeaderLen) {
    fail_npy_header(name,
                    "header length " + std::to_string(p.header_len) + " is implausibly large");
  }
  return p;
}

std::string shape_tuple(const Shape& s) {
  if (s.empty()) return "()";
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + (s.size() == 1 ? ",)" : ")");
}

}  // namespace

std::uint64_t npy_preamble_length(std::string_view first, const std::string& name) {
  const Prefix p = read_prefix(first.substr(0, kNpyFixedPrefix), name);
  return p.fixed + p.header_len;
}

NpyLayout parse_npy_preamble(std::string_view preamble, const std::string& name) {
  const Prefix p = read_prefix(preamble.substr(0, kNpyFixedPrefix), name);
  if (preamble.size() < p.fixed + p.header_len) {
    fail_npy_header(name, "truncated header (file ends before the " + std::to_string(p.header_len) +
                              "-byte header does)");
  }
  const std::string_view text = preamble.substr(p.fixed, p.header_len);
  // numpy ends the header with a newline; a length field one byte short (or long) would
  // otherwise shift the data silently.
  if (text.empty() || text.back() != '\n') {
    fail_npy_header(name, "malformed header: the " + std::to_string(p.header_len) +
                              "-byte header does not end with a newline (a wrong header length?)");
  }
  NpyLayout layout;
  layout.header = HeaderParser(name, text).parse();
  layout.data_offset = p.fixed + p.header_len;
  layout.data_bytes = static_cast<std::uint64_t>(shape_numel(layout.header.shape)) *
                      dtype_size(layout.header.dtype);
  return layout;
}

void check_npy_file_size(const NpyLayout& layout, std::uint64_t file_size,
                         const std::string& name) {
  const std::uint64_t need = layout.data_bytes;
  const std::uint64_t have = file_size > layout.data_offset ? file_size - layout.data_offset : 0;
  const std::string what = "shape " + shape_string(layout.header.shape) + " of " +
                           std::string(dtype_name(layout.header.dtype)) + " needs " +
                           std::to_string(need) + " bytes, the file holds " + std::to_string(have);
  if (have < need) fail_npy_header(name, "truncated data: " + what);
  if (have > need) {
    fail_npy_header(name, std::to_string(have - need) + " bytes after the data: " + what +
                              " (a header whose shape or length does not match the file?)");
  }
}

std::string npy_preamble(DType dtype, const Shape& shape) {
  const std::string_view descr = numpy_descr(dtype);
  if (descr.empty()) {
    throw UsageError(std::string(dtype_name(dtype)) +
                     " has no numpy dtype; convert the tensor to f32 before writing .npy");
  }
  std::string dict = "{'descr': '" + std::string(descr) +
                     "', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  std::size_t pre_len = 10;
  if (dict.size() + 1 + pre_len > 65535) pre_len = 12;
  std::size_t total = pre_len + dict.size() + 1;
  const std::size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict.push_back('\n');
  const std::size_t header_len = dict.size();

  std::string out(kMagic, kMagicLen);
  out.push_back(static_cast<char>(pre_len == 10 ? 1 : 2));
  out.push_back('\0');
  for (std::size_t i = 0; i < pre_len - 8; ++i) {
    out.push_back(static_cast<char>((header_len >> (8 * i)) & 0xFF));
  }
  return out + dict;
}

}  // namespace opbench::datasets
