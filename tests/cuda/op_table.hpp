// The CUDA-vs-CPU op table harness (ggml's test-backend-ops): rows of op cases, grouped in families
// that register themselves (tests/cuda/op_rows_<family>.cu); test_op_table.cu runs them all.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "gcc/cuda.cuh"
#include "gradcheck.hpp"

namespace gcc_op_table {

using gcc::Device;
using gcc::Shape;
using gcc::Tensor;
using Inputs = std::vector<Tensor>;
using Params = std::vector<float>;
using BuildFn = std::function<Tensor(const Inputs&, const Params&)>;

struct Range {
  float lo, hi;
};

struct OpRow {
  std::string name;
  std::vector<Shape> shapes;  // one per input
  Params params;              // scalars the op takes, passed to build as p
  double atol, rtol;
  BuildFn build;
  std::vector<Range> ranges = {};  // value range per input (missing: [-1, 1)); integers: inclusive
  bool integers = false;           // small-integer inputs and weights R: results must match bit for bit
};

// OP(expression in x, the inputs, and p, the params): the op under test as a BuildFn.
#define OP(...) [](const Inputs& x, const Params& p) -> Tensor { (void)x; (void)p; return __VA_ARGS__; }

// Seeded inputs: uniform in [lo, hi), or integers in [lo, hi] for the bit-exact rows.
inline Tensor make_input(const Shape& s, Range r, bool integers, uint64_t seed) {
  gcc::Rng rng(seed);
  Tensor t = Tensor::empty(s);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (integers) {
      const double v = std::floor(rng.uniform(r.lo, r.hi + 1.0));
      p[i] = static_cast<float>(v > r.hi ? r.hi : v);
    } else {
      p[i] = static_cast<float>(rng.uniform(r.lo, r.hi));
    }
  }
  return t;
}

// Compares a GPU result with the CPU reference, reporting the count and the worst element.
inline void expect_close(const std::string& what, const Tensor& ref, const Tensor& got, double atol, double rtol,
                  bool bitwise) {
  REQUIRE_MESSAGE(ref.defined(), what << ": the CPU reference produced nothing");
  REQUIRE_MESSAGE(got.defined(), what << ": the GPU produced nothing");
  CHECK_MESSAGE(got.device().is_cuda(), what << ": the result is on " << got.device().str());
  REQUIRE_MESSAGE(ref.shape() == got.shape(), what << ": shape " << got.shape().str() << ", CPU has "
                                                   << ref.shape().str());
  const std::vector<float> r = ref.to_vector(), g = got.to_vector();
  int64_t bad = 0, nonfinite = 0, worst = -1;
  double worst_excess = -1;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (!std::isfinite(r[i])) {
      ++nonfinite;
      continue;
    }
    const double diff = std::fabs(static_cast<double>(r[i]) - g[i]);
    const double tol = atol + rtol * std::fabs(static_cast<double>(r[i]));
    const bool ok = bitwise ? std::memcmp(&r[i], &g[i], sizeof(float)) == 0 : diff <= tol;  // NaN fails
    if (!ok) {
      ++bad;
      const double excess = std::isnan(g[i]) ? HUGE_VAL : diff - tol;
      if (excess > worst_excess) worst_excess = excess, worst = static_cast<int64_t>(i);
    }
  }
  CHECK_MESSAGE(nonfinite == 0, what << ": the CPU reference has " << nonfinite
                                     << " non-finite values; choose inputs inside the op's domain");
  if (bad > 0) {
    const std::size_t w = static_cast<std::size_t>(worst);
    FAIL_CHECK(what << ": " << bad << " of " << r.size() << " elements differ (atol " << atol << ", rtol "
                    << rtol << (bitwise ? ", bit-exact" : "") << "); worst at " << worst << ": CPU "
                    << r[w] << ", GPU " << g[w]
                    << (std::isnan(g[w]) ? " (NaN: the kernel did not write this element?)" : ""));
  }
}

// Forward and backward of one row on the CPU and on the GPU, from the same inputs.
inline void run_row(const OpRow& row, uint64_t seed) {
  INFO("op table row: ", row.name);
  const Range dflt{-1.f, 1.f};
  Inputs host;
  for (std::size_t k = 0; k < row.shapes.size(); ++k)
    host.push_back(make_input(row.shapes[k], k < row.ranges.size() ? row.ranges[k] : dflt, row.integers,
                              seed * 101 + k));

  Inputs cpu_in, gpu_in;
  for (const Tensor& h : host) {
    cpu_in.push_back(h.clone().set_requires_grad(true));
    gpu_in.push_back(h.to(Device::cuda()).set_requires_grad(true));
  }
  Tensor y_cpu = row.build(cpu_in, row.params);
  const Tensor r = make_input(y_cpu.shape(), row.integers ? Range{-3, 3} : dflt, row.integers, seed * 7 + 1);
  y_cpu.backward(r);

  Tensor y_gpu = row.build(gpu_in, row.params);
  y_gpu.backward(r.to(Device::cuda()));

  const bool exact = row.integers;
  expect_close(row.name + ": output", y_cpu, y_gpu, row.atol, row.rtol, exact);
  for (std::size_t k = 0; k < host.size(); ++k)
    expect_close(row.name + ": gradient of input " + std::to_string(k), cpu_in[k].grad(), gpu_in[k].grad(),
                 row.atol, row.rtol, exact);
}

// Hands out NaN-filled device memory while alive.
struct DebugFillGuard {
  bool before = gcc::cuda::caching_allocator().debug_fill();
  DebugFillGuard() { gcc::cuda::caching_allocator().set_debug_fill(true); }
  ~DebugFillGuard() { gcc::cuda::caching_allocator().set_debug_fill(before); }
};

// Families of rows, registered at static-initialisation time by OpFamily objects.
using FamilyFn = std::vector<OpRow> (*)();
inline std::vector<std::pair<std::string, FamilyFn>>& op_families() {
  static std::vector<std::pair<std::string, FamilyFn>> f;
  return f;
}
struct OpFamily {
  OpFamily(const char* name, FamilyFn rows) { op_families().emplace_back(name, rows); }
};

}  // namespace gcc_op_table
