// Autograd-lite: a thread-local tape (Wengert list) of nodes, each with a backward function.
// backward() walks the tape in reverse from the root, accumulates gradients, then frees the tape.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../core/tensor.hpp"

namespace gcc {
namespace detail {

struct AutogradMeta {
  bool requires_grad = false;
  bool retain_grad = false;
  Tensor grad;                 // accumulated gradient, same shape as the tensor
  int64_t node = -1;           // index of the tape node that produced this tensor, -1 for leaves
  uint64_t generation = 0;     // tape generation the node belongs to
  std::string name;            // parameter name, for messages and checkpoints
};

struct TapeNode {
  const char* op;                                 // op name, for messages
  Tensor output;                                  // the tensor this node produced (released when freed)
  std::function<void(const Tensor&)> backward;    // called with d(loss)/d(output)
  std::shared_ptr<AutogradMeta> meta;             // the output's autograd state, kept after freeing
  bool freed = false;                             // backward already ran through here
};

struct TapeState {
  std::vector<TapeNode> nodes;
  uint64_t generation = 1;
  int no_grad_depth = 0;
};

inline TapeState& tape_state() {
  static thread_local TapeState state;
  return state;
}

inline AutogradMeta& ensure_meta(const Tensor& t) {
  if (!t.meta()) t.meta() = std::make_shared<AutogradMeta>();
  return *t.meta();
}

}  // namespace detail

// True when gradients are being recorded on this thread (no NoGrad guard active).
inline bool grad_enabled() { return detail::tape_state().no_grad_depth == 0; }

// RAII guard: ops inside its scope record nothing (evaluation, feature-memory refresh).
class NoGrad {
 public:
  NoGrad() { ++detail::tape_state().no_grad_depth; }
  ~NoGrad() { --detail::tape_state().no_grad_depth; }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;
};

// Whether an op with these inputs must record a backward node.
template <typename... Ts>
bool any_requires_grad(const Ts&... ts) {
  if (!grad_enabled()) return false;
  bool any = false;
  ((any = any || (ts.defined() && ts.requires_grad())), ...);
  return any;
}
inline bool any_requires_grad_list(const std::vector<Tensor>& ts) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : ts)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

// Adds g to t's gradient. g is copied when t has no gradient yet, so callers may pass a tensor that
// is also used elsewhere (e.g. the output gradient of an add).
inline void accumulate_grad(const Tensor& t, const Tensor& g);
// Same, but adopts g's memory when t has no gradient yet: g must be a fresh tensor nobody else holds.
inline void accumulate_grad_fresh(const Tensor& t, Tensor g);

class Tape {
 public:
  // Records that `output` was produced by `op`; `backward` receives d(loss)/d(output) and must call
  // accumulate_grad on the inputs that require gradients.
  static void record(const Tensor& output, const char* op, std::function<void(const Tensor&)> backward) {
    detail::TapeState& st = detail::tape_state();
    detail::AutogradMeta& m = detail::ensure_meta(output);
    m.requires_grad = true;
    m.node = static_cast<int64_t>(st.nodes.size());
    m.generation = st.generation;
    st.nodes.push_back(detail::TapeNode{op, output, std::move(backward), output.meta(), false});
  }

  // Number of nodes recorded since the last backward/clear.
  static std::size_t size() { return detail::tape_state().nodes.size(); }

  // Drops every recorded node (and the activations they hold). Tensors recorded so far can no longer
  // be differentiated.
  static void clear() {
    detail::TapeState& st = detail::tape_state();
    st.nodes.clear();
    ++st.generation;
  }

