// NumPy .npy files (format version 1.0, C order, little-endian '<f4' / '<i8' / '<i4') for features,
// predictions, targets and neighbour lists, byte-identical to numpy.save; and a reader (for tests/tools).
#pragma once
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "../core/tensor.hpp"
#include "atomic_file.hpp"

namespace gcc {
namespace io {

namespace io_detail {
// The 10-byte preamble plus the header dict exactly as numpy (>= 1.22) writes it: the dict, room for the
// first axis to grow to 21 digits, spaces up to a multiple of 64 bytes in all, and '\n'.
inline std::string npy_header(const char* descr, const std::vector<int64_t>& shape) {
  std::string dims = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) dims += ",";
  dims += ")";
  std::string h = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + dims + ", }";
  if (!shape.empty()) h.append(21 - std::to_string(shape[0]).size(), ' ');
  const std::size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h += '\n';
  GCC_CHECK(h.size() <= 65535, "write_npy: header of ", h.size(), " bytes does not fit format version 1.0");
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(h.size() & 0xFF);
  out += static_cast<char>(h.size() >> 8);
  return out + h;
}
inline void write_npy_bytes(const std::string& path, const char* descr, const std::vector<int64_t>& shape,
                            const void* data, std::size_t elem, const char* op) {
  int64_t n = 1;
  for (int64_t d : shape) {
    GCC_CHECK(d >= 0, op, ": negative dimension in the shape of '", path, "'");
    n *= d;
  }
  AtomicFile f(path, op);
  f.write(npy_header(descr, shape));
  if (n > 0) f.write(data, static_cast<std::size_t>(n) * elem);
  f.commit();
}
inline void check_count(const char* op, const std::string& path, std::size_t have, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (static_cast<int64_t>(have) == n) return;
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  GCC_FAIL(op, ": '", path, "': ", have, " values do not fill shape ", s, "] (", n, " elements)");
}
}  // namespace io_detail

// Writes atomically (temporary file + rename). Shapes of any rank; `shape` {} is a 0-d array.
inline void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  io_detail::write_npy_bytes(path, "<f4", shape, data, 4, "write_npy");
}
inline void write_npy_i64(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape) {
  io_detail::write_npy_bytes(path, "<i8", shape, data, 8, "write_npy");
}
inline void write_npy_i32(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape) {
  io_detail::write_npy_bytes(path, "<i4", shape, data, 4, "write_npy");
}
// uint8 ('|u1'), e.g. images [N, H, W, C] for the .npy image source (data/user_images.hpp).
inline void write_npy_u8(const std::string& path, const uint8_t* data, const std::vector<int64_t>& shape) {
  io_detail::write_npy_bytes(path, "|u1", shape, data, 1, "write_npy");
}
inline void write_npy(const std::string& path, const std::vector<float>& v, const std::vector<int64_t>& shape) {
  io_detail::check_count("write_npy", path, v.size(), shape);
  write_npy_f32(path, v.data(), shape);
}
inline void write_npy(const std::string& path, const std::vector<int64_t>& v, const std::vector<int64_t>& shape) {
  io_detail::check_count("write_npy", path, v.size(), shape);
  write_npy_i64(path, v.data(), shape);
}
inline void write_npy(const std::string& path, const std::vector<int32_t>& v, const std::vector<int64_t>& shape) {
  io_detail::check_count("write_npy", path, v.size(), shape);
  write_npy_i32(path, v.data(), shape);
}
// 1-D arrays (predictions, targets).
inline void write_npy(const std::string& path, const std::vector<float>& v) {
  write_npy(path, v, {static_cast<int64_t>(v.size())});
}
inline void write_npy(const std::string& path, const std::vector<int64_t>& v) {
  write_npy(path, v, {static_cast<int64_t>(v.size())});
}
inline void write_npy(const std::string& path, const std::vector<int32_t>& v) {
  write_npy(path, v, {static_cast<int64_t>(v.size())});
}
// A tensor from any device as '<f4' with its shape (e.g. features [N, D]).
inline void write_npy(const std::string& path, const Tensor& t) {
  GCC_CHECK(t.defined(), "write_npy: '", path, "': the tensor is undefined");
  const Tensor c = t.detach().to(Device::cpu()).contiguous();
  write_npy_f32(path, c.numel() ? c.data() : nullptr, c.shape().vec());
}

// A .npy file read back: dtype string as in the header ("<f4", "<i8", ...), shape and raw data bytes.
struct NpyArray {
  std::string descr;
  std::vector<int64_t> shape;
  std::string data;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  // Values as float / int64 ('<f4', '<f8', '<i4', '<i8', '|u1', '|b1' accepted; others throw).
  std::vector<float> f32() const {
    std::vector<float> out(static_cast<std::size_t>(numel()));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(value(i));
    return out;
  }
  std::vector<int64_t> i64() const {
    GCC_CHECK(descr == "<i8" || descr == "<i4" || descr == "|u1" || descr == "|b1", "NpyArray::i64: dtype '", descr,
              "' is not an integer type");
    std::vector<int64_t> out(static_cast<std::size_t>(numel()));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(ivalue(i));
    return out;
  }
  static std::size_t itemsize(const std::string& d) {
    if (d == "<f4" || d == "<i4") return 4;
    if (d == "<f8" || d == "<i8") return 8;
    if (d == "|u1" || d == "|b1") return 1;
    return 0;
  }

