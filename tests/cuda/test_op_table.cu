// One table of op cases checks every CUDA op against the CPU reference (ggml's test-backend-ops):
// the same seeded inputs go through forward and backward (gradient of sum(y * R)) on both devices,
// and the output and every input gradient must agree within |ref - gpu| <= atol + rtol * |ref|.
// Device memory is handed out NaN-filled, so an element a kernel forgets to write fails.
// Adding an op: one row below (name, input shapes, parameters, tolerances, the call).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "gcc/cuda.cuh"
#include "gradcheck.hpp"

namespace {

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

std::vector<OpRow> op_table() {
  std::vector<OpRow> rows;

  // ---- elementwise: binary ops over every broadcast pattern, in floats and in small integers ----
  struct Pattern {
    const char* name;
    std::vector<Shape> shapes;
    bool integer_variant;
  };
  const std::vector<Pattern> patterns = {
      {"same shape", {{37, 53}, {37, 53}}, true},
      {"row vector", {{37, 53}, {53}}, true},
      {"column vector", {{37, 53}, {37, 1}}, true},
      {"scalar", {{37, 53}, {}}, true},
      {"scalar first", {{}, {37, 53}}, false},
      {"channel [1,C,1,1]", {{2, 3, 5, 7}, {1, 3, 1, 1}}, true},
      {"both broadcast", {{2, 1, 5, 1}, {1, 3, 1, 7}}, true},
      {"many outputs, many terms", {{40, 9000}, {9000}}, false},
      {"few outputs, many terms", {{300, 40}, {40}}, false},
      {"1M elements (grid-stride)", {{1024, 1100}, {1024, 1100}}, false},
  };
  const std::vector<std::pair<const char*, BuildFn>> binary = {
      {"add", OP(gcc::add(x[0], x[1]))},
      {"sub", OP(gcc::sub(x[0], x[1]))},
      {"mul", OP(gcc::mul(x[0], x[1]))},
      {"div", OP(gcc::div(x[0], x[1]))},
  };
  for (const auto& op : binary) {
    const bool is_div = std::string(op.first) == "div";
    const std::vector<Range> ranges = is_div ? std::vector<Range>{{-1, 1}, {0.5f, 2}} : std::vector<Range>{};
    for (const Pattern& pat : patterns) {
      rows.push_back({std::string(op.first) + " " + pat.name, pat.shapes, {}, 1e-4, 1e-5, op.second, ranges});
      if (pat.integer_variant && (!is_div || std::string(pat.name) == "same shape")) {
        const std::vector<Range> ints = is_div ? std::vector<Range>{{-9, 9}, {1, 5}} : std::vector<Range>{{-9, 9}, {-9, 9}};
        rows.push_back({std::string(op.first) + " " + pat.name + " (integers)", pat.shapes, {}, 0, 0,
                        op.second, ints, true});
      }
    }
  }

  // ---- elementwise: unary ops --------------------------------------------------------------------
  rows.push_back({"exp", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::exp(x[0])), {{-3, 3}}});
  rows.push_back({"exp 1M elements", {{1000, 1001}}, {}, 1e-6, 1e-5, OP(gcc::exp(x[0])), {{-3, 3}}});
  rows.push_back({"log", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::log(x[0])), {{0.05f, 4}}});
  rows.push_back({"add_scalar", {{37, 53}}, {2.5f}, 0, 0, OP(gcc::add_scalar(x[0], p[0]))});
  rows.push_back({"mul_scalar", {{37, 53}}, {-1.75f}, 0, 0, OP(gcc::mul_scalar(x[0], p[0]))});
  rows.push_back({"pow_scalar 1.5", {{37, 53}}, {1.5f}, 1e-6, 1e-5, OP(gcc::pow_scalar(x[0], p[0])), {{0.1f, 3}}});
  rows.push_back({"pow_scalar 2 (negative inputs)", {{37, 53}}, {2.f}, 1e-6, 1e-5,
                  OP(gcc::pow_scalar(x[0], p[0]))});
  rows.push_back({"pow_scalar -0.5", {{2, 3, 5, 7}}, {-0.5f}, 1e-6, 1e-5, OP(gcc::pow_scalar(x[0], p[0])),
                  {{0.2f, 3}}});
  rows.push_back({"add_scalar (integers)", {{37, 53}}, {3.f}, 0, 0, OP(gcc::add_scalar(x[0], p[0])),
                  {{-9, 9}}, true});
  rows.push_back({"mul_scalar (integers)", {{37, 53}}, {-4.f}, 0, 0, OP(gcc::mul_scalar(x[0], p[0])),
                  {{-9, 9}}, true});

  // ---- chains: an input used twice accumulates its gradient on the device ------------------------
  rows.push_back({"mul x*x (gradient accumulation)", {{37, 53}}, {}, 1e-6, 1e-5, OP(gcc::mul(x[0], x[0]))});
  rows.push_back({"a*b + a, b a row vector", {{37, 53}, {53}}, {}, 1e-4, 1e-5,
                  OP(gcc::add(gcc::mul(x[0], x[1]), x[0]))});
  rows.push_back({"exp(a) / (b + 2), channel b", {{2, 3, 5, 7}, {1, 3, 1, 1}}, {}, 1e-4, 1e-5,
                  OP(gcc::div(gcc::exp(x[0]), gcc::add_scalar(x[1], 2.f)))});
  return rows;
}

// Seeded inputs: uniform in [lo, hi), or integers in [lo, hi] for the bit-exact rows.
Tensor make_input(const Shape& s, Range r, bool integers, uint64_t seed) {
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
void expect_close(const std::string& what, const Tensor& ref, const Tensor& got, double atol, double rtol,
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
void run_row(const OpRow& row, uint64_t seed) {
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

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("op table: CUDA matches the CPU reference, forward and backward") {
    DebugFillGuard fill;
    const std::vector<OpRow> rows = op_table();
    uint64_t seed = 1;
    for (const OpRow& row : rows) run_row(row, seed++);
    gcc::cuda::synchronize();
    MESSAGE(rows.size(), " op table rows checked");
  }

  TEST_CASE("op table: unwritten output elements are caught (NaN sentinel)") {
    DebugFillGuard fill;
    Tensor y = Tensor::empty(Shape{5, 7}, Device::cuda());
    for (float v : y.to_vector()) REQUIRE(std::isnan(v));
    // A kernel called directly on a NaN-filled output must write every element.
    const Tensor x = gcc_test::rand_tensor(Shape{5, 7}, 3);
    gcc::cuda::unary_forward(gcc::UnaryOp::MulScalar, 2.f, x.to(Device::cuda()), y);
    const Tensor ref = Tensor::empty(Shape{5, 7});
    gcc::cpu::unary_forward(gcc::UnaryOp::MulScalar, 2.f, x, ref);
    expect_close("unary_forward into a NaN-filled buffer", ref, y, 0, 0, true);
  }
}
