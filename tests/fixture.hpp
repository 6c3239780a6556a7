// Reader for the PyTorch reference fixtures written by data_scripts/make_reference.py (the source of
// truth; see its docstring for what each file holds), and the comparison the reference tests use.
//
// File format (little-endian):
//   8 bytes   magic "GCCFIX\0\0"
//   uint32    version (= 1)
//   uint32    number of tensors
//   per tensor: uint32 name length, name bytes (UTF-8), uint32 ndim (0..4), int64 dims[ndim],
//               float32 data[prod(dims)] row-major (ndim 0: one element)
// Integer data (class ids, neighbour indices, counts, masks) is stored as float32, exact below 2^24.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "gcc/core/error.hpp"
#include "gcc/core/tensor.hpp"

#ifndef GCC_FIXTURE_DIR
#error "GCC_FIXTURE_DIR must name the tests/fixtures directory (tests/CMakeLists.txt defines it)"
#endif

namespace gcc_test {

constexpr uint32_t kFixtureVersion = 1;

class Fixture {
 public:
  // Reads a fixture file; throws gcc::Error naming the file and what is wrong (missing, bad magic,
  // unsupported version, truncated, malformed entry, trailing bytes).
  static Fixture read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    GCC_CHECK(in.good(), "fixture ", path, ": cannot open the file (generate it with "
              "/usr/bin/python3 data_scripts/make_reference.py)");
    const std::vector<unsigned char> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Fixture f;
    f.path_ = path;
    Cursor c{buf, 0, path};
    const unsigned char* magic = c.take(8, "the magic bytes");
    GCC_CHECK(std::memcmp(magic, "GCCFIX\0\0", 8) == 0, "fixture ", path,
              ": bad magic bytes (expected \"GCCFIX\\0\\0\"); not a fixture written by make_reference.py");
    const uint32_t version = c.u32("the version");
    GCC_CHECK(version == kFixtureVersion, "fixture ", path, ": version ", version, " is not supported (this "
              "reader knows version ", kFixtureVersion, "); regenerate it with data_scripts/make_reference.py");
    const uint32_t count = c.u32("the tensor count");
    for (uint32_t t = 0; t < count; ++t) {
      const std::string what = "tensor " + std::to_string(t) + " of " + std::to_string(count);
      const uint32_t len = c.u32(what + " (name length)");
      GCC_CHECK(len > 0 && len <= 4096, "fixture ", path, ": ", what, " has a name length of ", len);
      const unsigned char* nb = c.take(len, what + " (name)");
      const std::string name(reinterpret_cast<const char*>(nb), len);
      const uint32_t ndim = c.u32(what + " '" + name + "' (ndim)");
      GCC_CHECK(ndim <= static_cast<uint32_t>(gcc::kMaxDims), "fixture ", path, ": tensor '", name, "' has ",
                ndim, " dimensions (at most ", gcc::kMaxDims, ")");
      std::vector<int64_t> dims(ndim);
      uint64_t numel = 1;
      for (uint32_t d = 0; d < ndim; ++d) {
        dims[d] = c.i64("tensor '" + name + "' (dims)");
        GCC_CHECK(dims[d] >= 0 && dims[d] < (int64_t(1) << 32), "fixture ", path, ": tensor '", name,
                  "' has dimension ", d, " of size ", dims[d]);
        numel *= static_cast<uint64_t>(dims[d]);
      }
      GCC_CHECK(numel <= (uint64_t(1) << 31), "fixture ", path, ": tensor '", name, "' claims ", numel, " elements");
      const unsigned char* data = c.take(static_cast<std::size_t>(numel) * 4, "tensor '" + name + "' (data)");
      gcc::Tensor tensor = gcc::Tensor::empty(gcc::Shape(dims));
      float* out = tensor.data();
      for (uint64_t i = 0; i < numel; ++i) {
        const uint32_t bits = static_cast<uint32_t>(data[4 * i]) | static_cast<uint32_t>(data[4 * i + 1]) << 8 |
                              static_cast<uint32_t>(data[4 * i + 2]) << 16 |
                              static_cast<uint32_t>(data[4 * i + 3]) << 24;
        std::memcpy(out + i, &bits, 4);
      }
      GCC_CHECK(f.tensors_.count(name) == 0, "fixture ", path, ": tensor '", name, "' appears twice");
      f.tensors_[name] = tensor;
      f.order_.push_back(name);
    }
    GCC_CHECK(c.pos == buf.size(), "fixture ", path, ": ", buf.size() - c.pos, " unexpected bytes after the last of ",
              count, " tensors");
    return f;
  }
  // A file in GCC_FIXTURE_DIR (tests/fixtures).
  static Fixture load(const std::string& file) { return read(std::string(GCC_FIXTURE_DIR) + "/" + file); }

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const gcc::Tensor& get(const std::string& name) const {
    auto it = tensors_.find(name);
    GCC_CHECK(it != tensors_.end(), "fixture ", path_, ": no tensor named '", name, "' (", tensors_.size(),
              " tensors; regenerate with data_scripts/make_reference.py?)");
    return it->second;
  }
  float scalar(const std::string& name) const {
    const gcc::Tensor& t = get(name);
    GCC_CHECK(t.numel() == 1, "fixture ", path_, ": tensor '", name, "' has shape ", t.shape().str(),
              ", expected one element");
    return t.data()[0];
  }
  // Integer data stored as float32 (exact below 2^24).
  std::vector<int64_t> ints(const std::string& name) const {
    const gcc::Tensor& t = get(name);
    std::vector<int64_t> v(static_cast<std::size_t>(t.numel()));
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float x = t.data()[i];
      GCC_CHECK(x == std::round(x) && std::fabs(x) < 16777216.f, "fixture ", path_, ": tensor '", name,
                "' element ", i, " = ", x, " is not an integer");
      v[static_cast<std::size_t>(i)] = static_cast<int64_t>(x);
    }
    return v;
  }
  // Names that start with `prefix`, in file order.
  std::vector<std::string> names(const std::string& prefix = "") const {
    std::vector<std::string> out;
    for (const std::string& n : order_)
      if (n.compare(0, prefix.size(), prefix) == 0) out.push_back(n);
    return out;
  }
  const std::string& path() const { return path_; }
  std::size_t size() const { return order_.size(); }

 private:
  struct Cursor {
    const std::vector<unsigned char>& buf;
    std::size_t pos;
    const std::string& path;
    const unsigned char* take(std::size_t n, const std::string& what) {
      GCC_CHECK(buf.size() - pos >= n, "fixture ", path, ": truncated: ", what, " needs ", n, " bytes at offset ",
                pos, " but the file has ", buf.size(), " bytes");
      const unsigned char* p = buf.data() + pos;
      pos += n;
      return p;
    }
    uint32_t u32(const std::string& what) {
      const unsigned char* p = take(4, what);
      return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
             static_cast<uint32_t>(p[3]) << 24;
    }
    int64_t i64(const std::string& what) {
      const unsigned char* p = take(8, what);
      uint64_t v = 0;
      for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
      return static_cast<int64_t>(v);
    }
  };
  std::string path_;
  std::map<std::string, gcc::Tensor> tensors_;
  std::vector<std::string> order_;
};

