// Tensor-level collectives over a Communicator: all_gather0 (differentiable), all_reduce_sum_,
// all_reduce_gradients (one flattened call) and broadcast_module. Tensors live where the communicator's
// buffers do: CPU tensors with MPI/Self, GPU tensors with NCCL.
//
// Convention for data-parallel training (a global batch split into one shard per rank): each rank's loss
// is its local anchors' share of the global mean (the sum over its anchors divided by the GLOBAL anchor
// count), negatives and cluster masses come from all_gather0 (the whole batch on every rank), and weight
// gradients are SUMMED over the ranks (all_reduce_gradients). The sum of the ranks' losses is then the
// single-process loss of the global batch, and the summed gradient is its gradient.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../autograd/parameters.hpp"
#include "communicator.hpp"

namespace gcc {
namespace dist {
namespace detail {

inline void check_tensor_on_comm(const char* op, const Communicator& comm, const Tensor& t) {
  GCC_CHECK(t.defined(), "dist::", op, ": the tensor is undefined (rank ", comm.rank(), ")");
  GCC_CHECK(t.device() == comm.device(), "dist::", op, ": tensor of shape ", t.shape().str(), " is on ",
            t.device().str(), " but the '", comm.backend(), "' communicator moves ", comm.device().str(),
            " memory; move it with .to(device), or use NcclCommunicator for GPU tensors and MPI for CPU ones");
}

// FNV-1a over the names and shapes: two ranks with different models get different values.
inline int64_t layout_hash(const std::vector<NamedTensor>& tensors) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v) {
    h ^= v;
    h *= 1099511628211ull;
  };
  for (const NamedTensor& t : tensors) {
    for (char c : t.name) mix(static_cast<unsigned char>(c));
    mix(static_cast<uint64_t>(t.tensor.dims()) + 0x100);
    for (int i = 0; i < t.tensor.dims(); ++i) mix(static_cast<uint64_t>(t.tensor.size(i)) + 0x200);
  }
  return static_cast<int64_t>(h >> 1);
}

// Every rank passes the same tensor list (count, element count, names and shapes), or every rank throws
// the same error (no rank is left waiting in the data operation). Returns the element count.
inline int64_t check_same_tensors(Communicator& comm, const char* op, const std::vector<NamedTensor>& tensors) {
  int64_t total = 0;
  for (const NamedTensor& t : tensors) {
    GCC_CHECK(t.tensor.defined(), "dist::", op, ": tensor '", t.name, "' is undefined (rank ", comm.rank(), ")");
    total += t.tensor.numel();
  }
  const int64_t mine[3] = {static_cast<int64_t>(tensors.size()), total, layout_hash(tensors)};
  std::vector<int64_t> all(static_cast<std::size_t>(comm.size()) * 3);
  comm.all_gather_host(mine, 3, all.data());
  for (int r = 1; r < comm.size(); ++r) {
    const int64_t* o = &all[static_cast<std::size_t>(r) * 3];
    GCC_CHECK(o[0] == all[0] && o[1] == all[1] && o[2] == all[2], "dist::", op, ": rank ", r, " has ", o[0],
              " tensors of ", o[1], " values, rank 0 has ", all[0], " of ", all[1],
              (o[0] == all[0] && o[1] == all[1] ? " (same counts, other names or shapes)" : ""),
              "; every rank must build the same model (same configuration) before calling it");
  }
  return total;
}

}  // namespace detail

