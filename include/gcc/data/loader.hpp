// Threaded batch loader: worker threads render the views of upcoming batches into float tensors while
// the trainer works (bounded queue); per-epoch seeded shuffling; the same batches whatever the threads.
//
// Determinism: the permutation of epoch e comes from Rng(loader_sample_seed(seed, e, -1, 0)); view v of
// anchor sample i in epoch e is rendered with its own Rng(loader_sample_seed(seed, e, i, 2v)) and, when
// an image selector is given, the selector for (i, v) gets Rng(loader_sample_seed(seed, e, i, 2v + 1)).
// No RNG is shared between samples or threads, so the batches of a given (seed, epoch) are identical for
// any number of threads (including 0, where batches are made inside next()).
//
// Data parallelism: with shard_count N > 1 the loader renders only rows dist::shard_rows(B, shard_rank, N)
// of every (global) batch of B samples -- the same pixels the one-process loader renders for those rows,
// since every view has its own per-sample RNG; Batch::all_indices lists the whole batch's anchors.
//
// Use:
//   gcc::LoaderOptions o;  o.batch_size = 256;  o.views = 2;  o.size = 32;  o.seed = 1;  o.threads = 2;
//   gcc::Loader loader(dataset, simclr_view_fn, o);
//   for (int64_t e = 0; e < epochs; ++e) {
//     loader.start_epoch(e);
//     gcc::Batch b;
//     while (loader.next(b)) { ... b.views[0] is [b, 3, 32, 32], b.indices / b.labels are [b] ... }
//   }
#pragma once
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../core/error.hpp"
#include "../core/rng.hpp"
#include "../core/tensor.hpp"
#include "../dist/communicator.hpp"
#include "dataset.hpp"

