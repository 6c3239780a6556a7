// Driver for the elementwise family: gcc/kernels/elementwise.cuh (binary ops with broadcasting,
// reduce_to_shape, unary ops, y += x, strided copy, fill) and gcc/kernels/activation.cuh (relu). A CPU
// reference (the formulas of gcc/ops/elementwise.hpp and gcc/ops/activation.hpp), the versions below
// checked against it for several block sizes, SM counts and shapes, and a timing sweep over GCC's
// shapes: ResNet-18 activations at batch 256 ([256, 64, 32, 32] .. [256, 512, 4, 4]) and phase 2's
// 1536 rows (batch 256 x 6 views) of 128-d embeddings / 512-d features.
//
//   v1  naive kernels written here: one thread per element (per output for reduce_to_shape), grid =
//       ceil(work / block), 64-bit index with a div/mod per dim of the padded 4-D shape for every
//       element (per term for reduce_to_shape: one thread sums all the terms of its output).
//   v2  the library's launchers (gcc::kernels::binary_forward, reduce_to_shape, copy_strided, ...,
//       relu_forward / relu_backward): grid-stride loops over at most 8 blocks per SM; a flat pass when
//       both operands are row-major; otherwise size-1 dims dropped and dims merged (make_geometry) and
//       32-bit index arithmetic whenever every offset fits; reduce_to_shape picks one thread per output
//       (the CPU's order: bit-exact) when outputs are many or terms few, else one block per output
//       (block_sum tree, deterministic) so that a bias gradient's 64..512 outputs fill the card.
//   v3  (binary ops and relu only; `./elementwise 3` runs those) float4 loads and stores: contiguous
//       operands as float4 with a scalar tail; a broadcast whose innermost merged dim is a multiple of
//       4 with inner strides 0 or 1 (the per-channel [C, 1, 1] and row-vector [D] patterns) computes
//       the offsets once per 4 outputs. Anything else (misaligned views, transposed operands) falls
//       back to v2; the check line names the path taken.
// Every version computes each output with the CPU's single float operation (a + b, max, x + s, ...),
// so binary ops, relu, copies, fills and scalar unary ops are checked for exact equality; exp / log /
// pow are CUDA's expf / logf / powf (2, 1 and 4 ulp at most, glibc's within 1), checked to 1e-6 / 2e-6
// relative. reduce_to_shape's thread kernel (v1, and v2 when it picks it) adds the CPU's terms in the
// CPU's order: exact; v2's block kernel adds them in another (fixed) order: checked to 1e-6 x the sum
// of |terms| (16 float roundings' worth; the float sums' typical error is far below).
// The library keeps v2. v1's 64-bit divisions (dozens of instructions each, one per dim and operand for
// every element) can make the strided binary op and the copy instruction-bound rather than bandwidth-bound on an H200,
// and its reduce_to_shape gives a bias gradient ([256, 64, 32, 32] -> [64]) 64 threads in all, each
// summing 262,144 terms serially. v3 cuts the index arithmetic of the broadcast pattern by 4 and
// issues 16-byte accesses, but needs 16-byte-aligned views and a shape condition, with v2 behind it as
// the fallback; it is bit-identical to v2, so the library can adopt it if the sweep shows a gain on
// GCC's shapes. The timing figures belong in the README (owed to a GPU run: this driver prints them).
//
// Build and run, in a folder holding this file, driver.cuh and a copy of kernels/gcc/ (or in kernels/dev/
// with -I.. instead of -I.); VERSION picks one version, --check skips the timing sweep:
//   nvcc -O3 -std=c++17 -arch=native -I. elementwise.cu -o elementwise && ./elementwise [VERSION] [--check]
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "driver.cuh"
#include "gcc/kernels/activation.cuh"
#include "gcc/kernels/elementwise.cuh"

