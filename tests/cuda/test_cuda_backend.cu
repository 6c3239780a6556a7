// The CUDA backend's own machinery: device status, the per-device context (stream, cuBLAS/cuDNN
// handles, workspace), the error macros, the caching allocator, host/device copies and the
// gradient-accumulation hook.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "gcc/cuda.cuh"
#include "gradcheck.hpp"

using gcc::Device;
using gcc::Shape;
using gcc::Tensor;

namespace {
std::vector<float> iota(int64_t n, float start = 0.f) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = start + static_cast<float>(i);
  return v;
}
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}
}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("device status and context") {
    const gcc::cuda::DeviceStatus st = gcc::cuda::device_status();
    CHECK(st.usable);
    CHECK(st.reason.empty());

    gcc::cuda::Context& ctx = gcc::cuda::context(0);
    CHECK(&ctx == &gcc::cuda::context());  // device 0 is current
    CHECK(ctx.stream() != nullptr);
    CHECK(ctx.sm_count() > 0);
    CHECK(ctx.grid_for(1) == 1u);
    CHECK(ctx.grid_for(int64_t{1} << 40) == static_cast<unsigned>(ctx.sm_count() * 8));

    cudaStream_t s = nullptr;
    GCC_CUBLAS_CHECK(cublasGetStream(ctx.cublas(), &s));
    CHECK(s == ctx.stream());
    CHECK(ctx.cublas() == ctx.cublas());
    s = nullptr;
    GCC_CUDNN_CHECK(cudnnGetStream(ctx.cudnn(), &s));
    CHECK(s == ctx.stream());

    void* w1 = ctx.workspace(1000);
    CHECK(w1 != nullptr);
    CHECK(ctx.workspace_size() >= 1000);
    CHECK(ctx.workspace(10) == w1);  // never shrinks
    ctx.workspace(1 << 20);
    CHECK(ctx.workspace_size() >= (1u << 20));
    gcc::cuda::synchronize();
  }

  TEST_CASE("error macros name the call, the error and the place") {
    CHECK_THROWS_WITH_AS(GCC_CUDA_CHECK(cudaSetDevice(1 << 20)),
                         doctest::Contains("CUDA call `cudaSetDevice(1 << 20)` failed: cudaErrorInvalidDevice"),
                         gcc::Error);
    CHECK_THROWS_WITH_AS(GCC_CUDA_CHECK(cudaSetDevice(1 << 20)), doctest::Contains("test_cuda_backend.cu:"),
                         gcc::Error);
    CHECK(cudaGetLastError() == cudaSuccess);  // the error was cleared; the device still works

    // cuBLAS itself prints "On entry to SGEMM parameter number 3 had an illegal value" here, and
    // compute-sanitizer lists the two invalid-device calls above as API errors: both are expected.
    cublasHandle_t h = gcc::cuda::context().cublas();
    float a = 1.f, b = 0.f;
    CHECK_THROWS_WITH_AS(
        GCC_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, -1, 1, 1, &a, nullptr, 1, nullptr, 1, &b, nullptr, 1)),
        doctest::Contains("CUBLAS_STATUS_INVALID_VALUE"), gcc::Error);

    cudnnTensorDescriptor_t desc = nullptr;
    GCC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc));
    CHECK_THROWS_WITH_AS(
        GCC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, -1, 1, 1, 1)),
        doctest::Contains("CUDNN_STATUS_BAD_PARAM"), gcc::Error);
    GCC_CUDNN_CHECK(cudnnDestroyTensorDescriptor(desc));

    CHECK_THROWS_WITH_AS(gcc::cuda::context(gcc::cuda::kMaxDevices - 1), doctest::Contains("does not exist"),
                         gcc::Error);
  }

  TEST_CASE("copies between host and device") {
    const Tensor h = Tensor::from_vector(iota(12, -5.5f), Shape{3, 4});
    const Tensor d = h.to(Device::cuda());
    CHECK(d.device() == Device::cuda(0));
    CHECK(!d.same_storage(h));
    CHECK(same_bits(d.to_vector(), h.to_vector()));

    const Tensor d2 = d.clone();  // device -> device
    CHECK(d2.device().is_cuda());
    CHECK(!d2.same_storage(d));
    CHECK(same_bits(d2.to_vector(), h.to_vector()));

    // A row of a device tensor (an offset view) copied into another device tensor.
    Tensor z = Tensor::zeros(Shape{4}, Device::cuda());
    z.copy_from(d.narrow0(1, 2));
    CHECK(z.to_vector() == std::vector<float>({-1.5f, -0.5f, 0.5f, 1.5f}));
    z.fill(2.5f);
    CHECK(z.to_vector() == std::vector<float>(4, 2.5f));
    CHECK(Tensor::ones(Shape{}, Device::cuda()).item() == 1.f);

    const Tensor empty = Tensor::empty(Shape{0, 3}, Device::cuda());
    CHECK(empty.to_vector().empty());
    CHECK(Tensor::empty(Shape{0}).to(Device::cuda()).numel() == 0);
  }

  TEST_CASE("caching allocator: size classes, reuse, no cudaMalloc after the first step") {
    using gcc::cuda::CachingAllocator;
    std::size_t prev = 0;
    for (std::size_t bytes : {1, 4, 511, 512, 513, 1000, 4096, 4097, 65537, 1 << 20, (1 << 20) + 1, 123456789}) {
      const std::size_t c = CachingAllocator::size_class(bytes);
      CHECK(c >= bytes);
      CHECK(c % 512 == 0);
      CHECK(c <= bytes + bytes / 4 + 512);
      CHECK(c >= prev);
      prev = c;
    }

    const Tensor a = gcc_test::rand_tensor(Shape{64, 100}, 1).to(Device::cuda());
    const Tensor b = gcc_test::rand_tensor(Shape{100}, 2, 0.5f, 2.f).to(Device::cuda());
    const Tensor r = gcc_test::rand_tensor(Shape{64, 100}, 3).to(Device::cuda());
    const gcc::cuda::MemoryStats base = gcc::cuda::memory_stats();
    auto step = [&] {
      Tensor x = a.clone().set_requires_grad(true);
      Tensor w = b.clone().set_requires_grad(true);
      Tensor y = gcc::div(gcc::exp(gcc::mul(x, w)), gcc::add_scalar(w, 1.f));
      y.backward(r);
      return x.grad().to_vector()[5] + w.grad().to_vector()[7];
    };
    const float first = step();
    const gcc::cuda::MemoryStats s1 = gcc::cuda::memory_stats();
    CHECK(s1.bytes_in_use == base.bytes_in_use);  // everything of the step was released
    CHECK(s1.bytes_cached > 0);
    for (int i = 0; i < 3; ++i) CHECK(step() == first);  // deterministic, too
    const gcc::cuda::MemoryStats s2 = gcc::cuda::memory_stats();
    CHECK(s2.cuda_malloc_count == s1.cuda_malloc_count);
    CHECK(s2.allocations > s1.allocations);
    CHECK(s2.bytes_in_use == base.bytes_in_use);
    CHECK(s2.peak_bytes_in_use >= s2.bytes_in_use);

    gcc::cuda::empty_cache();
    const gcc::cuda::MemoryStats s3 = gcc::cuda::memory_stats();
    CHECK(s3.bytes_cached == 0);
    CHECK(s3.bytes_in_use == base.bytes_in_use);
    CHECK(step() == first);  // works again after the cache was emptied
  }

  TEST_CASE("gradient accumulation hook adds a strided tensor on the device") {
    const Tensor y_host = gcc_test::rand_tensor(Shape{6, 5}, 4);
    const Tensor x_host = gcc_test::rand_tensor(Shape{5, 6}, 5);
    Tensor y = y_host.to(Device::cuda());
    gcc::detail::add_inplace(y, x_host.to(Device::cuda()).transpose(0, 1));  // strided source
    Tensor ref = y_host.clone();
    gcc::detail::add_inplace(ref, x_host.transpose(0, 1));
    CHECK(same_bits(y.to_vector(), ref.to_vector()));

    gcc::detail::add_inplace(y, y_host.to(Device::cuda()).view(Shape{30}));  // contiguous, other shape
    gcc::detail::add_inplace(ref, y_host.view(Shape{30}));
    CHECK(same_bits(y.to_vector(), ref.to_vector()));
  }

  TEST_CASE("strided copy and fill on the device") {
    const Tensor h = gcc_test::rand_tensor(Shape{4, 6}, 7);
    const Tensor d = h.to(Device::cuda());
    // Gather a transposed view, an offset view of it and a broadcast view; the CPU gathers the same.
    auto views = [](const Tensor& x) {
      return std::vector<Tensor>{x.transpose(0, 1), x.transpose(0, 1).narrow0(2, 5),
                                 x.narrow0(1, 2).expand(Shape{3, 6})};
    };
    const std::vector<Tensor> dv = views(d), hv = views(h);
    for (std::size_t k = 0; k < dv.size(); ++k) {
      Tensor out = Tensor::empty(dv[k].shape(), Device::cuda());
      gcc::cuda::copy_strided(out, dv[k]);
      CHECK_MESSAGE(same_bits(out.to_vector(), hv[k].contiguous().to_vector()), "view ", k);
    }
    Tensor t = Tensor::empty(Shape{4, 6}, Device::cuda());
    gcc::cuda::fill(t, 0.f);
    CHECK(t.to_vector() == std::vector<float>(24, 0.f));
    gcc::cuda::fill(t.transpose(0, 1).narrow0(1, 3), -2.5f);  // columns 1 and 2 of t
    const std::vector<float> v = t.to_vector();
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 6; ++j) CHECK(v[static_cast<std::size_t>(i * 6 + j)] == (j == 1 || j == 2 ? -2.5f : 0.f));
    CHECK_THROWS_WITH_AS(gcc::cuda::copy_strided(t, d.narrow0(0, 1)),
                         doctest::Contains("copy_strided: source of shape [1, 6] copied into a tensor of shape [4, 6]"),
                         gcc::Error);
  }

  TEST_CASE("reduce_to_shape is deterministic and adds into its output") {
    const Tensor g = gcc_test::rand_tensor(Shape{700, 30}, 6).to(Device::cuda());
    std::vector<float> first;
    for (int run = 0; run < 3; ++run) {
      Tensor r = Tensor::full(Shape{30}, 1.f, Device::cuda());
      gcc::cuda::reduce_to_shape(g, r.expand(Shape{700, 30}));
      if (run == 0) first = r.to_vector();
      CHECK(same_bits(r.to_vector(), first));
    }
    Tensor ref = Tensor::full(Shape{30}, 1.f);
    gcc::cpu::reduce_to_shape(g.to(Device::cpu()), ref.expand(Shape{700, 30}));
    gcc_test::check_values(Tensor::from_vector(first, Shape{30}), ref.to_vector(), 1e-4, 1e-5, "sum over rows");
  }

  TEST_CASE("CUDA ops reject misuse") {
    const Tensor h = Tensor::ones(Shape{2, 3});
    const Tensor d = h.to(Device::cuda());
    CHECK_THROWS_WITH_AS(gcc::add(h, d), doctest::Contains("add: inputs on different devices (cpu and cuda:0)"),
                         gcc::Error);
    Tensor y = Tensor::empty(Shape{3, 2}, Device::cuda());
    CHECK_THROWS_WITH_AS(gcc::cuda::binary_forward(gcc::BinaryOp::Add, d, d, y),
                         doctest::Contains("binary_forward: operands [2, 3] and [2, 3] must be views of the "
                                           "output shape [3, 2]"),
                         gcc::Error);
    CHECK_THROWS_WITH_AS(gcc::cuda::unary_forward(gcc::UnaryOp::Exp, 0.f, d.transpose(0, 1), y),
                         doctest::Contains("unary_forward: input of shape [3, 2] must be contiguous"), gcc::Error);
    CHECK_THROWS_WITH_AS(gcc::cuda::unary_forward(gcc::UnaryOp::Exp, 0.f, h, y),
                         doctest::Contains("unary_forward: inputs on different devices"), gcc::Error);
  }
}