namespace gcc {

// Renders one view of one image: img [h, w, c] uint8 HWC -> out [C, S, S] float (C, S as in
// LoaderOptions). Called concurrently from several worker threads: it must not touch shared mutable
// state; all randomness must come from `rng`.
using ViewFn = std::function<void(const uint8_t* img, int h, int w, int c, Rng& rng, float* out)>;

// Which image view `view` of anchor sample `anchor` renders (default: the anchor itself). Phase 2 of GCC
// renders views of neighbours: view k of anchor i shows image n_k(i). Called concurrently; read-only.
using ImageSelector = std::function<int64_t(int64_t anchor, int view, Rng& rng)>;

struct LoaderOptions {
  int64_t batch_size = 256;
  int views = 1;            // V: view tensors per batch
  int channels = 3;         // C of each view tensor
  int size = 32;            // S of each view tensor
  bool shuffle = true;      // a new seeded permutation per epoch; false = dataset order
  bool drop_last = false;   // false keeps the last partial batch (as the release does)
  uint64_t seed = 0;
  int threads = 2;          // worker threads; 0 = make each batch on the caller's thread inside next()
  int prefetch = 0;         // batches made ahead of the consumer (the queue bound); 0 = 2 * threads
  int shard_rank = 0;       // render only this rank's rows of every batch (data parallelism) ...
  int shard_count = 1;      // ... of this many ranks (1: the whole batch)
};

struct Batch {
  int64_t epoch = -1, index = -1;               // which epoch, which batch of it
  std::vector<int64_t> all_indices;             // [B] anchors of the whole batch (every shard's)
  int64_t shard_begin = 0;                      // this shard's rows are [shard_begin, shard_begin + b) of it
  std::vector<int64_t> indices;                 // [b] anchor sample indices (dataset order) rendered here
  std::vector<int> labels;                      // [b] labels of the anchors (-1 = unlabelled)
  std::vector<Tensor> views;                    // V x [b, C, S, S]
  std::vector<std::vector<int64_t>> sources;    // [V][b] image rendered by each view
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
  int64_t global_size() const { return static_cast<int64_t>(all_indices.size()); }  // B
};

// The seed of one random stream: splitmix64 chained over (seed, epoch, sample, stream).
inline uint64_t loader_sample_seed(uint64_t seed, int64_t epoch, int64_t sample, int64_t stream) {
  auto mix = [](uint64_t x) {
    uint64_t z = x + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  uint64_t h = mix(seed);
  h = mix(h ^ static_cast<uint64_t>(epoch));
  h = mix(h ^ static_cast<uint64_t>(sample));
  return mix(h ^ static_cast<uint64_t>(stream));
}

class Loader {
 public:
  // `data` must outlive the loader. view_fns: one per view (size V), or a single function used for all
  // opt.views views.
  Loader(const ImageDataset& data, std::vector<ViewFn> view_fns, const LoaderOptions& opt,
         ImageSelector select = nullptr)
      : data_(&data), fns_(std::move(view_fns)), select_(std::move(select)), opt_(opt) {
    GCC_CHECK(opt_.batch_size > 0, "Loader: batch_size must be positive, got ", opt_.batch_size);
    GCC_CHECK(opt_.views > 0, "Loader: views must be positive, got ", opt_.views);
    GCC_CHECK(opt_.channels > 0 && opt_.size > 0, "Loader: channels and size must be positive, got ", opt_.channels,
              " and ", opt_.size);
    GCC_CHECK(opt_.threads >= 0 && opt_.prefetch >= 0, "Loader: threads and prefetch must be >= 0");
    GCC_CHECK(opt_.shard_count >= 1 && opt_.shard_rank >= 0 && opt_.shard_rank < opt_.shard_count, "Loader: shard ",
              opt_.shard_rank, " of ", opt_.shard_count, "; expected 0 <= shard_rank < shard_count");
    if (fns_.size() == 1 && opt_.views > 1) fns_.resize(static_cast<std::size_t>(opt_.views), fns_[0]);
    GCC_CHECK(static_cast<int>(fns_.size()) == opt_.views, "Loader: ", fns_.size(), " view functions for ",
              opt_.views, " views; give one per view or a single one");
    for (const ViewFn& f : fns_) GCC_CHECK(static_cast<bool>(f), "Loader: a view function is empty");
    GCC_CHECK(data.n == 0 || data.data() != nullptr, "Loader: dataset '", data.name, "' has no pixels");
    cap_ = opt_.prefetch > 0 ? opt_.prefetch : 2 * std::max(opt_.threads, 1);
    for (int t = 0; t < opt_.threads; ++t) workers_.emplace_back([this] { work(); });
  }
  Loader(const ImageDataset& data, ViewFn view_fn, const LoaderOptions& opt, ImageSelector select = nullptr)
      : Loader(data, std::vector<ViewFn>{std::move(view_fn)}, opt, std::move(select)) {}

  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  ~Loader() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    cv_work_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  int64_t num_samples() const { return data_->n; }
  int64_t batches_per_epoch() const {
    const int64_t n = data_->n, b = opt_.batch_size;
    return opt_.drop_last ? n / b : (n + b - 1) / b;
  }
  const LoaderOptions& options() const { return opt_; }

  // The sample order of an epoch (a permutation of 0..n-1, or the identity without shuffle).
  std::vector<int64_t> epoch_order(int64_t epoch) const {
    std::vector<int64_t> order(static_cast<std::size_t>(data_->n));
    for (int64_t i = 0; i < data_->n; ++i) order[static_cast<std::size_t>(i)] = i;
    if (opt_.shuffle) {
      Rng rng(loader_sample_seed(opt_.seed, epoch, -1, 0));
      for (int64_t i = data_->n - 1; i > 0; --i)
        std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(rng.below(static_cast<uint64_t>(i + 1)))]);
    }
    return order;
  }

  // Starts (or restarts) epoch `epoch`: batches of an unfinished epoch are discarded.
  void start_epoch(int64_t epoch) {
    auto order = std::make_shared<const std::vector<int64_t>>(epoch_order(epoch));
    {
      std::lock_guard<std::mutex> lk(m_);
      ++gen_;
      ready_.clear();
      epoch_ = epoch;
      order_ = std::move(order);
      nbatches_ = batches_per_epoch();
      next_claim_ = next_give_ = 0;
      active_ = true;
    }
    cv_work_.notify_all();
  }