namespace {

using gcc::kernels::BinaryKind;
using gcc::kernels::Geometry;
using gcc::kernels::Launch;
using gcc::kernels::UnaryKind;
using Dims = std::vector<int64_t>;

constexpr BinaryKind kBinaryOps[] = {BinaryKind::Add, BinaryKind::Sub, BinaryKind::Mul, BinaryKind::Div};

// ---- layouts --------------------------------------------------------------------------------------
int64_t numel(const Dims& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}
Dims row_major(const Dims& sizes) {
  Dims st(sizes.size());
  int64_t e = 1;
  for (std::size_t i = sizes.size(); i-- > 0;) {
    st[i] = e;
    e *= sizes[i];
  }
  return st;
}
// Elements a view needs in its buffer (non-negative strides).
int64_t extent(const Dims& sizes, const Dims& strides) {
  int64_t last = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 0) return 0;
    last += (sizes[i] - 1) * strides[i];
  }
  return last + 1;
}
std::string str(const Dims& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

// A shape padded on the left to 4 dims (size 1, stride 0), for the naive kernels and the CPU walk.
struct Pad4 {
  int64_t size[4] = {1, 1, 1, 1};
  int64_t stride[4] = {0, 0, 0, 0};
};
Pad4 pad4(const Dims& sizes, const Dims& strides) {
  Pad4 p;
  const int nd = static_cast<int>(sizes.size());
  for (int i = 0; i < nd; ++i) {
    p.size[4 - nd + i] = sizes[i];
    p.stride[4 - nd + i] = strides[i];
  }
  return p;
}

// f(k, offset) for every element of the view in row-major order (gcc::detail::for_each_offset).
template <typename F>
void for_each_offset(const Dims& sizes, const Dims& strides, F&& f) {
  const Pad4 p = pad4(sizes, strides);
  int64_t k = 0;
  for (int64_t a = 0; a < p.size[0]; ++a)
    for (int64_t b = 0; b < p.size[1]; ++b)
      for (int64_t c = 0; c < p.size[2]; ++c)
        for (int64_t e = 0; e < p.size[3]; ++e)
          f(k++, a * p.stride[0] + b * p.stride[1] + c * p.stride[2] + e * p.stride[3]);
}

// ---- CPU reference (gcc::cpu:: of ops/elementwise.hpp and ops/activation.hpp) ---------------------------
float apply_binary(BinaryKind op, float a, float b) {
  switch (op) {
    case BinaryKind::Add: return a + b;
    case BinaryKind::Sub: return a - b;
    case BinaryKind::Mul: return a * b;
    default: return a / b;
  }
}

std::vector<float> gather(const std::vector<float>& buf, int64_t base, const Dims& sizes, const Dims& strides) {
  std::vector<float> out(static_cast<std::size_t>(numel(sizes)));
  for_each_offset(sizes, strides, [&](int64_t k, int64_t off) { out[k] = buf[base + off]; });
  return out;
}

std::vector<float> binary_cpu(BinaryKind op, const Dims& sizes, const std::vector<float>& a, int64_t a_base,
                              const Dims& as, const std::vector<float>& b, int64_t b_base, const Dims& bs) {
  const std::vector<float> av = gather(a, a_base, sizes, as), bv = gather(b, b_base, sizes, bs);
  std::vector<float> y(av.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = apply_binary(op, av[i], bv[i]);
  return y;
}

// r += g over the dims where r's stride is 0; r = g when r's strides are row-major.
void reduce_cpu(const Dims& sizes, const std::vector<float>& g, int64_t g_base, const Dims& gs, std::vector<float>& r,
                const Dims& rs) {
  const std::vector<float> gc = gather(g, g_base, sizes, gs);
  if (gcc::kernels::is_row_major(static_cast<int>(sizes.size()), sizes.data(), rs.data())) {
    std::copy(gc.begin(), gc.end(), r.begin());
    return;
  }
  for_each_offset(sizes, rs, [&](int64_t k, int64_t off) { r[off] += gc[k]; });
}

float unary_cpu(UnaryKind op, float s, float x) {
  switch (op) {
    case UnaryKind::Exp: return std::exp(x);
    case UnaryKind::Log: return std::log(x);
    case UnaryKind::AddScalar: return x + s;
    case UnaryKind::MulScalar: return x * s;
    default: return std::pow(x, s);
  }
}
float unary_grad_cpu(UnaryKind op, float s, float x, float y, float gy) {
  float d;
  switch (op) {
    case UnaryKind::Exp: d = y; break;
    case UnaryKind::Log: d = 1.f / x; break;
    case UnaryKind::AddScalar: d = 1.f; break;
    case UnaryKind::MulScalar: d = s; break;
    default: d = s * std::pow(x, s - 1.f); break;
  }
  return gy * d;
}

float relu_cpu(float x) { return x < 0.f ? 0.f : x; }
float relu_grad_cpu(float y, float gy) { return y <= 0.f ? 0.f : gy; }

// ---- v1: naive kernels -----------------------------------------------------------------------------
__device__ __forceinline__ int64_t offset_v1(const Pad4& p, int64_t i) {
  int64_t off = 0;
  for (int k = 3; k >= 0; --k) {
    off += (i % p.size[k]) * p.stride[k];
    i /= p.size[k];
  }
  return off;
}

template <BinaryKind OP>
__global__ void binary_v1(const float* a, Pad4 pa, const float* b, Pad4 pb, float* y, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = gcc::kernels::binary_apply<OP>(a[offset_v1(pa, i)], b[offset_v1(pb, i)]);
}

__global__ void copy_v1(float* y, const float* x, Pad4 px, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[offset_v1(px, i)];
}

// One thread per output: kept dims have ksize = size (rsize 1), reduced dims the reverse.
struct ReduceV1 {
  int64_t ksize[4], rsize[4], gs[4], rs[4];
  int64_t m, q;
  bool overwrite;
};

__global__ void reduce_v1(const float* g, float* r, ReduceV1 p) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= p.m) return;
  int64_t goff = 0, roff = 0, rest = j;
  for (int k = 3; k >= 0; --k) {
    const int64_t c = rest % p.ksize[k];
    rest /= p.ksize[k];
    goff += c * p.gs[k];
    roff += c * p.rs[k];
  }
  if (p.overwrite) {
    r[roff] = g[goff];
    return;
  }
  float acc = r[roff];
  for (int64_t t = 0; t < p.q; ++t) {
    int64_t off = goff, u = t;
    for (int k = 3; k >= 0; --k) {
      off += (u % p.rsize[k]) * p.gs[k];
      u /= p.rsize[k];
    }
    acc += g[off];
  }
  r[roff] = acc;
}

__global__ void relu_forward_v1(const float* x, float* y, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i] < 0.f ? 0.f : x[i];
}
__global__ void relu_backward_v1(const float* y, const float* gy, float* gx, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) gx[i] = y[i] <= 0.f ? 0.f : gy[i];
}

unsigned blocks_for(int64_t n, int threads) { return static_cast<unsigned>(n > 0 ? (n + threads - 1) / threads : 1); }

// ---- v3: float4 ------------------------------------------------------------------------------------
__device__ __forceinline__ float4 ld4(const float* p) { return *reinterpret_cast<const float4*>(p); }

template <BinaryKind OP>
__device__ __forceinline__ float4 apply4(float4 a, float4 b) {
  using gcc::kernels::binary_apply;
  return make_float4(binary_apply<OP>(a.x, b.x), binary_apply<OP>(a.y, b.y), binary_apply<OP>(a.z, b.z),
                     binary_apply<OP>(a.w, b.w));
}

template <BinaryKind OP>
__global__ void binary_contiguous_v3(const float* a, const float* b, float* y, int64_t n) {
  const int64_t n4 = n / 4, stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = first; i < n4; i += stride)
    reinterpret_cast<float4*>(y)[i] = apply4<OP>(ld4(a + 4 * i), ld4(b + 4 * i));
  for (int64_t i = 4 * n4 + first; i < n; i += stride) y[i] = gcc::kernels::binary_apply<OP>(a[i], b[i]);
}