 private:
  double value(std::size_t i) const {
    if (descr == "<f4") {
      float v;
      std::memcpy(&v, data.data() + 4 * i, 4);
      return v;
    }
    if (descr == "<f8") {
      double v;
      std::memcpy(&v, data.data() + 8 * i, 8);
      return v;
    }
    return static_cast<double>(ivalue(i));
  }
  int64_t ivalue(std::size_t i) const {
    if (descr == "<i8") {
      int64_t v;
      std::memcpy(&v, data.data() + 8 * i, 8);
      return v;
    }
    if (descr == "<i4") {
      int32_t v;
      std::memcpy(&v, data.data() + 4 * i, 4);
      return v;
    }
    return static_cast<unsigned char>(data[i]);
  }
};

// Reads format versions 1.0-3.0, C order, the dtypes NpyArray knows. Errors name the file.
inline NpyArray read_npy(const std::string& path) {
  const std::string b = read_file(path, "read_npy");
  const std::string w = "read_npy: '" + path + "'";
  GCC_CHECK(b.size() >= 10 && b.compare(0, 6, "\x93NUMPY") == 0, w, ": not a .npy file (no \\x93NUMPY magic)");
  const int major = static_cast<unsigned char>(b[6]);
  GCC_CHECK(major >= 1 && major <= 3, w, ": unsupported format version ", major);
  std::size_t hl = 0, pre = 0;
  if (major == 1) {
    hl = static_cast<unsigned char>(b[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(b[9])) << 8);
    pre = 10;
  } else {
    GCC_CHECK(b.size() >= 12, w, ": truncated header");
    for (std::size_t i = 0; i < 4; ++i) hl |= static_cast<std::size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
    pre = 12;
  }
  GCC_CHECK(pre + hl <= b.size(), w, ": truncated header (", hl, " bytes announced)");
  const std::string h = b.substr(pre, hl);
  auto field = [&](const char* key) {
    const std::string k = std::string("'") + key + "':";
    const std::size_t p = h.find(k);
    GCC_CHECK(p != std::string::npos, w, ": header has no '", key, "' entry: ", h);
    std::size_t q = p + k.size();
    while (q < h.size() && h[q] == ' ') ++q;
    return q;
  };
  NpyArray a;
  std::size_t q = field("descr");
  GCC_CHECK(q < h.size() && h[q] == '\'', w, ": malformed descr in header: ", h);
  const std::size_t qe = h.find('\'', q + 1);
  GCC_CHECK(qe != std::string::npos, w, ": malformed descr in header: ", h);
  a.descr = h.substr(q + 1, qe - q - 1);
  GCC_CHECK(NpyArray::itemsize(a.descr) != 0, w, ": unsupported dtype '", a.descr,
            "' (supported: <f4, <f8, <i4, <i8, |u1, |b1)");
  q = field("fortran_order");
  GCC_CHECK(h.compare(q, 5, "False") == 0, w, ": Fortran-order arrays are not supported");
  q = field("shape");
  GCC_CHECK(q < h.size() && h[q] == '(', w, ": malformed shape in header: ", h);
  const std::size_t se = h.find(')', q);
  GCC_CHECK(se != std::string::npos, w, ": malformed shape in header: ", h);
  std::string dims = h.substr(q + 1, se - q - 1);
  std::size_t i = 0;
  while (i < dims.size()) {
    while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
    if (i >= dims.size()) break;
    std::size_t j = i;
    while (j < dims.size() && dims[j] >= '0' && dims[j] <= '9') ++j;
    GCC_CHECK(j > i, w, ": malformed shape '(", dims, ")'");
    int64_t d = 0;
    const auto r = std::from_chars(dims.data() + i, dims.data() + j, d);
    GCC_CHECK(r.ec == std::errc(), w, ": shape dimension ", dims.substr(i, j - i), " is too large");
    a.shape.push_back(d);
    i = j;
  }
  // The element count and byte size checked for overflow before they are compared with the file's size.
  uint64_t need = NpyArray::itemsize(a.descr);
  for (int64_t d : a.shape)
    GCC_CHECK(!__builtin_mul_overflow(need, static_cast<uint64_t>(d), &need), w, ": shape (", dims,
              ") is too large for any file");
  GCC_CHECK(b.size() - pre - hl == need, w, ": data is ", b.size() - pre - hl, " bytes, shape ",
            "and dtype ", a.descr, " need ", need, " (truncated or corrupt)");
  a.data = b.substr(pre + hl);
  return a;
}

}  // namespace io
}  // namespace gcc
