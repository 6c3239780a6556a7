// Op table rows for the elementwise family (see op_table.hpp): every broadcast pattern of the binary
// ops in floats and bit-exact small integers, the unary ops, and gradient-accumulating chains.
#include "gcc/cuda.cuh"
#include "op_table.hpp"

namespace gcc_op_table {
namespace {

std::vector<OpRow> elementwise_rows() {
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

const OpFamily elementwise_family("elementwise", &elementwise_rows);

}  // namespace
}  // namespace gcc_op_table