// g4: the merged geometry with the innermost size divided by 4 and its strides multiplied by 4; operand
// o has inner stride 1 (float4 load, AV / BV) or 0 (one value for the 4 outputs).
template <BinaryKind OP, bool AV, bool BV>
__global__ void binary_broadcast_v3(const float* a, const float* b, float* y, uint32_t n4, Geometry<2> g4) {
  GCC_CUDA_GRID_STRIDE_LOOP(uint32_t, i, n4) {
    uint32_t off[2];
    gcc::kernels::strided_offsets<uint32_t, 2>(g4, i, off);
    float4 av, bv;
    if (AV) av = ld4(a + off[0]);
    else av = make_float4(a[off[0]], a[off[0]], a[off[0]], a[off[0]]);
    if (BV) bv = ld4(b + off[1]);
    else bv = make_float4(b[off[1]], b[off[1]], b[off[1]], b[off[1]]);
    reinterpret_cast<float4*>(y)[i] = apply4<OP>(av, bv);
  }
}

__global__ void relu_forward_v3(const float* x, float* y, int64_t n) {
  const int64_t n4 = n / 4, stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = first; i < n4; i += stride) {
    const float4 v = ld4(x + 4 * i);
    reinterpret_cast<float4*>(y)[i] = make_float4(v.x < 0.f ? 0.f : v.x, v.y < 0.f ? 0.f : v.y, v.z < 0.f ? 0.f : v.z,
                                                  v.w < 0.f ? 0.f : v.w);
  }
  for (int64_t i = 4 * n4 + first; i < n; i += stride) y[i] = x[i] < 0.f ? 0.f : x[i];
}
__global__ void relu_backward_v3(const float* y, const float* gy, float* gx, int64_t n) {
  const int64_t n4 = n / 4, stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = first; i < n4; i += stride) {
    const float4 v = ld4(y + 4 * i), g = ld4(gy + 4 * i);
    reinterpret_cast<float4*>(gx)[i] = make_float4(v.x <= 0.f ? 0.f : g.x, v.y <= 0.f ? 0.f : g.y,
                                                   v.z <= 0.f ? 0.f : g.z, v.w <= 0.f ? 0.f : g.w);
  }
  for (int64_t i = 4 * n4 + first; i < n; i += stride) gx[i] = y[i] <= 0.f ? 0.f : gy[i];
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// ---- the versions, selectable by number --------------------------------------------------------------
// Returns the path taken (for the check lines).
const char* run_binary(int v, const Launch& l, BinaryKind op, const Dims& sizes, const float* a, const Dims& as,
                       const float* b, const Dims& bs, float* y) {
  const int dims = static_cast<int>(sizes.size());
  const int64_t n = numel(sizes);
  if (v == 1) {
    if (n == 0) return "v1";
    const Pad4 pa = pad4(sizes, as), pb = pad4(sizes, bs);
    gcc::kernels::with_binary_op(op, [&](auto tag) {
      binary_v1<decltype(tag)::value><<<blocks_for(n, l.threads), l.threads, 0, l.stream>>>(a, pa, b, pb, y, n);
    });
    driver::check(gcc::kernels::launched("binary_v1"), "binary v1");
    return "v1";
  }
  if (v == 3 && n > 0) {
    using gcc::kernels::is_row_major;
    if (is_row_major(dims, sizes.data(), as.data()) && is_row_major(dims, sizes.data(), bs.data()) && aligned16(a) &&
        aligned16(b) && aligned16(y)) {
      gcc::kernels::with_binary_op(op, [&](auto tag) {
        binary_contiguous_v3<decltype(tag)::value><<<l.grid_for((n + 3) / 4), l.threads, 0, l.stream>>>(a, b, y, n);
      });
      driver::check(gcc::kernels::launched("binary_contiguous_v3"), "binary v3");
      return "v3 contiguous float4";
    }
    Geometry<2> g;
    const int64_t* const st[2] = {as.data(), bs.data()};
    bool vec = gcc::kernels::make_geometry<2>(dims, sizes.data(), st, g) && gcc::kernels::fits_32bit(g, n) &&
               g.size[3] % 4 == 0 && aligned16(y);
    bool inner[2] = {false, false};
    const float* p[2] = {a, b};
    for (int o = 0; o < 2 && vec; ++o) {
      inner[o] = g.stride[o][3] == 1;
      vec = inner[o] || g.stride[o][3] == 0;
      for (int k = 0; k < 3 && vec && inner[o]; ++k) vec = g.stride[o][k] % 4 == 0;
      vec = vec && (!inner[o] || aligned16(p[o]));
    }
    if (vec) {
      Geometry<2> g4 = g;
      g4.size[3] /= 4;
      for (int o = 0; o < 2; ++o) g4.stride[o][3] *= 4;
      const uint32_t n4 = static_cast<uint32_t>(n / 4);
      const unsigned grid = l.grid_for(n4);
      gcc::kernels::with_binary_op(op, [&](auto tag) {
        constexpr BinaryKind OP = decltype(tag)::value;
        if (inner[0] && inner[1]) binary_broadcast_v3<OP, true, true><<<grid, l.threads, 0, l.stream>>>(a, b, y, n4, g4);
        else if (inner[0]) binary_broadcast_v3<OP, true, false><<<grid, l.threads, 0, l.stream>>>(a, b, y, n4, g4);
        else if (inner[1]) binary_broadcast_v3<OP, false, true><<<grid, l.threads, 0, l.stream>>>(a, b, y, n4, g4);
        else binary_broadcast_v3<OP, false, false><<<grid, l.threads, 0, l.stream>>>(a, b, y, n4, g4);
      });
      driver::check(gcc::kernels::launched("binary_broadcast_v3"), "binary v3");
      return "v3 broadcast float4";
    }
  }
  driver::check(gcc::kernels::binary_forward(l, op, dims, sizes.data(), a, as.data(), b, bs.data(), y), "binary v2");
  return v == 3 ? "v3 = v2 (no float4 path)" : "v2";
}

