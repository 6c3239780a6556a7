// The epoch and step loops both trainers share: the batches of one epoch from a given step on (a resumed epoch
// skips the batches before it; the loader reseeds every sample by (seed, epoch, index), so they are the
// same batches), a stop request honoured after the current step, the epoch's clock, and a check that
// every input batch is finite (a NaN or Inf in a view stops the run naming the image).
#pragma once
#include <atomic>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>

#include "../core/error.hpp"
#include "../core/finite.hpp"
#include "../data/loader.hpp"

namespace gcc {
namespace train {

struct EpochSteps {
  int64_t total = 0;       // batches in the epoch
  int64_t next = 0;        // the step after the last one run
  bool stopped = false;    // a stop request ended the epoch before its last batch
  double seconds = 0;      // time of the steps run here
};

// Throws naming the epoch, step, view and dataset image when a view of the batch holds a NaN or Inf.
inline void check_batch_finite(const Batch& b, int epoch, int64_t step) {
  for (std::size_t v = 0; v < b.views.size(); ++v) {
    const Tensor& x = b.views[v];  // [b, C, S, S]
    const int64_t bad = first_non_finite(x.data(), x.numel());
    if (bad < 0) continue;
    const int64_t per_image = x.numel() / std::max<int64_t>(1, b.size()), row = bad / per_image;
    const int64_t image = v < b.sources.size() && row < static_cast<int64_t>(b.sources[v].size())
                              ? b.sources[v][static_cast<std::size_t>(row)]
                              : b.indices[static_cast<std::size_t>(row)];
    GCC_FAIL("input batch of epoch ", epoch + 1, " step ", step, ": view ", v, " of image #", image,
             " (0-based, in the training set) holds ", non_finite_name(x.data()[bad]), " at value ", bad % per_image,
             " of ", per_image, "; the images or the normalisation (mean/std) are at fault: check the data and std > 0");
  }
}

// Calls step(batch, index, seconds_so_far) for every batch of `epoch` from `first_step` on; the seconds
// count from the first step of this call (for images/s in progress bars).
template <typename Step>
EpochSteps run_epoch_steps(Loader& loader, int epoch, int64_t first_step, const std::atomic<bool>* stop, Step&& step) {
  EpochSteps r;
  r.total = loader.batches_per_epoch();
  loader.start_epoch(epoch);
  Batch b;
  for (int64_t s = 0; s < first_step; ++s)
    GCC_CHECK(loader.next(b), "run_epoch_steps: cannot skip to step ", first_step, " of ", r.total, " in epoch ", epoch);
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  r.next = first_step;
  while (loader.next(b)) {
    check_batch_finite(b, epoch, r.next);
    step(b, r.next, elapsed);
    ++r.next;
    if (stop && stop->load()) {
      r.stopped = r.next < r.total;
      break;
    }
  }
  r.seconds = elapsed();
  return r;
}

// A trainer's fit(): epochs until the last one or a stop request, on_epoch called after each (also after
// one a stop cut short). Trainer has finished() and train_epoch() returning a report with `complete`.
template <typename Trainer, typename Report>
void fit_epochs(Trainer& t, const std::atomic<bool>* stop, const std::function<void(const Report&)>& on_epoch) {
  while (!t.finished()) {
    const Report r = t.train_epoch();
    if (on_epoch) on_epoch(r);
    if (!r.complete || (stop && stop->load())) return;
  }
}

}  // namespace train
}  // namespace gcc
