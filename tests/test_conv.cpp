// conv2d: hand-computed values (bias, padding, stride 2 on odd sizes, the 1x1 stride-2 shortcut),
// the chunked/threaded paths against a direct loop, gradient checks and misuse errors.
#include "gradcheck.hpp"
#include "gcc/ops/conv.hpp"

using gcc::Conv2dParams;
using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

namespace {

Conv2dParams params(int stride, int pad) {
  Conv2dParams p;
  p.stride_h = p.stride_w = stride;
  p.pad_h = p.pad_w = pad;
  return p;
}

// Direct 7-loop convolution in double: y, and for a given gy the gradients gx, gw, gb.
struct DirectConv {
  std::vector<double> y, gx, gw, gb;
};
DirectConv direct_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& gy, Conv2dParams p) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Co = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t Ho = (H + 2 * p.pad_h - kh) / p.stride_h + 1, Wo = (W + 2 * p.pad_w - kw) / p.stride_w + 1;
  DirectConv r;
  r.y.assign(static_cast<std::size_t>(N * Co * Ho * Wo), 0.0);
  r.gx.assign(static_cast<std::size_t>(x.numel()), 0.0);
  r.gw.assign(static_cast<std::size_t>(w.numel()), 0.0);
  r.gb.assign(static_cast<std::size_t>(Co), 0.0);
  const float* xp = x.data();
  const float* wp = w.data();
  const float* gp = gy.data();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < Co; ++o)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const int64_t yi = ((n * Co + o) * Ho + oh) * Wo + ow;
          double s = b.defined() ? b.data()[o] : 0.0;
          const double g = gp[yi];
          r.gb[static_cast<std::size_t>(o)] += g;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t ih = oh * p.stride_h - p.pad_h + i, iw = ow * p.stride_w - p.pad_w + j;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t xi = ((n * C + c) * H + ih) * W + iw, wi = ((o * C + c) * kh + i) * kw + j;
                s += static_cast<double>(xp[xi]) * wp[wi];
                r.gx[static_cast<std::size_t>(xi)] += g * wp[wi];
                r.gw[static_cast<std::size_t>(wi)] += g * xp[xi];
              }
          r.y[static_cast<std::size_t>(yi)] = s;
        }
  return r;
}

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// Runs conv2d forward and backward on random data and compares with the direct loop.
void check_against_direct(int64_t N, int64_t C, int64_t H, int64_t W, int64_t Co, int64_t k, int stride,
                          int pad, bool with_bias, uint64_t seed) {
  INFO("N=" << N << " C=" << C << " H=" << H << " W=" << W << " Co=" << Co << " k=" << k << " s=" << stride
            << " p=" << pad << " bias=" << with_bias);
  Tensor x = rand_tensor(Shape{N, C, H, W}, seed);
  Tensor w = rand_tensor(Shape{Co, C, k, k}, seed + 1);
  Tensor b = with_bias ? rand_tensor(Shape{Co}, seed + 2) : Tensor();
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  if (with_bias) b.set_requires_grad(true);
  Tensor y = gcc::conv2d(x, w, b, params(stride, pad));
  Tensor gy = rand_tensor(y.shape(), seed + 3);
  const DirectConv ref = direct_conv(x, w, b, gy, params(stride, pad));
  check_values(y, to_float(ref.y), 1e-4, 1e-4, "y");
  y.backward(gy);
  check_values(x.grad(), to_float(ref.gx), 1e-4, 1e-4, "gx");
  check_values(w.grad(), to_float(ref.gw), 1e-3, 1e-4, "gw");
  if (with_bias) check_values(b.grad(), to_float(ref.gb), 1e-3, 1e-4, "gb");
}

// Sets the CPU convolution for one scope and restores the previous one.
struct UseCpuConv {
  explicit UseCpuConv(gcc::CpuConv c) : before(gcc::cpu_conv()) { gcc::set_cpu_conv(c); }
  ~UseCpuConv() { gcc::set_cpu_conv(before); }
  gcc::CpuConv before;
};