// The rows of x from every rank, concatenated in rank order: x [n_r, ...] on rank r gives [sum n_r, ...]
// on every rank (shards may differ in size; the trailing dimensions must agree). Differentiable: the
// backward sums the gathered gradient over the ranks and hands each rank its own rows, so with the
// convention above x receives d(sum of all ranks' losses)/dx. Recording is collective too: every rank
// must record it (x requires grad and no NoGrad guard, or neither) and later run backward through it, and
// `comm` must outlive that backward.
inline Tensor all_gather0(Communicator& comm, const Tensor& x /* [n_rank, ...] */) {
  detail::check_tensor_on_comm("all_gather0", comm, x);
  GCC_CHECK(x.dims() >= 1, "dist::all_gather0: x is a scalar (shape []); it needs a dimension 0 of rows");
  const bool record = any_requires_grad(x);
  // Per rank: rows, record flag, dims, trailing dimensions (-1 where absent): checked before any data moves.
  constexpr int kVals = 2 + kMaxDims;
  int64_t mine[kVals] = {x.size(0), record ? 1 : 0, x.dims(), -1, -1, -1};
  for (int i = 1; i < x.dims(); ++i) mine[2 + i] = x.size(i);
  const int size = comm.size();
  std::vector<int64_t> all(static_cast<std::size_t>(size) * kVals);
  comm.all_gather_host(mine, kVals, all.data());
  std::vector<int64_t> rows(static_cast<std::size_t>(size));
  int64_t total = 0, offset = 0;
  for (int r = 0; r < size; ++r) {
    const int64_t* o = &all[static_cast<std::size_t>(r) * kVals];
    bool same_shape = true;
    for (int k = 2; k < kVals; ++k) same_shape = same_shape && o[k] == all[static_cast<std::size_t>(k)];
    GCC_CHECK(same_shape, "dist::all_gather0: rank ", r, " gathers rows of ", o[2], " dimensions [n, ", o[3], ", ",
              o[4], ", ", o[5], "], rank 0 of ", all[2], " [n, ", all[3], ", ", all[4], ", ", all[5],
              "] (-1: no such dimension); every rank's tensor needs the same dimensions after the first");
    GCC_CHECK(o[1] == all[1], "dist::all_gather0: rank ", r, (o[1] ? " records" : " does not record"),
              " the gradient and rank 0 ", (all[1] ? "does" : "does not"), "; the backward is collective: "
              "requires_grad and NoGrad must be the same on every rank");
    rows[static_cast<std::size_t>(r)] = o[0];
    if (r < comm.rank()) offset += o[0];
    total += o[0];
  }
  std::vector<int64_t> dims = x.shape().vec();
  dims[0] = total;
  Tensor y = Tensor::empty(Shape(dims), x.device());  // [sum n_r, ...]
  const Tensor xc = x.contiguous();
  int64_t row_size = 1;  // floats per row
  for (int i = 1; i < x.dims(); ++i) row_size *= x.size(i);
  comm.all_gather_rows(xc.data(), y.data(), rows, row_size);
  if (record) {
    Communicator* c = &comm;
    const int64_t own = x.size(0);
    Tape::record(y, "dist::all_gather0", [c, x, offset, own](const Tensor& gy) {
      Tensor g = gy.is_contiguous() ? gy.clone() : gy.contiguous();  // [sum n_r, ...], summed in place
      c->all_reduce_sum(g.data(), g.numel());
      accumulate_grad_fresh(x, g.narrow0(offset, offset + own).clone());
    });
  }
  return y;
}

// t = the sum of every rank's t, in place (no gradient is recorded). t is contiguous, on comm.device().
inline void all_reduce_sum_(Communicator& comm, const Tensor& t) {
  detail::check_tensor_on_comm("all_reduce_sum_", comm, t);
  GCC_CHECK(t.is_contiguous(), "dist::all_reduce_sum_: tensor of shape ", t.shape().str(),
            " is not contiguous; reduce a contiguous copy (.contiguous()) and copy it back");
  comm.all_reduce_sum(t.data(), t.numel());
}