  // The next batch of the current epoch, in order; false when the epoch is over (or none was started).
  // An exception thrown while making the batch (a view function, a selector, a bad index) is rethrown
  // here as gcc::Error with its message and where it happened; the epoch then ends.
  bool next(Batch& out) {
    Slot s;
    {
      std::unique_lock<std::mutex> lk(m_);
      if (!active_) return false;
      if (next_give_ >= nbatches_) {
        active_ = false;
        return false;
      }
      if (opt_.threads == 0) {
        const int64_t j = next_give_++;
        const auto order = order_;
        const int64_t epoch = epoch_;
        lk.unlock();
        try {
          make_batch(epoch, j, *order, s.batch);
        } catch (...) {
          s.error = std::current_exception();
        }
      } else {
        cv_ready_.wait(lk, [&] { return ready_.count(next_give_) > 0; });
        auto it = ready_.find(next_give_);
        s = std::move(it->second);
        ready_.erase(it);
        ++next_give_;
      }
    }
    cv_work_.notify_all();
    if (s.error) {
      {
        std::lock_guard<std::mutex> lk(m_);
        active_ = false;
        ++gen_;
        ready_.clear();
      }
      try {
        std::rethrow_exception(s.error);
      } catch (const std::exception& e) {
        GCC_FAIL("Loader: ", e.what());
      } catch (...) {
        GCC_FAIL("Loader: a view function or selector threw a non-std exception");
      }
    }
    out = std::move(s.batch);
    return true;
  }

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };

  void make_batch(int64_t epoch, int64_t j, const std::vector<int64_t>& order, Batch& b) const {
    const int64_t n_used = opt_.drop_last ? (data_->n / opt_.batch_size) * opt_.batch_size : data_->n;
    const int64_t first = j * opt_.batch_size, last = std::min(first + opt_.batch_size, n_used);
    const dist::RowRange shard = dist::shard_rows(last - first, opt_.shard_rank, opt_.shard_count);
    const int64_t begin = first + shard.begin, end = first + shard.end;
    const int64_t bs = end - begin;
    const int V = opt_.views, C = opt_.channels, S = opt_.size;
    const int64_t per = static_cast<int64_t>(C) * S * S;
    b.epoch = epoch;
    b.index = j;
    b.all_indices.assign(order.begin() + first, order.begin() + last);
    b.shard_begin = shard.begin;
    b.indices.assign(order.begin() + begin, order.begin() + end);
    b.labels.resize(static_cast<std::size_t>(bs));
    b.views.clear();
    b.sources.assign(static_cast<std::size_t>(V), std::vector<int64_t>(static_cast<std::size_t>(bs)));
    for (int v = 0; v < V; ++v) b.views.push_back(Tensor::empty(Shape{bs, C, S, S}));
    const int h = static_cast<int>(data_->height), w = static_cast<int>(data_->width),
              c = static_cast<int>(data_->channels);
    for (int64_t i = 0; i < bs; ++i) {
      const int64_t anchor = b.indices[static_cast<std::size_t>(i)];
      b.labels[static_cast<std::size_t>(i)] =
          anchor < static_cast<int64_t>(data_->labels.size()) ? data_->labels[static_cast<std::size_t>(anchor)] : -1;
      for (int v = 0; v < V; ++v) {
        int64_t img = anchor;
        try {
          if (select_) {
            Rng rs(loader_sample_seed(opt_.seed, epoch, anchor, 2 * v + 1));
            img = select_(anchor, v, rs);
            GCC_CHECK(img >= 0 && img < data_->n, "the image selector returned ", img, " for anchor ", anchor,
                      " view ", v, "; expected 0..", data_->n - 1);
          }
          b.sources[static_cast<std::size_t>(v)][static_cast<std::size_t>(i)] = img;
          Rng r(loader_sample_seed(opt_.seed, epoch, anchor, 2 * v));
          fns_[static_cast<std::size_t>(v)](data_->image(img), h, w, c, r, b.views[static_cast<std::size_t>(v)].data() + i * per);
        } catch (const std::exception& e) {
          GCC_FAIL("epoch ", epoch, " batch ", j, ", sample ", anchor, " (image ", img, ") view ", v, " of '",
                   data_->name, "': ", e.what());
        }
      }
    }
  }

  void work() {
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      cv_work_.wait(lk, [&] {
        return stop_ || (active_ && next_claim_ < nbatches_ && next_claim_ < next_give_ + cap_);
      });
      if (stop_) return;
      const int64_t j = next_claim_++;
      const uint64_t gen = gen_;
      const auto order = order_;
      const int64_t epoch = epoch_;
      lk.unlock();
      Slot s;
      try {
        make_batch(epoch, j, *order, s.batch);
      } catch (...) {
        s.error = std::current_exception();
      }
      lk.lock();
      if (gen == gen_) {
        ready_.emplace(j, std::move(s));
        cv_ready_.notify_all();
      }
    }
  }

  const ImageDataset* data_;
  std::vector<ViewFn> fns_;
  ImageSelector select_;
  LoaderOptions opt_;
  int64_t cap_ = 2;

  std::mutex m_;
  std::condition_variable cv_work_, cv_ready_;
  bool stop_ = false, active_ = false;
  uint64_t gen_ = 0;
  int64_t epoch_ = 0, nbatches_ = 0, next_claim_ = 0, next_give_ = 0;
  std::shared_ptr<const std::vector<int64_t>> order_;
  std::map<int64_t, Slot> ready_;
  std::vector<std::thread> workers_;
};

}  // namespace gcc