// The CPU convolutions this build has: im2col always, oneDNN when built with it.
std::vector<gcc::CpuConv> built_cpu_convs() {
  std::vector<gcc::CpuConv> v{gcc::CpuConv::Im2col};
  if (gcc::cpu_conv_onednn_built()) v.push_back(gcc::CpuConv::OneDnn);
  return v;
}

}  // namespace

TEST_CASE("conv2d: tiny case with bias, by hand") {
  // x = 1..9 as 3x3; filter 0 = [[1, 2], [3, 4]] + 1, filter 1 = 0.5 everywhere - 1.
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, Shape{1, 1, 3, 3});
  Tensor w = Tensor::from_vector({1, 2, 3, 4, 0.5f, 0.5f, 0.5f, 0.5f}, Shape{2, 1, 2, 2});
  Tensor b = Tensor::from_vector({1, -1}, Shape{2});
  Tensor y = gcc::conv2d(x, w, b, 1, 0);
  CHECK(y.shape() == Shape{1, 2, 2, 2});
  // 1*1 + 2*2 + 3*4 + 4*5 + 1 = 38; 0.5 * (1 + 2 + 4 + 5) - 1 = 5
  check_values(y, {38, 48, 68, 78, 5, 7, 11, 13}, 1e-5, 0, "tiny");
  Tensor yp = gcc::conv2d(x, w, b, 1, 1);
  CHECK(yp.shape() == Shape{1, 2, 4, 4});
  check_values(yp, {5,  12, 19, 10, 19, 38, 48, 22, 37, 68,  78,  34,  15,  24,  27,  10,
                    -0.5f, 0.5f, 1.5f, 0.5f, 1.5f, 5, 7, 3.5f, 4.5f, 11, 13, 6.5f, 2.5f, 6.5f, 7.5f, 3.5f},
               1e-5, 0, "tiny pad 1");
  // No bias: the same minus the bias.
  check_values(gcc::conv2d(x, w, Tensor(), 1, 0), {37, 47, 67, 77, 6, 8, 12, 14}, 1e-5, 0, "no bias");
}

TEST_CASE("conv2d: stride 2 on an odd size (7x7, k3 s2 p1 -> 4x4)") {
  std::vector<float> xv(49), wv(9);
  for (int i = 0; i < 49; ++i) xv[static_cast<std::size_t>(i)] = static_cast<float>(i) / 10.f;
  for (int i = 0; i < 9; ++i) wv[static_cast<std::size_t>(i)] = static_cast<float>(i - 4) / 4.f;
  Tensor y = gcc::conv2d(Tensor::from_vector(xv, Shape{1, 1, 7, 7}), Tensor::from_vector(wv, Shape{1, 1, 3, 3}),
                         Tensor(), 2, 1);
  REQUIRE(y.shape() == Shape{1, 1, 4, 4});
  // y[0,0] = 0.1*0.25 + 0.7*0.75 + 0.8*1 = 1.35 (the window hangs over the top-left padding)
  check_values(y, {1.35f, 2.125f, 2.575f, 1.45f, 3.225f, 3.3f, 3.3f, 0.675f, 4.275f, 3.3f, 3.3f, -0.375f, -3.35f,
                   -8.225f, -8.675f, -8.25f},
               1e-5, 1e-5, "stride 2");
}

