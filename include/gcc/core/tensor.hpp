// Tensor: float32, up to 4-D, shape and strides over shared storage on a device (CPU or CUDA).
// Copies of a Tensor share memory and autograd state (handle semantics); clone() copies the data.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "device.hpp"
#include "error.hpp"

namespace gcc {

constexpr int kMaxDims = 4;

// Shape of up to 4 dimensions; dims() == 0 is a scalar with one element.
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }

  int dims() const { return nd_; }
  int64_t operator[](int i) const {
    GCC_CHECK(i >= 0 && i < nd_, "Shape: dimension ", i, " out of range for shape ", str());
    return d_[i];
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < nd_; ++i) n *= d_[i];
    return n;
  }
  bool operator==(const Shape& o) const {
    if (nd_ != o.nd_) return false;
    for (int i = 0; i < nd_; ++i)
      if (d_[i] != o.d_[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const {
    std::ostringstream os;
    os << "[";
    for (int i = 0; i < nd_; ++i) os << (i ? ", " : "") << d_[i];
    os << "]";
    return os.str();
  }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(d_, d_ + nd_); }

 private:
  template <typename It>
  void assign(It b, It e) {
    nd_ = 0;
    for (It it = b; it != e; ++it) {
      GCC_CHECK(nd_ < kMaxDims, "Shape: at most ", kMaxDims, " dimensions are supported");
      GCC_CHECK(*it >= 0, "Shape: negative dimension ", *it);
      d_[nd_++] = *it;
    }
  }
  int64_t d_[kMaxDims] = {0, 0, 0, 0};
  int nd_ = 0;
};

// A block of device memory, freed by the allocator that made it.
struct Storage {
  float* data = nullptr;
  std::size_t numel = 0;
  Device device;
  DeviceAllocator alloc;

  Storage(std::size_t n, Device d) : numel(n), device(d), alloc(allocator_for(d)) {
    data = alloc.allocate(n, d.index);
  }
  ~Storage() {
    if (data) alloc.release(data, device.index);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

// Copies between devices; the CUDA backend fills this in (host<->device, device<->device).
using CopyFn = void (*)(float* dst, Device dst_dev, const float* src, Device src_dev, std::size_t n);
inline CopyFn& cuda_copy_hook() {
  static CopyFn fn = nullptr;
  return fn;
}
class Tensor;
// Same-device strided gather (dst contiguous) and fill, registered by the CUDA backend.
using StridedCopyFn = void (*)(const Tensor& dst, const Tensor& src);
inline StridedCopyFn& cuda_strided_copy_hook() {
  static StridedCopyFn fn = nullptr;
  return fn;
}
using FillFn = void (*)(const Tensor& t, float v);
inline FillFn& cuda_fill_hook() {
  static FillFn fn = nullptr;
  return fn;
}

class Tensor;
namespace detail {
struct AutogradMeta;
}

class Tensor {
 public:
  Tensor() = default;

  // ---- construction -------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, Device dev = Device::cpu()) {
    Tensor t;
    t.storage_ = std::make_shared<Storage>(static_cast<std::size_t>(shape.numel()), dev);
    t.shape_ = shape;
    t.set_contiguous_strides();
    return t;
  }
  static Tensor full(const Shape& shape, float value, Device dev = Device::cpu());
  static Tensor zeros(const Shape& shape, Device dev = Device::cpu()) { return full(shape, 0.f, dev); }
  static Tensor ones(const Shape& shape, Device dev = Device::cpu()) { return full(shape, 1.f, dev); }
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape) {
    GCC_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from_vector: ",
              values.size(), " values do not fill shape ", shape.str(), " (", shape.numel(),
              " elements)");
    Tensor t = empty(shape);
    if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
    return t;
  }
  static Tensor scalar(float v) { return from_vector({v}, Shape{}); }

  // ---- shape --------------------------------------------------------------------------------
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int dims() const { return shape_.dims(); }
  int64_t size(int i) const { return shape_[i < 0 ? i + dims() : i]; }
  int64_t numel() const { return shape_.numel(); }
  int64_t stride(int i) const {
    GCC_CHECK(i >= 0 && i < dims(), "Tensor::stride: dimension ", i, " out of range for ", shape_.str());
    return strides_[i];
  }
  bool is_contiguous() const {
    int64_t expect = 1;
    for (int i = dims() - 1; i >= 0; --i) {
      if (shape_[i] != 1 && strides_[i] != expect) return false;
      expect *= shape_[i];
    }
    return true;
  }
  Device device() const { return storage_ ? storage_->device : Device::cpu(); }

  // ---- raw data -----------------------------------------------------------------------------
  float* data() const {
    GCC_CHECK(defined(), "Tensor::data: the tensor is undefined (default-constructed)");
    return storage_->data + offset_;
  }
  // Element access for tests and small host code (CPU, any strides).
  float& at(std::initializer_list<int64_t> idx) const {
    GCC_CHECK(device().is_cpu(), "Tensor::at: element access needs a CPU tensor, this one is on ",
              device().str(), "; call .to(Device::cpu()) first");
    GCC_CHECK(static_cast<int>(idx.size()) == dims(), "Tensor::at: ", idx.size(),
              " indices for a tensor of shape ", shape_.str());
    int64_t off = 0;
    int i = 0;
    for (int64_t v : idx) {
      GCC_CHECK(v >= 0 && v < shape_[i], "Tensor::at: index ", v, " out of range in dimension ", i,
                " of shape ", shape_.str());
      off += v * strides_[i++];
    }
    return data()[off];
  }
  std::vector<float> to_vector() const {
    Tensor c = contiguous().to(Device::cpu());
    return std::vector<float>(c.data(), c.data() + c.numel());
  }
  float item() const {
    GCC_CHECK(numel() == 1, "Tensor::item: needs exactly one element, shape is ", shape_.str());
    return to_vector()[0];
  }

  // ---- views and copies: not recorded by autograd, the result carries no history --------------
  // (ops/shape.hpp has the differentiable reshape, slice and concat)
  // Same storage, new shape; needs a contiguous tensor.
  Tensor view(const Shape& shape) const {
    GCC_CHECK(shape.numel() == numel(), "Tensor::view: cannot view shape ", shape_.str(), " as ",
              shape.str(), " (element counts differ)");
    GCC_CHECK(is_contiguous(), "Tensor::view: tensor of shape ", shape_.str(),
              " is not contiguous; call .contiguous() first");
    Tensor t = raw_alias();
    t.shape_ = shape;
    t.set_contiguous_strides();
    return t;
  }
  // Rows [begin, end) of dimension 0, sharing storage.
  Tensor narrow0(int64_t begin, int64_t end) const {
    GCC_CHECK(dims() >= 1, "Tensor::narrow0: needs at least one dimension, shape is ", shape_.str());
    GCC_CHECK(0 <= begin && begin <= end && end <= shape_[0], "Tensor::narrow0: rows [", begin, ", ",
              end, ") out of range for shape ", shape_.str());
    Tensor t = raw_alias();
    std::vector<int64_t> d = shape_.vec();
    d[0] = end - begin;
    t.shape_ = Shape(d);
    t.offset_ = offset_ + static_cast<std::size_t>(begin * strides_[0]);
    return t;
  }
  // Swap two dimensions (a strided view).
  Tensor transpose(int a, int b) const {
    GCC_CHECK(a >= 0 && a < dims() && b >= 0 && b < dims(), "Tensor::transpose: dimensions ", a,
              " and ", b, " out of range for shape ", shape_.str());
    Tensor t = raw_alias();
    std::vector<int64_t> d = shape_.vec();
    std::swap(d[a], d[b]);
    t.shape_ = Shape(d);
    std::swap(t.strides_[a], t.strides_[b]);
    return t;
  }
  // Broadcast view to `shape` (NumPy rules, aligned on the right): size-1 or missing dimensions get
  // stride 0. Writing through an expanded view is undefined; read only.
  Tensor expand(const Shape& shape) const {
    GCC_CHECK(shape.dims() >= dims(), "Tensor::expand: cannot expand shape ", shape_.str(), " to ",
              shape.str(), " (fewer dimensions)");
    Tensor t = raw_alias();
    t.shape_ = shape;
    const int lead = shape.dims() - dims();
    for (int i = 0; i < shape.dims(); ++i) {
      if (i < lead) {
        t.strides_[i] = 0;
        continue;
      }
      const int64_t have = shape_[i - lead];
      GCC_CHECK(have == shape[i] || have == 1, "Tensor::expand: cannot broadcast shape ",
                shape_.str(), " to ", shape.str(), " (dimension ", i, ": ", have, " vs ", shape[i], ")");
      t.strides_[i] = have == shape[i] ? strides_[i - lead] : 0;
    }
    return t;
  }
  Tensor contiguous() const { return is_contiguous() ? *this : clone(); }
  // A new tensor with its own memory and the same values (on the same device, contiguous).
  Tensor clone() const { return to(device(), /*force_copy=*/true); }
  // Copy to a device (a no-op returning *this when already there, unless force_copy).
  Tensor to(Device dev, bool force_copy = false) const;
  // Copy the values of src (same number of elements) into this tensor's memory.
  void copy_from(const Tensor& src) const;
  void fill(float v) const;

  // ---- autograd (defined in autograd/tape.hpp, which the end of this header includes) -----------
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on);
  Tensor grad() const;                  // undefined until a backward pass reaches this tensor
  void zero_grad() const;               // drop the accumulated gradient
  void backward() const;                // d(this)/d(leaves); this must hold one element
  void backward(const Tensor& grad_output) const;
  void retain_grad() const;             // keep the gradient of a non-leaf tensor after backward
  Tensor detach() const { return raw_alias(); }  // same data, no autograd history
  const std::string& name() const;
  Tensor& set_name(const std::string& n);

  std::shared_ptr<detail::AutogradMeta>& meta() const { return meta_; }
  bool same_storage(const Tensor& o) const { return storage_ == o.storage_; }

 private:
  Tensor raw_alias() const {
    Tensor t;
    t.storage_ = storage_;
    t.shape_ = shape_;
    std::copy(strides_, strides_ + kMaxDims, t.strides_);
    t.offset_ = offset_;
    return t;  // views made here carry no autograd history

  }
  void set_contiguous_strides() {
    int64_t s = 1;
    for (int i = shape_.dims() - 1; i >= 0; --i) {
      strides_[i] = s;
      s *= shape_[i];
    }
  }

  std::shared_ptr<Storage> storage_;
  Shape shape_;
  int64_t strides_[kMaxDims] = {0, 0, 0, 0};
  std::size_t offset_ = 0;
  mutable std::shared_ptr<detail::AutogradMeta> meta_;
};