ReduceV1 reduce_v1_plan(const Dims& sizes, const Dims& gs, const Dims& rs) {
  const Pad4 pg = pad4(sizes, gs), pr = pad4(sizes, rs);
  ReduceV1 p;
  p.m = p.q = 1;
  for (int k = 0; k < 4; ++k) {
    const bool kept = pr.stride[k] != 0 || pg.size[k] == 1;
    p.ksize[k] = kept ? pg.size[k] : 1;
    p.rsize[k] = kept ? 1 : pg.size[k];
    p.gs[k] = pg.stride[k];
    p.rs[k] = pr.stride[k];
    p.m *= p.ksize[k];
    p.q *= p.rsize[k];
  }
  p.overwrite = gcc::kernels::is_row_major(static_cast<int>(sizes.size()), sizes.data(), rs.data());
  return p;
}

void run_reduce(int v, const Launch& l, const Dims& sizes, const float* g, const Dims& gs, float* r, const Dims& rs) {
  if (v == 1) {
    if (numel(sizes) == 0) return;
    const ReduceV1 p = reduce_v1_plan(sizes, gs, rs);
    reduce_v1<<<blocks_for(p.m, l.threads), l.threads, 0, l.stream>>>(g, r, p);
    driver::check(gcc::kernels::launched("reduce_v1"), "reduce v1");
    return;
  }
  driver::check(gcc::kernels::reduce_to_shape(l, static_cast<int>(sizes.size()), sizes.data(), g, gs.data(), r, rs.data()),
                "reduce v2");
}

void run_copy(int v, const Launch& l, const Dims& sizes, float* dst, const float* src, const Dims& ss) {
  const int64_t n = numel(sizes);
  if (v == 1) {
    if (n == 0) return;
    copy_v1<<<blocks_for(n, l.threads), l.threads, 0, l.stream>>>(dst, src, pad4(sizes, ss), n);
    driver::check(gcc::kernels::launched("copy_v1"), "copy v1");
    return;
  }
  driver::check(gcc::kernels::copy_strided(l, static_cast<int>(sizes.size()), sizes.data(), dst, src, ss.data()),
                "copy v2");
}

const char* run_relu(int v, const Launch& l, bool backward, const float* in, const float* gy, float* out, int64_t n) {
  if (v == 1) {
    if (n == 0) return "v1";
    if (backward) relu_backward_v1<<<blocks_for(n, l.threads), l.threads, 0, l.stream>>>(in, gy, out, n);
    else relu_forward_v1<<<blocks_for(n, l.threads), l.threads, 0, l.stream>>>(in, out, n);
    driver::check(gcc::kernels::launched("relu v1"), "relu v1");
    return "v1";
  }
  if (v == 3 && n > 0 && aligned16(in) && aligned16(out) && (!backward || aligned16(gy))) {
    if (backward) relu_backward_v3<<<l.grid_for((n + 3) / 4), l.threads, 0, l.stream>>>(in, gy, out, n);
    else relu_forward_v3<<<l.grid_for((n + 3) / 4), l.threads, 0, l.stream>>>(in, out, n);
    driver::check(gcc::kernels::launched("relu v3"), "relu v3");
    return "v3 float4";
  }
  if (backward) driver::check(gcc::kernels::relu_backward(l, in, gy, out, n), "relu_backward v2");
  else driver::check(gcc::kernels::relu_forward(l, in, out, n), "relu_forward v2");
  return v == 3 ? "v3 = v2 (misaligned)" : "v2";
}

// ---- launch shapes ---------------------------------------------------------------------------------------
struct LaunchShape {
  Launch l;
  std::string name;
};
std::vector<LaunchShape> launch_shapes() {
  std::vector<LaunchShape> out;
  for (int threads : {128, 256, 1024}) out.push_back({gcc::kernels::launch_on(nullptr, threads), "block " + std::to_string(threads)});
  Launch one = gcc::kernels::launch_on(nullptr, 256);
  one.sm_count = 1;  // at most 8 blocks: every grid-stride loop goes round
  out.push_back({one, "block 256 sm 1"});
  return out;
}

// ---- checks ----------------------------------------------------------------------------------------------
// A binary case: y's shape, the operands' strides and offsets into their buffers (elements).
struct BinaryCase {
  std::string name;
  Dims sizes, as, bs;
  int64_t a_base = 0, b_base = 0;
};

std::vector<BinaryCase> binary_cases() {
  std::vector<BinaryCase> c;
  auto rm = [](const Dims& s) { return row_major(s); };
  c.push_back({"[2,3,5,7] op [3,1,1]", {2, 3, 5, 7}, rm({2, 3, 5, 7}), {0, 1, 0, 0}});
  c.push_back({"[4,8,4,4] op [8,1,1]", {4, 8, 4, 4}, rm({4, 8, 4, 4}), {0, 1, 0, 0}});
  c.push_back({"[16,64,8,8] op [64,1,1]", {16, 64, 8, 8}, rm({16, 64, 8, 8}), {0, 1, 0, 0}});
  c.push_back({"[3,1,1] op [2,3,5,6] (a broadcast)", {2, 3, 5, 6}, {0, 1, 0, 0}, rm({2, 3, 5, 6})});
  c.push_back({"[3,1,1] op [2,3,4,6] (a broadcast)", {2, 3, 4, 6}, {0, 1, 0, 0}, rm({2, 3, 4, 6})});
  c.push_back({"[6,128] op [128]", {6, 128}, rm({6, 128}), {0, 1}});
  c.push_back({"[6,130] op [6,1]", {6, 130}, rm({6, 130}), {1, 0}});
  c.push_back({"[37,33] op scalar", {37, 33}, rm({37, 33}), {0, 0}});
  c.push_back({"[8,12] op scalar", {8, 12}, rm({8, 12}), {0, 0}});
  c.push_back({"[4,1] op [4,1] expanded to [4,8]", {4, 8}, {1, 0}, {1, 0}});
  c.push_back({"[33,17]^T op [17,33]", {17, 33}, {1, 17}, rm({17, 33})});
  c.push_back({"[8,64] op [64] misaligned a", {8, 64}, rm({8, 64}), {0, 1}, 1, 0});
  c.push_back({"[1] op [1]", {1}, {1}, {1}});
  c.push_back({"[3,5,7,9] op [3,5,7,9]", {3, 5, 7, 9}, rm({3, 5, 7, 9}), rm({3, 5, 7, 9})});
  c.push_back({"[1536,128] op [1536,128]", {1536, 128}, rm({1536, 128}), rm({1536, 128})});
  c.push_back({"[2,1,3,1] op [1,1,3,1] (size-1 dims)", {2, 1, 3, 1}, {3, 7, 1, 5}, {0, 0, 1, 0}});
  return c;
}