TEST_CASE("conv2d: 1x1 stride 2 (the ResNet shortcut)") {
  std::vector<float> xv(50);
  for (int i = 0; i < 50; ++i) xv[static_cast<std::size_t>(i)] = static_cast<float>(i);
  Tensor x = Tensor::from_vector(xv, Shape{1, 2, 5, 5});
  Tensor w = Tensor::from_vector({1, 0, 0, 1, 1, -1}, Shape{3, 2, 1, 1});
  Tensor y = gcc::conv2d(x, w, Tensor(), 2, 0);
  REQUIRE(y.shape() == Shape{1, 3, 3, 3});
  // channel 0 picks x[0] at even rows/cols, channel 1 picks x[1], channel 2 is their difference
  check_values(y, {0, 2, 4, 10, 12, 14, 20, 22, 24, 25, 27, 29, 35, 37, 39, 45, 47, 49,
                   -25, -25, -25, -25, -25, -25, -25, -25, -25},
               0, 0, "1x1 s2");
  // Even input size (ResNet: 32x32 -> 16x16) and a 1x1 stride-1 conv keep their shapes right.
  CHECK(gcc::conv2d(Tensor::zeros(Shape{2, 4, 32, 32}), Tensor::zeros(Shape{8, 4, 1, 1}), Tensor(), 2, 0).shape() ==
        Shape{2, 8, 16, 16});
  CHECK(gcc::conv2d(Tensor::zeros(Shape{2, 4, 6, 5}), Tensor::zeros(Shape{8, 4, 1, 1}), Tensor(), 1, 0).shape() ==
        Shape{2, 8, 6, 5});
}

TEST_CASE("conv2d: every CPU path matches a direct loop, forward and backward") {
  // Batches of images split into units (several threads, several images per unit when the output is
  // small), one image (no batch parallelism), the 1x1/s1/p0 path that skips im2col, rectangular inputs;
  // with each CPU convolution of this build (oneDNN's chooses its own kernels for the same shapes).
  for (gcc::CpuConv conv : built_cpu_convs()) {
  const UseCpuConv use(conv);
  INFO("CPU convolution: " << (conv == gcc::CpuConv::OneDnn ? "oneDNN" : "im2col"));
  check_against_direct(5, 3, 6, 6, 4, 3, 1, 1, true, 10);    // small output: units of several images
  check_against_direct(1, 3, 9, 7, 5, 3, 2, 1, true, 20);    // one image
  check_against_direct(3, 4, 25, 25, 3, 1, 1, 0, true, 30);  // 1x1 stride 1, one image per unit
  check_against_direct(6, 4, 3, 3, 5, 1, 1, 0, false, 40);   // 1x1 stride 1, several images per unit
  check_against_direct(4, 2, 8, 5, 3, 1, 2, 0, false, 50);   // 1x1 stride 2
  check_against_direct(4, 3, 23, 24, 6, 3, 1, 1, false, 60); // larger images, one per unit
  check_against_direct(2, 2, 5, 5, 3, 5, 1, 2, true, 70);    // 5x5 kernel, padding 2
  check_against_direct(3, 2, 4, 4, 3, 3, 3, 0, true, 80);    // stride larger than needed: 4x4 -> 1x1
  check_against_direct(2, 2, 2, 3, 2, 3, 1, 1, false, 90);   // kernel larger than the input
  check_against_direct(3, 5, 7, 9, 4, 3, 2, 1, true, 100);   // odd everything, stride 2
  check_against_direct(2, 17, 6, 5, 19, 3, 1, 1, false, 110); // channels past a 16-wide block
  }
}