// The comparison of every reference test: element i passes when
//     |a_i - e_i| <= tol · max(|e_i|, floor · max_j |e_j|, abs_floor) + slack_i
// i.e. a relative error of at most tol, where elements smaller than `floor` times the tensor's
// largest magnitude are held to the absolute error tol · floor · max|e| instead (their relative error
// says nothing: float32 leaves them an absolute, not a relative, error). slack (optional, per element)
// is an extra absolute allowance for rounding that is not the code's (see the train-step test);
// abs_floor (default 0) is for tensors that are zero to float32 precision as a whole (see its users).
struct Closeness {
  double worst = 0;        // max_i (|a_i - e_i| - slack_i)+ / max(|e_i|, floor·max|e|)
  int64_t index = -1;      // where
  double got = 0, expect = 0;
  bool finite = true;      // false when the C++ result holds NaN or Inf
};

inline Closeness closeness(const gcc::Tensor& got, const gcc::Tensor& expect, double floor,
                           const std::vector<double>& slack = {}, double abs_floor = 0) {
  const std::vector<float> a = got.to_vector(), e = expect.to_vector();
  Closeness c;
  double emax = 0;
  for (float v : e) emax = std::max(emax, static_cast<double>(std::fabs(v)));
  const double fl = std::max(floor * emax, abs_floor);
  for (std::size_t i = 0; i < e.size() && i < a.size(); ++i) {
    if (!std::isfinite(a[i])) {
      c.finite = false;
      c.index = static_cast<int64_t>(i);
      c.got = a[i];
      c.expect = e[i];
      c.worst = INFINITY;
      return c;
    }
    double diff = std::fabs(static_cast<double>(a[i]) - e[i]);
    if (!slack.empty()) diff = std::max(0.0, diff - slack[i]);
    double denom = std::max(static_cast<double>(std::fabs(e[i])), fl);
    if (denom == 0) denom = 1;  // an all-zero expectation: absolute error
    const double r = diff / denom;
    if (r > c.worst || c.index < 0) {
      c.worst = r;
      c.index = static_cast<int64_t>(i);
      c.got = a[i];
      c.expect = e[i];
    }
  }
  return c;
}