// The four ops of version v on case c, one check line (the ops' outputs side by side, exact).
bool check_binary(int v, const LaunchShape& ls, const BinaryCase& c) {
  driver::Rng rng(17 + static_cast<uint64_t>(numel(c.sizes)));
  const std::vector<float> a = driver::random_vector(c.a_base + extent(c.sizes, c.as), rng);
  const std::vector<float> b = driver::random_vector(c.b_base + extent(c.sizes, c.bs), rng);
  driver::Buffer<float> da(a), db(b), dy(numel(c.sizes));
  std::vector<float> ref, got;
  const char* path = "";
  for (BinaryKind op : kBinaryOps) {
    path = run_binary(v, ls.l, op, c.sizes, da.get() + c.a_base, c.as, db.get() + c.b_base, c.bs, dy.get());
    const std::vector<float> r = binary_cpu(op, c.sizes, a, c.a_base, c.as, b, c.b_base, c.bs), y = dy.download();
    ref.insert(ref.end(), r.begin(), r.end());
    got.insert(got.end(), y.begin(), y.end());
  }
  const std::string what = "binary " + std::string(path) + " " + ls.name + " " + c.name;
  return driver::compare(what.c_str(), ref, got, 0.0, 0.0);
}

struct ReduceCase {
  std::string name;
  Dims sizes, gs, rs;
};

std::vector<ReduceCase> reduce_cases() {
  std::vector<ReduceCase> c;
  auto rm = [](const Dims& s) { return row_major(s); };
  c.push_back({"[8,64,16,16] -> [64] (bias)", {8, 64, 16, 16}, rm({8, 64, 16, 16}), {0, 1, 0, 0}});
  c.push_back({"[256,8,4,4] -> [8] (bias)", {256, 8, 4, 4}, rm({256, 8, 4, 4}), {0, 1, 0, 0}});
  c.push_back({"[3,5,7,9] -> [5,1,1]", {3, 5, 7, 9}, rm({3, 5, 7, 9}), {0, 1, 0, 0}});
  c.push_back({"[1536,128] -> [128]", {1536, 128}, rm({1536, 128}), {0, 1}});
  c.push_back({"[37,1000] -> [37,1]", {37, 1000}, rm({37, 1000}), {1, 0}});
  c.push_back({"[5,6,7] -> [1] (all)", {5, 6, 7}, rm({5, 6, 7}), {0, 0, 0}});
  c.push_back({"[65,33] (transposed g) -> [33]", {65, 33}, {1, 65}, {0, 1}});
  c.push_back({"[3,7] -> [7] (q <= 32)", {3, 7}, rm({3, 7}), {0, 1}});
  c.push_back({"[2,3,4,5] -> [1,3,1,5]", {2, 3, 4, 5}, rm({2, 3, 4, 5}), {0, 5, 0, 1}});
  c.push_back({"[40,8200] -> [8200] (m >= 8192)", {40, 8200}, rm({40, 8200}), {0, 1}});
  c.push_back({"[4,6] -> [4,6] (overwrite)", {4, 6}, rm({4, 6}), rm({4, 6})});
  c.push_back({"[1] -> [1]", {1}, {1}, {1}});
  c.push_back({"[1,9,1] -> [9] (size-1 dims)", {1, 9, 1}, {9, 1, 1}, {0, 1, 0}});
  return c;
}

bool check_reduce(int v, const LaunchShape& ls, const ReduceCase& c) {
  driver::Rng rng(29 + static_cast<uint64_t>(numel(c.sizes)));
  const std::vector<float> g = driver::random_vector(extent(c.sizes, c.gs), rng);
  std::vector<float> r = driver::random_vector(extent(c.sizes, c.rs), rng);  // r += ...: start from non-zero r
  driver::Buffer<float> dg(g), dr(r);
  run_reduce(v, ls.l, c.sizes, dg.get(), c.gs, dr.get(), c.rs);
  // Tolerance: 0 where the terms are added in the CPU's order, else 1e-6 x (|r| + sum |terms|).
  const int dims = static_cast<int>(c.sizes.size());
  gcc::kernels::ReducePlan plan;
  gcc::kernels::make_reduce_plan(dims, c.sizes.data(), c.gs.data(), c.rs.data(), plan);
  const bool exact = v == 1 || gcc::kernels::reduce_uses_thread_kernel(plan);
  std::vector<double> mass(r.size());
  for (std::size_t i = 0; i < r.size(); ++i) mass[i] = std::fabs(r[i]);
  const std::vector<float> gc = gather(g, 0, c.sizes, c.gs);
  for_each_offset(c.sizes, c.rs, [&](int64_t k, int64_t off) { mass[off] += std::fabs(gc[k]); });
  double worst = 0.0;
  for (double m : mass) worst = std::max(worst, m);
  reduce_cpu(c.sizes, g, 0, c.gs, r, c.rs);
  const std::string what = "reduce v" + std::to_string(v) + (v == 2 ? (exact ? "(thread)" : "(block)") : "") + " " +
                           ls.name + " " + c.name;
  return driver::compare(what.c_str(), r, dr.download(), exact ? 0.0 : 1e-6 * worst, 0.0);
}

struct CopyCase {
  std::string name;
  Dims sizes, ss;
  int64_t base = 0;
};

std::vector<CopyCase> copy_cases() {
  std::vector<CopyCase> c;
  c.push_back({"[33,17]^T", {17, 33}, {1, 17}});
  c.push_back({"[1536,128]^T", {128, 1536}, {1, 128}});
  c.push_back({"[2,3,5,7] NCHW -> NHWC", {2, 5, 7, 3}, {105, 7, 1, 35}});
  c.push_back({"[20,16] columns 3..9", {20, 7}, {16, 1}, 3});
  c.push_back({"[5] expanded to [4,5]", {4, 5}, {0, 1}});
  c.push_back({"[3,5,7] contiguous (memcpy)", {3, 5, 7}, row_major({3, 5, 7})});
  c.push_back({"[1]", {1}, {1}});
  return c;
}