// ---- implementations that need the full class --------------------------------------------------
namespace detail {
// Visit every element of a (possibly strided) 4-D-or-less CPU tensor in row-major order.
template <typename F>
void for_each_offset(const Tensor& t, F&& f) {
  int64_t d[kMaxDims] = {1, 1, 1, 1}, s[kMaxDims] = {0, 0, 0, 0};
  int nd = t.dims();
  for (int i = 0; i < nd; ++i) {
    d[kMaxDims - nd + i] = t.size(i);
    s[kMaxDims - nd + i] = t.stride(i);
  }
  int64_t k = 0;
  for (int64_t a = 0; a < d[0]; ++a)
    for (int64_t b = 0; b < d[1]; ++b)
      for (int64_t c = 0; c < d[2]; ++c)
        for (int64_t e = 0; e < d[3]; ++e) f(k++, a * s[0] + b * s[1] + c * s[2] + e * s[3]);
}
}  // namespace detail

inline void Tensor::copy_from(const Tensor& src) const {
  GCC_CHECK(src.numel() == numel(), "Tensor::copy_from: source has ", src.numel(),
            " elements (shape ", src.shape().str(), "), destination ", numel(), " (shape ",
            shape_.str(), ")");
  if (numel() == 0) return;
  if (device().is_cpu() && src.device().is_cpu()) {
    if (is_contiguous() && src.is_contiguous()) {
      std::memmove(data(), src.data(), static_cast<std::size_t>(numel()) * sizeof(float));
      return;
    }
    std::vector<float> tmp(static_cast<std::size_t>(numel()));
    const float* sp = src.data();
    detail::for_each_offset(src, [&](int64_t k, int64_t off) { tmp[k] = sp[off]; });
    float* dp = data();
    detail::for_each_offset(*this, [&](int64_t k, int64_t off) { dp[off] = tmp[k]; });
    return;
  }
  if (device() == src.device() && !src.is_contiguous() && is_contiguous()) {
    StridedCopyFn sfn = cuda_strided_copy_hook();
    GCC_CHECK(sfn != nullptr, "Tensor::copy_from: no CUDA backend in this build for a strided copy on ",
              device().str());
    sfn(*this, src);
    return;
  }
  GCC_CHECK(is_contiguous() && src.is_contiguous(), "Tensor::copy_from: copies across devices need "
            "contiguous tensors; call .contiguous() on the source first");
  CopyFn fn = cuda_copy_hook();
  GCC_CHECK(fn != nullptr, "Tensor::copy_from: no CUDA backend in this build to copy from ",
            src.device().str(), " to ", device().str());
  fn(data(), device(), src.data(), src.device(), static_cast<std::size_t>(numel()));
}