  static void backward(const Tensor& root, const Tensor& grad_root) {
    GCC_CHECK(root.defined(), "backward: the tensor is undefined");
    GCC_CHECK(root.requires_grad(), "backward: tensor of shape ", root.shape().str(),
              " does not require grad (no parameter or input with requires_grad led to it)");
    check_same_shape("backward (gradient vs tensor)", root, grad_root);
    detail::TapeState& st = detail::tape_state();
    detail::AutogradMeta& rm = *root.meta();
    if (rm.node < 0) {  // a leaf: its gradient is the seed itself
      accumulate_grad(root, grad_root);
      return;
    }
    GCC_CHECK(rm.generation == st.generation && rm.node < static_cast<int64_t>(st.nodes.size()) &&
                  !st.nodes[static_cast<std::size_t>(rm.node)].freed,
              "backward: tensor of shape ", root.shape().str(),
              " was produced on a tape that has been freed (by an earlier backward() or "
              "Tape::clear()); backward can run once per forward pass: run the forward pass again");
    accumulate_grad(root, grad_root);
    // Walk from the root's node back to the start; every node up to the root is freed on the way (its
    // activations released). Nodes recorded after the root stay, so an independent graph built later
    // can still be differentiated.
    for (int64_t i = rm.node; i >= 0; --i) {
      detail::TapeNode& n = st.nodes[static_cast<std::size_t>(i)];
      detail::AutogradMeta& om = *n.meta;
      if (n.freed) {
        GCC_CHECK(om.retain_grad || !om.grad.defined(), "backward: the gradient reached the output of '", n.op,
                  "', whose part of the graph was freed by an earlier backward(); run that forward "
                  "pass again, or call backward once on the sum of the losses");
        continue;
      }
      if (om.grad.defined()) {
        Tensor g = om.grad;
        if (!om.retain_grad) om.grad = Tensor();  // free intermediate gradients as we go
        n.backward(g);
      }
      n.backward = nullptr;  // release captured activations early
      n.output = Tensor();
      n.freed = true;
    }
    if (static_cast<std::size_t>(rm.node) + 1 == st.nodes.size()) clear();  // everything was freed
  }
};

inline void accumulate_grad(const Tensor& t, const Tensor& g) {
  if (!t.defined() || !t.requires_grad()) return;
  detail::AutogradMeta& m = *t.meta();
  if (!m.grad.defined()) {
    m.grad = g.contiguous().clone();
    if (m.grad.shape() != t.shape()) m.grad = m.grad.view(t.shape());
  } else {
    accumulate_grad_fresh(t, g);
  }
}

namespace detail {
// y += x elementwise; the CUDA backend registers its own version.
using AxpyFn = void (*)(const Tensor& y, const Tensor& x);
inline AxpyFn& cuda_add_inplace_hook() {
  static AxpyFn fn = nullptr;
  return fn;
}
inline void add_inplace(const Tensor& y, const Tensor& x) {
  GCC_CHECK(y.numel() == x.numel(), "gradient accumulation: gradient has ", x.numel(),
            " elements (shape ", x.shape().str(), "), tensor has ", y.numel(), " (shape ",
            y.shape().str(), ")");
  if (y.device().is_cpu()) {
    Tensor xc = x.contiguous();
    float* yp = y.data();
    const float* xp = xc.data();
    for (int64_t i = 0; i < y.numel(); ++i) yp[i] += xp[i];
    return;
  }
  AxpyFn fn = cuda_add_inplace_hook();
  GCC_CHECK(fn != nullptr, "gradient accumulation: no CUDA backend in this build");
  fn(y, x);
}
}  // namespace detail

inline void accumulate_grad_fresh(const Tensor& t, Tensor g) {
  if (!t.defined() || !t.requires_grad()) return;
  detail::AutogradMeta& m = *t.meta();
  if (!m.grad.defined()) {
    GCC_CHECK(g.numel() == t.numel(), "gradient accumulation: gradient of shape ", g.shape().str(),
              " for a tensor of shape ", t.shape().str());
    g = g.contiguous();
    m.grad = g.shape() == t.shape() ? g : g.view(t.shape());
  } else {
    detail::add_inplace(m.grad, g);
  }
}

// ---- Tensor's autograd members ----------------------------------------------------------------
inline bool Tensor::requires_grad() const { return meta_ && meta_->requires_grad; }
inline Tensor& Tensor::set_requires_grad(bool on) {
  GCC_CHECK(!meta_ || meta_->node < 0 || on,
            "set_requires_grad(false): the tensor was produced by an op on the tape; use .detach()");
  detail::ensure_meta(*this).requires_grad = on;
  return *this;
}
inline Tensor Tensor::grad() const { return meta_ ? meta_->grad : Tensor(); }
inline void Tensor::zero_grad() const {
  if (meta_) meta_->grad = Tensor();
}
inline void Tensor::retain_grad() const { detail::ensure_meta(*this).retain_grad = true; }
inline void Tensor::backward() const {
  GCC_CHECK(numel() == 1, "backward: without an explicit gradient the tensor must hold one element, "
            "shape is ", shape_.str(), "; pass backward(grad_output) or reduce it first");
  Tape::backward(*this, Tensor::ones(shape_, device()));
}
inline void Tensor::backward(const Tensor& grad_output) const { Tape::backward(*this, grad_output); }
inline const std::string& Tensor::name() const {
  static const std::string empty_name;
  return meta_ ? meta_->name : empty_name;
}
inline Tensor& Tensor::set_name(const std::string& n) {
  detail::ensure_meta(*this).name = n;
  return *this;
}

}  // namespace gcc