bool check_copy(int v, const LaunchShape& ls, const CopyCase& c) {
  driver::Rng rng(31);
  const std::vector<float> x = driver::random_vector(c.base + extent(c.sizes, c.ss), rng);
  driver::Buffer<float> dx(x), dy(numel(c.sizes));
  run_copy(v, ls.l, c.sizes, dy.get(), dx.get() + c.base, c.ss);
  const std::string what = "copy v" + std::to_string(v) + " " + ls.name + " " + c.name;
  return driver::compare(what.c_str(), gather(x, c.base, c.sizes, c.ss), dy.download(), 0.0, 0.0);
}

// relu forward and backward on n elements with 0, -0, NaN and infinities among them (exact).
bool check_relu(int v, const LaunchShape& ls, int64_t n) {
  driver::Rng rng(37 + static_cast<uint64_t>(n));
  std::vector<float> x = driver::random_vector(n, rng), gy = driver::random_vector(n, rng);
  const float special[] = {0.f, -0.f, NAN, INFINITY, -INFINITY};
  for (std::size_t i = 0; i < 5 && static_cast<int64_t>(i * 7) < n; ++i) x[i * 7] = special[i];
  driver::Buffer<float> dx(x), dgy(gy), dy(n), dgx(n);
  const char* path = run_relu(v, ls.l, false, dx.get(), nullptr, dy.get(), n);
  std::vector<float> y(n), gx(n);
  for (int64_t i = 0; i < n; ++i) y[i] = relu_cpu(x[i]);
  std::string what = "relu_forward " + std::string(path) + " " + ls.name + " n " + std::to_string(n);
  bool ok = driver::compare(what.c_str(), y, dy.download(), 0.0, 0.0);
  run_relu(v, ls.l, true, dy.get(), dgy.get(), dgx.get(), n);
  for (int64_t i = 0; i < n; ++i) gx[i] = relu_grad_cpu(y[i], gy[i]);
  what = "relu_backward " + std::string(path) + " " + ls.name + " n " + std::to_string(n);
  return driver::compare(what.c_str(), gx, dgx.download(), 0.0, 0.0) && ok;
}

// The library's unary ops (v2 only): forward and backward of each op.
bool check_unary(const LaunchShape& ls, int64_t n) {
  struct Op {
    UnaryKind k;
    const char* name;
    float s, fwd_rtol, bwd_rtol;
  };
  const Op ops[] = {{UnaryKind::Exp, "exp", 0.f, 1e-6f, 0.f},        {UnaryKind::Log, "log", 0.f, 1e-6f, 0.f},
                    {UnaryKind::AddScalar, "add 0.3", 0.3f, 0.f, 0.f}, {UnaryKind::MulScalar, "mul -1.7", -1.7f, 0.f, 0.f},
                    {UnaryKind::PowScalar, "pow 1.7", 1.7f, 2e-6f, 2e-6f}};
  driver::Rng rng(41 + static_cast<uint64_t>(n));
  const std::vector<float> x = driver::random_vector(n, rng, 0.05f, 3.f), gy = driver::random_vector(n, rng);
  driver::Buffer<float> dx(x), dgy(gy), dy(n), dgx(n);
  bool ok = true;
  for (const Op& op : ops) {
    driver::check(gcc::kernels::unary_forward(ls.l, op.k, op.s, dx.get(), dy.get(), n), "unary_forward");
    std::vector<float> y(n), gx(n);
    for (int64_t i = 0; i < n; ++i) y[i] = unary_cpu(op.k, op.s, x[i]);
    std::string what = std::string("unary_forward ") + op.name + " v2 " + ls.name + " n " + std::to_string(n);
    ok = driver::compare(what.c_str(), y, dy.download(), 0.0, op.fwd_rtol) && ok;
    dy.upload(y);  // the backward gets the CPU's y: its derivative then needs no transcendental but pow's
    driver::check(gcc::kernels::unary_backward(ls.l, op.k, op.s, dx.get(), dy.get(), dgy.get(), dgx.get(), n),
                  "unary_backward");
    for (int64_t i = 0; i < n; ++i) gx[i] = unary_grad_cpu(op.k, op.s, x[i], y[i], gy[i]);
    what = std::string("unary_backward ") + op.name + " v2 " + ls.name + " n " + std::to_string(n);
    ok = driver::compare(what.c_str(), gx, dgx.download(), 0.0, op.bwd_rtol) && ok;
  }
  return ok;
}