inline Tensor Tensor::to(Device dev, bool force_copy) const {
  GCC_CHECK(defined(), "Tensor::to: the tensor is undefined");
  if (!force_copy && dev == device()) return *this;
  if (!is_contiguous() && !device().is_cpu()) {  // strided device tensor: gather on its device first
    Tensor c = empty(shape_, device());
    c.copy_from(*this);
    return dev == device() ? c : c.to(dev);
  }
  Tensor t = empty(shape_, dev);
  t.copy_from(*this);
  return t;
}

inline void Tensor::fill(float v) const {
  if (device().is_cpu()) {
    float* p = data();
    if (is_contiguous()) {
      std::fill(p, p + numel(), v);
    } else {
      detail::for_each_offset(*this, [&](int64_t, int64_t off) { p[off] = v; });
    }
    return;
  }
  FillFn fn = cuda_fill_hook();
  GCC_CHECK(fn != nullptr, "Tensor::fill: no CUDA backend in this build for ", device().str());
  fn(*this, v);
}

inline Tensor Tensor::full(const Shape& shape, float value, Device dev) {
  Tensor t = empty(shape, dev);
  t.fill(value);
  return t;
}

// Throws unless a and b have the same shape; `op` names the caller in the message.
inline void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  GCC_CHECK(a.shape() == b.shape(), op, ": shapes must match, got ", a.shape().str(), " and ",
            b.shape().str());
}
inline void check_dims(const char* op, const Tensor& t, int dims, const char* layout) {
  GCC_CHECK(t.defined(), op, ": input is undefined");
  GCC_CHECK(t.dims() == dims, op, ": expected a ", dims, "-D tensor ", layout, ", got shape ",
            t.shape().str());
}
inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  GCC_CHECK(a.device() == b.device(), op, ": inputs on different devices (", a.device().str(),
            " and ", b.device().str(), "); move them with .to(device)");
}

}  // namespace gcc

// The autograd members declared above (grad, backward, name, ...) are defined with the tape; included
// here so that <gcc/core/tensor.hpp> alone is complete (tape.hpp includes this header first).
#include "../autograd/tape.hpp"