TEST_CASE("conv2d: oneDNN equals the im2col reference (forward, backward data, backward weights)" *
          doctest::skip(!gcc::cpu_conv_onednn_built())) {
  // ResNet shapes of GCC's CPU default (width 8 and 16, 28x28 and 14x14, 1 input channel) and odd ones.
  struct Case { int64_t N, C, H, W, Co, k; int stride, pad; bool bias; };
  for (const Case& c : {Case{6, 1, 28, 28, 8, 3, 1, 1, false}, Case{6, 8, 14, 14, 16, 3, 2, 1, false},
                        Case{6, 8, 14, 14, 16, 1, 2, 0, false}, Case{5, 16, 7, 7, 16, 3, 1, 1, false},
                        Case{3, 5, 11, 6, 7, 3, 2, 1, true}, Case{1, 3, 5, 5, 2, 5, 1, 2, true}}) {
    INFO("N=" << c.N << " C=" << c.C << " H=" << c.H << " W=" << c.W << " Co=" << c.Co << " k=" << c.k
              << " s=" << c.stride << " p=" << c.pad << " bias=" << c.bias);
    const Conv2dParams p = params(c.stride, c.pad);
    const Tensor x = rand_tensor(Shape{c.N, c.C, c.H, c.W}, 7), w = rand_tensor(Shape{c.Co, c.C, c.k, c.k}, 8);
    const Tensor b = c.bias ? rand_tensor(Shape{c.Co}, 9) : Tensor();
    const int64_t Ho = (c.H + 2 * c.pad - c.k) / c.stride + 1, Wo = (c.W + 2 * c.pad - c.k) / c.stride + 1;
    const Tensor gy = rand_tensor(Shape{c.N, c.Co, Ho, Wo}, 10);
    Tensor y[2], gx[2], gw[2], gb[2];
    for (int i = 0; i < 2; ++i) {
      const UseCpuConv use(i == 0 ? gcc::CpuConv::Im2col : gcc::CpuConv::OneDnn);
      y[i] = Tensor::empty(gy.shape());
      gx[i] = Tensor::empty(x.shape());
      gw[i] = Tensor::empty(w.shape());
      gb[i] = c.bias ? Tensor::empty(Shape{c.Co}) : Tensor();
      gcc::cpu::conv2d_forward(x, w, b, y[i], p);
      gcc::cpu::conv2d_backward_data(gy, w, gx[i], p);
      gcc::cpu::conv2d_backward_weight(x, gy, gw[i], gb[i], p);
    }
    check_values(y[1], y[0].to_vector(), 1e-5, 1e-5, "y");
    check_values(gx[1], gx[0].to_vector(), 1e-5, 1e-5, "gx");
    check_values(gw[1], gw[0].to_vector(), 1e-4, 1e-5, "gw");
    if (c.bias) check_values(gb[1], gb[0].to_vector(), 1e-4, 1e-5, "gb");
    // and a second call on the same shape (cached primitives, reused scratch buffers) gives the same bits
    const UseCpuConv use(gcc::CpuConv::OneDnn);
    Tensor y2 = Tensor::empty(gy.shape());
    gcc::cpu::conv2d_forward(x, w, b, y2, p);
    check_values(y2, y[1].to_vector(), 0, 0, "y again");
  }
}

TEST_CASE("conv2d: rectangular stride and padding") {
  Conv2dParams p;
  p.stride_h = 2;
  p.stride_w = 1;
  p.pad_h = 0;
  p.pad_w = 1;
  Tensor x = rand_tensor(Shape{2, 2, 7, 6}, 5);
  Tensor w = rand_tensor(Shape{3, 2, 3, 2}, 6);
  Tensor y = gcc::conv2d(x, w, Tensor(), p);
  CHECK(y.shape() == Shape{2, 3, 3, 7});
  const DirectConv ref = direct_conv(x, w, Tensor(), Tensor::zeros(y.shape()), p);
  check_values(y, to_float(ref.y), 1e-5, 1e-5, "rectangular");
}

