#include "datasets/npy.hpp"

#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string_view>

#include "harness/errors.hpp"

namespace opbench::datasets {

static_assert(std::endian::native == std::endian::little,
              ".npy reading and writing assume a little-endian host");

namespace {

constexpr char kMagic[] = "\x93NUMPY";  // 6 bytes
constexpr std::size_t kMagicLen = 6;
constexpr std::uint32_t kMaxHeaderLen = 1u << 20;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw UsageError("npy file '" + path + "': " + problem);
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

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_for_reading(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) fail(path, "no such file");
  if (std::filesystem::is_directory(status)) fail(path, "is a directory, not a file");
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) fail(path, std::string("cannot open: ") + std::strerror(errno));
  return f;
}

// ---- the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } ----------

class HeaderParser {
 public:
  HeaderParser(const std::string& path, std::string_view text) : path_(path), s_(text) {}

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
        if (peek() == '[') bad("structured dtypes (a descr list) are not supported");
        descr = string_literal();
      } else if (key == "fortran_order") {
        fortran = boolean();
      } else if (key == "shape") {
        shape = tuple();
      } else {
        bad("unexpected key '" + key + "' in the header");
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
      std::string why = "unsupported dtype '" + *descr + "'";
      if (!descr->empty() && descr->front() == '>') why += " (big-endian)";
      fail(path_, why + "; supported: " + supported_descrs());
    }
    if (*fortran) {
      int big_dims = 0;
      for (std::int64_t d : *shape) big_dims += d > 1;
      if (big_dims > 1) {
        fail(path_,
             "fortran_order is True; only C-order arrays are supported "
             "(save np.ascontiguousarray(a))");
      }
    }
    std::int64_t n = 0;
    try {
      n = shape_numel(*shape);
    } catch (const UsageError& e) {
      fail(path_, e.what());
    }
    if (n > std::numeric_limits<std::int64_t>::max() / 8) {
      fail(path_, "shape " + shape_string(*shape) + " is too large");
    }
    h.shape = std::move(*shape);
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& why) { fail(path_, "malformed header: " + why); }
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
  Shape tuple() {
    Shape out;
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
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        bad("expected ',' or ')' in the shape");
      }
    }
    return out;
  }

  const std::string& path_;
  std::string_view s_;
  std::size_t pos_ = 0;
};

struct Parsed {
  NpyHeader header;
  std::uint64_t data_offset = 0;
};

Parsed read_header(const std::string& path, std::FILE* f) {
  unsigned char pre[12];
  const std::size_t got = std::fread(pre, 1, 8, f);
  if (got < kMagicLen || std::memcmp(pre, kMagic, kMagicLen) != 0) {
    fail(path, "not an .npy file (bad magic; expected \\x93NUMPY)");
  }
  if (got < 8) fail(path, "truncated header (file ends inside the preamble)");
  const int major = pre[6], minor = pre[7];
  std::uint32_t header_len = 0;
  std::size_t pre_len = 0;
  if (major == 1) {
    if (std::fread(pre + 8, 1, 2, f) != 2)
      fail(path, "truncated header (file ends inside the preamble)");
    header_len = pre[8] | (static_cast<std::uint32_t>(pre[9]) << 8);
    pre_len = 10;
  } else if (major == 2 || major == 3) {
    if (std::fread(pre + 8, 1, 4, f) != 4)
      fail(path, "truncated header (file ends inside the preamble)");
    header_len = pre[8] | (static_cast<std::uint32_t>(pre[9]) << 8) |
                 (static_cast<std::uint32_t>(pre[10]) << 16) |
                 (static_cast<std::uint32_t>(pre[11]) << 24);
    pre_len = 12;
  } else {
    fail(path, "unsupported .npy format version " + std::to_string(major) + "." +
                   std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  if (header_len > kMaxHeaderLen) {
    fail(path, "header length " + std::to_string(header_len) + " is implausibly large");
  }
  std::string text(header_len, '\0');
  if (std::fread(text.data(), 1, header_len, f) != header_len) {
    fail(path, "truncated header (file ends before the " + std::to_string(header_len) +
                   "-byte header does)");
  }
  Parsed p;
  p.header = HeaderParser(path, text).parse();
  p.data_offset = pre_len + header_len;
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

std::atomic<unsigned> g_temp_counter{0};

}  // namespace

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

NpyHeader read_npy_header(const std::string& path) {
  File f = open_for_reading(path);
  return read_header(path, f.get()).header;
}

Tensor read_npy(const std::string& path) {
  File f = open_for_reading(path);
  const Parsed p = read_header(path, f.get());
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot determine the file size: " + ec.message());
  const std::int64_t numel = shape_numel(p.header.shape);
  const std::uint64_t need = static_cast<std::uint64_t>(numel) * dtype_size(p.header.dtype);
  const std::uint64_t have = size > p.data_offset ? size - p.data_offset : 0;
  if (have < need) {
    fail(path, "truncated data: shape " + shape_string(p.header.shape) + " of " +
                   std::string(dtype_name(p.header.dtype)) + " needs " + std::to_string(need) +
                   " bytes, the file holds " + std::to_string(have));
  }
  Tensor t(p.header.dtype, p.header.shape);
  if (need > 0 && std::fread(t.raw(), 1, need, f.get()) != need) {
    fail(path, std::string("read error: ") + std::strerror(errno));
  }
  return t;
}

void write_npy(const Tensor& t, const std::string& path) {
  const std::string preamble = npy_preamble(t.dtype(), t.shape());
  const std::filesystem::path target(path);
  if (target.filename().empty()) fail(path, "cannot write: the path names no file");
  std::filesystem::path temp = target;
  temp.replace_filename("." + target.filename().string() + ".tmp." + std::to_string(::getpid()) +
                        "." + std::to_string(g_temp_counter++));

  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) fail(path, std::string("cannot write: ") + std::strerror(errno));
  bool ok = std::fwrite(preamble.data(), 1, preamble.size(), f) == preamble.size();
  const std::size_t n = t.bytes();
  if (ok && n > 0) ok = std::fwrite(t.raw(), 1, n, f) == n;
  int err = ok ? 0 : errno;
  if (ok && std::fflush(f) != 0) ok = false, err = errno;
  if (ok && ::fsync(::fileno(f)) != 0) ok = false, err = errno;
  if (std::fclose(f) != 0 && ok) ok = false, err = errno;
  if (!ok) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    fail(path, std::string("cannot write: ") + std::strerror(err));
  }
  std::error_code ec;
  std::filesystem::rename(temp, target, ec);
  if (ec) {
    const std::string why = ec.message();
    std::filesystem::remove(temp, ec);
    fail(path, "cannot write: " + why);
  }
}

}  // namespace opbench::datasets