// Sums every parameter's .grad over the ranks, in place, in ONE flattened call (the gradients, then one
// has-gradient flag per parameter). `params` as the model gives them (named_parameters()): the same
// list on every rank. A parameter with a gradient on some rank but not on this one gets one (the others'
// sum); one without a gradient anywhere keeps none (the optimisers skip it, as in PyTorch). Parameters
// and gradients may live anywhere: they are copied through a buffer on comm.device().
inline void all_reduce_gradients(Communicator& comm, const std::vector<NamedTensor>& params) {
  const int64_t total = detail::check_same_tensors(comm, "all_reduce_gradients", params);
  const int64_t count = static_cast<int64_t>(params.size());
  if (count == 0) return;
  Tensor flat = Tensor::empty(Shape{total + count}, comm.device());  // [sum numel + count]
  std::vector<float> has_grad(static_cast<std::size_t>(count), 0.f);
  int64_t off = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i].tensor;
    const Tensor g = p.grad();
    const int64_t n = p.numel();
    Tensor dst = flat.narrow0(off, off + n);
    if (g.defined()) {
      GCC_CHECK(g.numel() == n, "dist::all_reduce_gradients: the gradient of '", params[i].name, "' has shape ",
                g.shape().str(), ", the parameter ", p.shape().str());
      dst.copy_from(g.contiguous().view(Shape{n}));
      has_grad[i] = 1.f;
    } else {
      dst.fill(0.f);
    }
    off += n;
  }
  Tensor flags = flat.narrow0(total, total + count);  // [count]
  flags.copy_from(Tensor::from_vector(has_grad, Shape{count}));
  comm.all_reduce_sum(flat.data(), flat.numel());
  const std::vector<float> any = flags.to(Device::cpu()).to_vector();
  off = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i].tensor;
    const int64_t n = p.numel();
    const Tensor src = flat.narrow0(off, off + n);
    off += n;
    if (any[i] < 0.5f) continue;
    const Tensor g = p.grad();
    if (g.defined())
      g.copy_from(src.view(g.shape()));
    else if (p.requires_grad())
      accumulate_grad_fresh(p, src.clone().view(p.shape()));
  }
}

// Every rank's tensors = root's, in ONE flattened broadcast (the same list on every rank).
inline void broadcast_tensors(Communicator& comm, const std::vector<NamedTensor>& tensors, int root = 0) {
  GCC_CHECK(root >= 0 && root < comm.size(), "dist::broadcast_tensors: root ", root, " is not a rank of this job (",
            comm.size(), " ranks)");
  const int64_t total = detail::check_same_tensors(comm, "broadcast_tensors", tensors);
  if (total == 0) return;
  Tensor flat = Tensor::empty(Shape{total}, comm.device());  // [sum numel]
  const bool is_root = comm.rank() == root;
  int64_t off = 0;
  if (is_root) {
    for (const NamedTensor& t : tensors) {
      const int64_t n = t.tensor.numel();
      flat.narrow0(off, off + n).copy_from(t.tensor.contiguous().view(Shape{n}));
      off += n;
    }
  }
  comm.broadcast(flat.data(), total, root);
  if (is_root) return;
  for (const NamedTensor& t : tensors) {
    const int64_t n = t.tensor.numel();
    t.tensor.copy_from(flat.narrow0(off, off + n).view(t.tensor.shape()));
    off += n;
  }
}

// Every rank's tensors = their mean over the ranks, in ONE flattened all-reduce (the same list on every
// rank), e.g. per-rank BatchNorm running statistics kept equal across the ranks.
inline void average_tensors(Communicator& comm, const std::vector<NamedTensor>& tensors) {
  const int64_t total = detail::check_same_tensors(comm, "average_tensors", tensors);
  if (total == 0 || comm.size() == 1) return;
  Tensor flat = Tensor::empty(Shape{total}, comm.device());  // [sum numel]
  int64_t off = 0;
  for (const NamedTensor& t : tensors) {
    const int64_t n = t.tensor.numel();
    flat.narrow0(off, off + n).copy_from(t.tensor.contiguous().view(Shape{n}));
    off += n;
  }
  comm.all_reduce_sum(flat.data(), total);
  const Tensor cpu = flat.to(Device::cpu());
  float* p = cpu.data();
  const float inv = 1.f / static_cast<float>(comm.size());
  for (int64_t i = 0; i < total; ++i) p[i] *= inv;
  off = 0;
  for (const NamedTensor& t : tensors) {
    const int64_t n = t.tensor.numel();
    t.tensor.copy_from(cpu.narrow0(off, off + n).view(t.tensor.shape()));
    off += n;
  }
}

// Every rank's module = root's: parameters AND buffers (BatchNorm running statistics, counters), through
// state_dict(). Call it once after building the model (same seed or not) so every rank starts equal.
// A template so that this layer need not include nn/ (ModuleT: anything with state_dict()).
template <typename ModuleT>
void broadcast_module(Communicator& comm, const ModuleT& module, int root = 0) {
  broadcast_tensors(comm, module.state_dict(), root);
}

}  // namespace dist
}  // namespace gcc