TEST_CASE("conv2d gradients") {
  auto conv = [](int stride, int pad) {
    return [stride, pad](const std::vector<Tensor>& in) { return gcc::conv2d(in[0], in[1], in[2], stride, pad); };
  };
  gradcheck("conv2d s1 p1", conv(1, 1),
            {rand_tensor(Shape{2, 2, 4, 4}, 1), rand_tensor(Shape{3, 2, 3, 3}, 2), rand_tensor(Shape{3}, 3)});
  gradcheck("conv2d s2 p1 (odd size)", conv(2, 1),
            {rand_tensor(Shape{2, 2, 5, 5}, 4), rand_tensor(Shape{2, 2, 3, 3}, 5), rand_tensor(Shape{2}, 6)});
  gradcheck("conv2d 1x1 s2", conv(2, 0),
            {rand_tensor(Shape{2, 3, 5, 5}, 7), rand_tensor(Shape{2, 3, 1, 1}, 8), rand_tensor(Shape{2}, 9)});
  gradcheck("conv2d 1x1 s1", conv(1, 0),
            {rand_tensor(Shape{2, 3, 3, 3}, 10), rand_tensor(Shape{4, 3, 1, 1}, 11), rand_tensor(Shape{4}, 12)});
  // Without bias, and with only some inputs requiring gradients.
  gradcheck("conv2d no bias", [](const std::vector<Tensor>& in) { return gcc::conv2d(in[0], in[1], Tensor(), 1, 1); },
            {rand_tensor(Shape{1, 2, 4, 4}, 13), rand_tensor(Shape{2, 2, 3, 3}, 14)});
  Tensor w = rand_tensor(Shape{2, 2, 3, 3}, 15);
  gradcheck("conv2d input only", [&](const std::vector<Tensor>& in) { return gcc::conv2d(in[0], w, Tensor(), 1, 1); },
            {rand_tensor(Shape{2, 2, 4, 4}, 16)});
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("conv2d: no tape node without gradients") {
  const std::size_t before = gcc::Tape::size();
  Tensor y = gcc::conv2d(rand_tensor(Shape{1, 1, 3, 3}, 1), rand_tensor(Shape{1, 1, 3, 3}, 2), Tensor(), 1, 1);
  CHECK(gcc::Tape::size() == before);
  CHECK_FALSE(y.requires_grad());
}

#ifdef OPENBLAS_CONFIG_H
TEST_CASE("conv2d leaves OpenBLAS's thread count as it found it") {
  // The batch-parallel path makes OpenBLAS single-threaded for its GEMMs and must restore it.
  const int before = openblas_get_num_threads();
  Tensor x = rand_tensor(Shape{8, 4, 16, 16}, 1), w = rand_tensor(Shape{8, 4, 3, 3}, 2);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  gcc::conv2d(x, w, Tensor(), 1, 1).backward(Tensor::ones(Shape{8, 8, 16, 16}));
  CHECK(openblas_get_num_threads() == before);
}
#endif

TEST_CASE("conv2d misuse") {
  Tensor x = Tensor::zeros(Shape{2, 4, 8, 8});
  CHECK_THROWS_WITH_AS(gcc::conv2d(x, Tensor::zeros(Shape{8, 3, 3, 3}), Tensor(), 1, 1),
                       doctest::Contains("conv2d: weight [8, 3, 3, 3] expects 3 input channels, input is [2, 4, 8, 8]"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::conv2d(Tensor::zeros(Shape{4, 8, 8}), Tensor::zeros(Shape{8, 4, 3, 3}), Tensor(), 1, 1),
                       doctest::Contains("conv2d: expected a 4-D tensor [N, C, H, W] (input), got shape [4, 8, 8]"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::conv2d(x, Tensor::zeros(Shape{8, 4, 3}), Tensor(), 1, 1),
                       doctest::Contains("conv2d: weight must be 4-D [Cout, Cin, kh, kw], got shape [8, 4, 3]"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::conv2d(x, Tensor::zeros(Shape{8, 4, 3, 3}), Tensor::zeros(Shape{4}), 1, 1),
                       doctest::Contains("conv2d: bias must be [8] for weight [8, 4, 3, 3], got shape [4]"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::conv2d(x, Tensor::zeros(Shape{8, 4, 11, 11}), Tensor(), 1, 1),
                       doctest::Contains("conv2d: kernel 11x11 is larger than the padded input"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::conv2d(x, Tensor::zeros(Shape{8, 4, 3, 3}), Tensor(), 0, 1),
                       doctest::Contains("conv2d: strides must be >= 1"), gcc::Error);
  CHECK_THROWS_WITH_AS(gcc::conv2d(x, Tensor(), Tensor(), 1, 1), doctest::Contains("conv2d: weight is undefined"),
                       gcc::Error);
}