// Checks `got` against `expect` (shapes must match) and returns the worst relative error; prints it
// as a doctest MESSAGE unless `quiet` (a Worst tracker then prints one line for a group of tensors).
inline double check_close(const std::string& what, const gcc::Tensor& got, const gcc::Tensor& expect,
                          double tol = 1e-4, double floor = 1e-3, const std::vector<double>& slack = {},
                          bool quiet = false, double abs_floor = 0) {
  REQUIRE_MESSAGE(got.defined(), what << ": the C++ result is undefined");
  REQUIRE_MESSAGE(got.shape() == expect.shape(), what << ": shape " << got.shape().str() << ", expected "
                                                      << expect.shape().str());
  const Closeness c = closeness(got, expect, floor, slack, abs_floor);
  if (!quiet) {
    std::ostringstream os;
    os << what << ": worst rel err " << c.worst << " (floor " << floor << "*max|e|";
    if (abs_floor > 0) os << ", absolute floor " << abs_floor;
    os << ", tol " << tol << ")";
    MESSAGE(os.str());
  }
  CHECK_MESSAGE(c.finite, what << ": element " << c.index << " is " << c.got << " (expected " << c.expect << ")");
  CHECK_MESSAGE(c.worst <= tol, what << ": element " << c.index << ": got " << c.got << ", expected " << c.expect
                                     << ", rel err " << c.worst << " > " << tol);
  return c.worst;
}

// The worst of many check_close results (e.g. every parameter gradient), printed as one MESSAGE by
// report(). Every tensor is still checked on its own.
class Worst {
 public:
  Worst(std::string group, double tol, double floor) : group_(std::move(group)), tol_(tol), floor_(floor) {}
  void check(const std::string& what, const gcc::Tensor& got, const gcc::Tensor& expect,
             const std::vector<double>& slack = {}) {
    const double r = check_close(what, got, expect, tol_, floor_, slack, /*quiet=*/true);
    ++count_;
    if (r >= worst_) {
      worst_ = r;
      where_ = what;
    }
  }
  void report() const {
    MESSAGE(group_ << " (" << count_ << " tensors): worst rel err " << worst_ << " in " << where_ << " (floor "
                   << floor_ << "*max|e|, tol " << tol_ << ")");
  }
  double tol() const { return tol_; }
  double floor() const { return floor_; }

 private:
  std::string group_;
  double tol_, floor_;
  double worst_ = 0;
  std::string where_ = "-";
  int count_ = 0;
};

}  // namespace gcc_test
