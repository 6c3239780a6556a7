// Runs every registered op-table family: CUDA must match the CPU reference, forward and backward,
// with device memory handed out NaN-filled so that an unwritten element fails. Rows: op_rows_*.cu.
#include "gcc/cuda.cuh"
#include "op_table.hpp"

using namespace gcc_op_table;
using gcc::Device;
using gcc::Shape;
using gcc::Tensor;

TEST_SUITE("cuda") {
  TEST_CASE("op table: CUDA matches the CPU reference, forward and backward") {
    DebugFillGuard fill;
    std::size_t total = 0;
    uint64_t seed = 1;
    for (const auto& family : op_families()) {
      const std::vector<OpRow> rows = family.second();
      for (const OpRow& row : rows) run_row(row, seed++);
      gcc::cuda::synchronize();
      MESSAGE(family.first, ": ", rows.size(), " rows checked");
      total += rows.size();
    }
    MESSAGE(total, " op table rows checked in ", op_families().size(), " families");
    CHECK(total > 0);
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