// The library's y += x (contiguous and strided x) and fill (memset path, kernel path, -0, strided).
bool check_add_and_fill(const LaunchShape& ls) {
  bool ok = true;
  driver::Rng rng(43);
  for (const CopyCase& c : {CopyCase{"[33,17]^T", {17, 33}, {1, 17}}, CopyCase{"[3,5,7]", {3, 5, 7}, row_major({3, 5, 7})},
                            CopyCase{"[1]", {1}, {1}}}) {
    const std::vector<float> x = driver::random_vector(extent(c.sizes, c.ss), rng);
    std::vector<float> y = driver::random_vector(numel(c.sizes), rng);
    driver::Buffer<float> dx(x), dy(y);
    driver::check(gcc::kernels::add_inplace(ls.l, static_cast<int>(c.sizes.size()), c.sizes.data(), dy.get(), dx.get(),
                                            c.ss.data()),
                  "add_inplace");
    const std::vector<float> xv = gather(x, 0, c.sizes, c.ss);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = y[i] + xv[i];
    const std::string what = "add_inplace v2 " + ls.name + " " + c.name;
    ok = driver::compare(what.c_str(), y, dy.download(), 0.0, 0.0) && ok;
  }
  struct FillCase {
    std::string name;
    Dims sizes, ts;
    float v;
  };
  for (const FillCase& c : {FillCase{"+0 [37,41] (memset)", {37, 41}, row_major({37, 41}), 0.f},
                            FillCase{"1.5 [37,41]", {37, 41}, row_major({37, 41}), 1.5f},
                            FillCase{"-0 [37,41]", {37, 41}, row_major({37, 41}), -0.f},
                            FillCase{"2.5 [9,20] every other column", {9, 10}, {20, 2}, 2.5f},
                            FillCase{"+0 [9,20] every other column", {9, 10}, {20, 2}, 0.f}}) {
    std::vector<float> t = driver::random_vector(extent(c.sizes, c.ts), rng);
    driver::Buffer<float> dt(t);
    driver::check(gcc::kernels::fill(ls.l, static_cast<int>(c.sizes.size()), c.sizes.data(), dt.get(), c.ts.data(), c.v),
                  "fill");
    for_each_offset(c.sizes, c.ts, [&](int64_t, int64_t off) { t[off] = c.v; });
    const std::vector<float> got = dt.download();
    const std::string what = "fill v2 " + ls.name + " " + c.name;
    bool same_bits = true;  // compare() cannot tell -0 from +0
    for (std::size_t i = 0; i < t.size(); ++i) same_bits = same_bits && std::signbit(t[i]) == std::signbit(got[i]);
    ok = driver::compare(what.c_str(), t, got, 0.0, 0.0) && same_bits && ok;
    if (!same_bits) std::printf("  check %-44s FAIL  sign of zero differs\n", what.c_str());
  }
  return ok;
}

// The library's 64-bit index paths: an operand whose offsets pass 2^31 (needs an 8.6 GB buffer, of
// which 16 elements are touched; skipped when the card cannot allocate it).
bool check_int64_paths(const Launch& l) {
  const int64_t big = int64_t{1} << 31;
  float* buf = nullptr;
  if (cudaMalloc(&buf, static_cast<std::size_t>(big + 8) * sizeof(float)) != cudaSuccess) {
    (void)cudaGetLastError();
    std::printf("  skip  64-bit index paths: no 8.6 GB buffer on this card\n");
    return true;
  }
  driver::Rng rng(47);
  const std::vector<float> lo = driver::random_vector(4, rng), hi = driver::random_vector(4, rng);
  const std::vector<float> b = driver::random_vector(8, rng), y0 = driver::random_vector(8, rng);
  DRIVER_CUDA_CHECK(cudaMemcpy(buf, lo.data(), 4 * sizeof(float), cudaMemcpyHostToDevice));
  DRIVER_CUDA_CHECK(cudaMemcpy(buf + big, hi.data(), 4 * sizeof(float), cudaMemcpyHostToDevice));
  const Dims sizes = {2, 4}, xs = {big, 1}, rm = {4, 1};
  std::vector<float> x(lo);
  x.insert(x.end(), hi.begin(), hi.end());
  driver::Buffer<float> db(b), dy(8);
  bool ok = true;
  driver::check(gcc::kernels::binary_forward(l, BinaryKind::Sub, 2, sizes.data(), buf, xs.data(), db.get(), rm.data(),
                                             dy.get()),
                "binary int64");
  std::vector<float> ref(8);
  for (int i = 0; i < 8; ++i) ref[i] = x[i] - b[i];
  ok = driver::compare("binary_strided int64 (offsets past 2^31)", ref, dy.download(), 0.0, 0.0) && ok;
  driver::check(gcc::kernels::copy_strided(l, 2, sizes.data(), dy.get(), buf, xs.data()), "copy int64");
  ok = driver::compare("copy_strided int64", x, dy.download(), 0.0, 0.0) && ok;
  dy.upload(y0);
  driver::check(gcc::kernels::add_inplace(l, 2, sizes.data(), dy.get(), buf, xs.data()), "add_inplace int64");
  for (int i = 0; i < 8; ++i) ref[i] = y0[i] + x[i];
  ok = driver::compare("add_inplace int64", ref, dy.download(), 0.0, 0.0) && ok;
  driver::check(gcc::kernels::fill(l, 2, sizes.data(), buf, xs.data(), 2.5f), "fill int64");
  std::vector<float> got(8);
  DRIVER_CUDA_CHECK(cudaDeviceSynchronize());
  DRIVER_CUDA_CHECK(cudaMemcpy(got.data(), buf, 4 * sizeof(float), cudaMemcpyDeviceToHost));
  DRIVER_CUDA_CHECK(cudaMemcpy(got.data() + 4, buf + big, 4 * sizeof(float), cudaMemcpyDeviceToHost));
  ok = driver::compare("fill int64", std::vector<float>(8, 2.5f), got, 0.0, 0.0) && ok;
  DRIVER_CUDA_CHECK(cudaFree(buf));
  return ok;
}

// ---- timing ------------------------------------------------------------------------------------------------
struct Act {
  int64_t N, C, H, W;
};
const Act kActivations[] = {{256, 64, 32, 32}, {256, 128, 16, 16}, {256, 256, 8, 8}, {256, 512, 4, 4}};
const int64_t kRowWidths[] = {128, 512};  // phase 2: 1536 rows of 128-d embeddings / 512-d features
constexpr int64_t kRows = 1536;

void time_all(const driver::Args& args, const driver::Card& card) {
  auto timing = [&](int v, int threads, const std::string& what, const std::string& shape, double bytes, auto&& fn) {
    const double ms = driver::time_ms(nullptr, args.repeat, fn);
    const std::string version = what + " v" + std::to_string(v) + " b" + std::to_string(threads);
    driver::print_timing(card, version.c_str(), shape.c_str(), ms, bytes, 0.0);
  };
  // Every binary / reduce shape: y's sizes, a row-major, b broadcast (its strides), r's strides.
  struct Case {
    std::string name;
    Dims sizes, bs;
  };
  std::vector<Case> cases;
  for (const Act& a : kActivations)
    cases.push_back({str({a.N, a.C, a.H, a.W}) + " & [C,1,1]", {a.N, a.C, a.H, a.W}, {0, 1, 0, 0}});
  for (int64_t d : kRowWidths) cases.push_back({str({kRows, d}) + " & [D]", {kRows, d}, {0, 1}});
  std::printf("timing (median of %d calls):\n", args.repeat);
  std::printf(" binary add, broadcast (y = a + b[c]) and contiguous (y = a + b): 8 / 12 bytes per element\n");
  for (const Case& c : cases) {
    const int64_t n = numel(c.sizes);
    driver::Rng rng(5);
    driver::Buffer<float> a(driver::random_vector(n, rng)), b(driver::random_vector(n, rng)), y(n);
    const Dims rm = row_major(c.sizes);
    for (int v = 1; v <= 3; ++v) {
      if (!driver::wanted(args, v)) continue;
      for (int threads : {128, 256, 512}) {
        const Launch l = gcc::kernels::launch_on(nullptr, threads);
        timing(v, threads, "bcast", c.name, 8.0 * n, [&] { run_binary(v, l, BinaryKind::Add, c.sizes, a.get(), rm, b.get(), c.bs, y.get()); });
        timing(v, threads, "contig", str(c.sizes), 12.0 * n, [&] { run_binary(v, l, BinaryKind::Add, c.sizes, a.get(), rm, b.get(), rm, y.get()); });
      }
    }
  }
  std::printf(" reduce_to_shape (bias gradient: sum over all dims but C / D): 4 bytes per element\n");
  for (const Case& c : cases) {
    const int64_t n = numel(c.sizes);
    driver::Rng rng(6);
    driver::Buffer<float> g(driver::random_vector(n, rng)), r(c.sizes[1]);  // r: [C] or [D]
    const Dims rm = row_major(c.sizes);
    for (int v = 1; v <= 2; ++v) {
      if (!driver::wanted(args, v)) continue;
      for (int threads : {128, 256, 512}) {
        if (v == 1 && threads != 256) continue;  // v1: C threads in all, each summing up to 262,144 terms (slow)
        const Launch l = gcc::kernels::launch_on(nullptr, threads);
        timing(v, threads, "reduce", c.name, 4.0 * n, [&] { run_reduce(v, l, c.sizes, g.get(), rm, r.get(), c.bs); });
      }
    }
  }
  std::printf(" relu forward / backward: 8 / 12 bytes per element\n");
  for (const Act& a : kActivations) {
    const int64_t n = a.N * a.C * a.H * a.W;
    driver::Rng rng(7);
    driver::Buffer<float> x(driver::random_vector(n, rng)), gy(driver::random_vector(n, rng)), y(n), gx(n);
    for (int v = 1; v <= 3; ++v) {
      if (!driver::wanted(args, v)) continue;
      for (int threads : {128, 256, 512}) {
        const Launch l = gcc::kernels::launch_on(nullptr, threads);
        const std::string shape = str({a.N, a.C, a.H, a.W});
        timing(v, threads, "relu fwd", shape, 8.0 * n, [&] { run_relu(v, l, false, x.get(), nullptr, y.get(), n); });
        timing(v, threads, "relu bwd", shape, 12.0 * n, [&] { run_relu(v, l, true, x.get(), gy.get(), gx.get(), n); });
      }
    }
  }
  std::printf(" copy_strided (transposes): 8 bytes per element\n");
  std::vector<CopyCase> copies;
  for (int64_t d : kRowWidths) copies.push_back({str({kRows, d}) + "^T", {d, kRows}, {1, d}});
  copies.push_back({"[256,64,1024] -> [64,256,1024]", {64, 256, 1024}, {1024, 65536, 1}});
  for (const CopyCase& c : copies) {
    const int64_t n = numel(c.sizes);
    driver::Rng rng(8);
    driver::Buffer<float> x(driver::random_vector(n, rng)), y(n);
    for (int v = 1; v <= 2; ++v) {
      if (!driver::wanted(args, v)) continue;
      for (int threads : {128, 256, 512}) {
        const Launch l = gcc::kernels::launch_on(nullptr, threads);
        timing(v, threads, "copy", c.name, 8.0 * n, [&] { run_copy(v, l, c.sizes, y.get(), x.get(), c.ss); });
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const driver::Args args = driver::parse_args(argc, argv, 3,
      "elementwise: binary ops with broadcasting, reduce_to_shape, unary ops, y += x, strided copy, fill\n"
      "(gcc/kernels/elementwise.cuh) and relu (gcc/kernels/activation.cuh): versions 1-3 checked against the\n"
      "CPU and timed over GCC's shapes (v3 covers the binary ops and relu only)");
  if (!driver::gpu_present("elementwise")) return 1;
  const driver::Card card = driver::card();
  driver::print_card(card, "elementwise");
  bool ok = true;
  std::printf("correctness (against the CPU reference):\n");
  const std::vector<LaunchShape> shapes = launch_shapes();
  for (int v = 1; v <= 3; ++v) {
    if (!driver::wanted(args, v)) continue;
    for (const LaunchShape& ls : shapes) {
      for (const BinaryCase& c : binary_cases()) ok = check_binary(v, ls, c) && ok;
      for (int64_t n : {int64_t{1}, int64_t{37}, int64_t{4099}, int64_t{1} << 20}) ok = check_relu(v, ls, n) && ok;
      if (v == 3) continue;  // v3 has no reduce / copy kernels
      for (const ReduceCase& c : reduce_cases()) ok = check_reduce(v, ls, c) && ok;
      for (const CopyCase& c : copy_cases()) ok = check_copy(v, ls, c) && ok;
      if (v != 2) continue;  // the rest of the family exists only as the library's launchers
      for (int64_t n : {int64_t{1}, int64_t{4099}, int64_t{100003}}) ok = check_unary(ls, n) && ok;
      ok = check_add_and_fill(ls) && ok;
    }
    if (v == 2) ok = check_int64_paths(shapes[1].l) && ok;
  }
  if (!args.check_only) time_all(args, card);
  std::printf(ok ? "elementwise: every check passed\n" : "elementwise: CHECKS FAILED\n");
  return ok ? 0 : 1;
}
