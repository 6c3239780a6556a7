// gcc_dist_train: the data-parallel end-to-end trainer on a tiny model (base width 4, 28x28 synthetic
// images), for tests/dist/check_dist_train.sh. Run as one process it trains on a SelfCommunicator; under
// mpirun every rank takes its shard of each global batch (End2EndTrainer with a communicator). It writes
// the run's figures -- each epoch's mean losses, every weight and BatchNorm statistic, the feature memory,
// the kNN graph and the final evaluation -- as text (rank 0 to FILE, rank r > 0 to FILE.rank<r>), and
// compares two such files.
//
//   gcc_dist_train --out FILE [--sync-bn 0|1] [--epochs E] [--images N] [--batch B] [--lr LR]
//                  [--switch-epoch S] [--neighbours K] [--refresh-every R]
//                  [--stop-on-rank R --checkpoint P]   rank R asks to stop at once: every rank stops after
//                                                      the first step; rank 0 writes checkpoint P
//                  [--resume P]                        continue the run of checkpoint P to the end
//                  [--fail-rank R --fail-epoch E]      rank R throws after epoch E (the others go on)
//                  [--pid-dir D]                       each rank writes its process id to D/rank<r>.pid
//   gcc_dist_train --compare A B [--tol T]   every figure of B that A has must be within T (absolute)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "gcc/dist/communicator.hpp"
#include "gcc/dist/guard.hpp"
#include "gcc/train/end2end.hpp"
#include "gcc/train/end2end_checkpoint.hpp"
#include "gcc/train/presets.hpp"
#include "gcc/dist/mpi.hpp"  // JobWorld (MPI itself only in a GCC_WITH_MPI build)

namespace {

using Figures = std::map<std::string, std::vector<double>>;

struct Args {
  std::string out, checkpoint, resume, pid_dir, compare_a, compare_b;
  int sync_bn = 1, epochs = 3, switch_epoch = 0, neighbours = 5, refresh_every = 1, stop_on_rank = -1, fail_rank = -1, fail_epoch = -1;
  int64_t images = 96, batch = 32;
  double tol = 1e-5, lr = 0.05;
};

// Synthetic 28x28 grey images of 4 noisy stripe classes (as tests/test_train.cpp's fallback, plus noise).
std::shared_ptr<const gcc::ImageDataset> stripes(int64_t n) {
  gcc::ImageDataset d;
  d.n = n;
  d.height = d.width = 28;
  d.channels = 1;
  d.name = "synthetic-stripes";
  d.class_names = {"h", "v", "d", "c"};
  d.pixels.resize(static_cast<std::size_t>(n * 28 * 28));
  gcc::Rng rng(7);
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 4), ph = static_cast<int>(rng.below(4));
    d.labels.push_back(c);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        const int v = c == 0   ? ((y + ph) / 3) % 2
                      : c == 1 ? ((x + ph) / 3) % 2
                      : c == 2 ? ((x + y + ph) / 4) % 2
                               : (((x + ph) / 4) + ((y + ph) / 4)) % 2;
        // noisy: no exactly equal activations whose tie-breaks (max-pool) rounding could flip between runs
        d.pixels[static_cast<std::size_t>((i * 28 + y) * 28 + x)] = static_cast<uint8_t>((v ? 150 : 20) + rng.below(90));
      }
  }
  return std::make_shared<const gcc::ImageDataset>(std::move(d));
}

// tests/test_train.cpp's tiny_config: phase 1 up to epoch S (0), a refresh after it and every R (1) epochs
// after, phase 2 after it.
gcc::train::Config tiny_config(const Args& a) {
  gcc::train::Config c = gcc::train::preset("fashion-mnist");
  c.base_width = 4;
  c.batch_size = a.batch;
  c.epochs = a.epochs;
  c.switch_epoch = a.switch_epoch;
  c.refresh_every = a.refresh_every;
  c.num_neighbors = a.neighbours;
  c.eval_every = 0;  // evaluated after the last epoch only
  c.lr = static_cast<float>(a.lr);
  c.loader_threads = 1;
  c.train_subset = 0;
  c.seed = 3;
  c.sync_batchnorm = a.sync_bn != 0;
  return c;
}

void put(Figures& f, const std::string& name, const gcc::Tensor& t) {
  f[name] = std::vector<double>();
  for (float v : t.to(gcc::Device::cpu()).contiguous().to_vector()) f[name].push_back(v);
}

void write_figures(const std::string& path, const Figures& f) {
  std::FILE* o = std::fopen(path.c_str(), "w");
  GCC_CHECK(o != nullptr, "gcc_dist_train: cannot write '", path, "'");
  for (const auto& kv : f) {
    std::fprintf(o, "%s %zu", kv.first.c_str(), kv.second.size());
    for (double v : kv.second) std::fprintf(o, " %.9g", v);
    std::fputc('\n', o);
  }
  std::fclose(o);
}

Figures read_figures(const std::string& path) {
  std::ifstream in(path);
  GCC_CHECK(in.good(), "gcc_dist_train --compare: cannot read '", path, "'");
  Figures f;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string name;
    std::size_t n = 0;
    s >> name >> n;
    std::vector<double> v(n);
    for (double& x : v) s >> x;
    GCC_CHECK(!s.fail(), "gcc_dist_train --compare: '", path, "': bad line for '", name, "'");
    f[name] = std::move(v);
  }
  return f;
}

// Every figure of b against a: prints the largest difference; returns 0 when all are within tol.
int compare(const Args& a) {
  const Figures fa = read_figures(a.compare_a), fb = read_figures(a.compare_b);
  double worst = 0;
  std::string worst_name;
  int bad = 0, compared = 0;
  for (const auto& kv : fb) {
    const auto it = fa.find(kv.first);
    if (it == fa.end()) {  // a resumed run's partial epoch
      std::printf("note: %s is not in %s (not compared)\n", kv.first.c_str(), a.compare_a.c_str());
      continue;
    }
    ++compared;
    if (it->second.size() != kv.second.size()) {
      std::printf("MISMATCH %s: %zu values, %zu in the first file\n", kv.first.c_str(), kv.second.size(), it->second.size());
      ++bad;
      continue;
    }
    double d = 0;
    for (std::size_t i = 0; i < kv.second.size(); ++i) d = std::max(d, std::fabs(kv.second[i] - it->second[i]));
    if (!(d <= a.tol)) {
      if (bad < 10) std::printf("MISMATCH %s: max |difference| %.3g > %.3g\n", kv.first.c_str(), d, a.tol);
      ++bad;
    }
    if (d > worst || worst_name.empty()) {
      worst = d;
      worst_name = kv.first;
    }
  }
  std::printf("compared %d figures of %s with %s: largest |difference| %.3g (%s); %d beyond %.3g\n", compared,
              a.compare_b.c_str(), a.compare_a.c_str(), worst, worst_name.c_str(), bad, a.tol);
  return bad == 0 && compared > 0 ? 0 : 1;
}

// The smallest gap between consecutive scores among each row's k + 1 best of the kNN graph the trainer
// just built from its memory: flips of near-ties (float noise between runs) need gaps below ~1e-6.
double knn_margin(const gcc::train::End2EndTrainer& t) {
  const gcc::Tensor f = t.memory().mean();  // [n, D]
  const int64_t n = f.size(0), d = f.size(1), k = t.state().neighbour_k;
  double margin = 1e9;
  std::vector<double> row(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t c = 0; c < d; ++c) s += static_cast<double>(f.data()[i * d + c]) * f.data()[j * d + c];
      row[static_cast<std::size_t>(j)] = s;
    }
    std::sort(row.begin(), row.end(), [](double x, double y) { return x > y; });
    for (int64_t j = 0; j < std::min(k, n - 1); ++j)
      margin = std::min(margin, row[static_cast<std::size_t>(j)] - row[static_cast<std::size_t>(j) + 1]);
  }
  return margin;
}

int train(const Args& a, gcc::dist::Communicator& comm) {
  const int rank = comm.rank();
  if (!a.pid_dir.empty()) {
    const std::string p = a.pid_dir + "/rank" + std::to_string(rank) + ".pid";
    std::FILE* f = std::fopen(p.c_str(), "w");
    GCC_CHECK(f != nullptr, "gcc_dist_train: cannot write '", p, "'");
    std::fprintf(f, "%d\n", static_cast<int>(getpid()));
    std::fclose(f);
  }
  gcc::train::Config cfg = tiny_config(a);
  if (!a.resume.empty()) {  // the checkpoint's own config, as gcc_train --resume does
    cfg = gcc::train::checkpoint_config(gcc::io::Checkpoint::load(a.resume));
    cfg.sync_batchnorm = a.sync_bn != 0;
  }
  gcc::train::End2EndTrainer t(cfg, gcc::train::TrainData::single(stripes(a.images)), &comm);
  t.set_progress_output(nullptr);
  if (!a.resume.empty()) gcc::train::load_end2end_checkpoint(a.resume, t);
  std::atomic<bool> stop{rank == a.stop_on_rank};
  t.set_stop_flag(&stop);
  Figures f;
  t.fit([&](const gcc::train::EpochReport& r) {
    // a resumed or stopped epoch's means cover only its steps here: named apart from a whole epoch's
    const std::string e = "epoch" + std::to_string(r.epoch) + (r.first_step > 0 ? "_from" + std::to_string(r.first_step) : "") +
                          (r.complete ? "" : "_part") + ".";
    f[e + "loss"] = {r.mean.loss};
    f[e + "rgc"] = {r.mean.rgc};
    f[e + "agc"] = {r.mean.agc, r.mean.agc_consistency, r.mean.agc_entropy};
    f[e + "steps_images"] = {static_cast<double>(r.steps), static_cast<double>(r.images)};
    if (r.refreshed) {
      const double m = knn_margin(t);
      f[e + "knn_margin"] = {m};
      if (rank == 0) std::printf("gcc_dist_train: refresh after epoch %d: smallest kNN score gap %.3g\n", r.epoch, m);
    }
    if (r.evaluated) {
      put(f, "eval.probabilities", r.eval.probabilities);
      f["eval.figures"] = {r.eval.metrics.acc, r.eval.metrics.nmi, r.eval.metrics.ari};
    }
    if (rank == a.fail_rank && r.epoch == a.fail_epoch) GCC_FAIL("injected failure after epoch ", r.epoch);
  });
  if (!a.checkpoint.empty() && rank == 0) gcc::train::save_end2end_checkpoint(a.checkpoint, t);
  for (const gcc::NamedTensor& p : t.model().state_dict()) put(f, "model." + p.name, p.tensor);
  put(f, "memory.mean", t.memory().mean());
  if (t.has_graph()) {
    f["graph.neighbours"].assign(t.state().neighbours.begin(), t.state().neighbours.end());
    f["graph.weights"].assign(t.state().node_weights.begin(), t.state().node_weights.end());
  }
  f["position"] = {static_cast<double>(t.next_epoch()), static_cast<double>(t.next_step()),
                   static_cast<double>(t.state().global_step)};
  write_figures(rank == 0 ? a.out : a.out + ".rank" + std::to_string(rank), f);
  if (rank == 0)
    std::printf("gcc_dist_train: %d rank(s), sync_batchnorm %d, at epoch %d step %lld, %zu figures in %s\n",
                comm.size(), a.sync_bn, t.next_epoch(), static_cast<long long>(t.next_step()), f.size(), a.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "gcc_dist_train: '%s' needs a value (see the header of tests/dist/dist_train.cpp)\n", k.c_str());
      return 2;
    }
    const char* v = argv[++i];
    if (k == "--out") a.out = v;
    else if (k == "--sync-bn") a.sync_bn = std::atoi(v);
    else if (k == "--epochs") a.epochs = std::atoi(v);
    else if (k == "--images") a.images = std::atoll(v);
    else if (k == "--batch") a.batch = std::atoll(v);
    else if (k == "--stop-on-rank") a.stop_on_rank = std::atoi(v);
    else if (k == "--checkpoint") a.checkpoint = v;
    else if (k == "--resume") a.resume = v;
    else if (k == "--fail-rank") a.fail_rank = std::atoi(v);
    else if (k == "--fail-epoch") a.fail_epoch = std::atoi(v);
    else if (k == "--pid-dir") a.pid_dir = v;
    else if (k == "--tol") a.tol = std::atof(v);
    else if (k == "--lr") a.lr = std::atof(v);
    else if (k == "--neighbours") a.neighbours = std::atoi(v);
    else if (k == "--switch-epoch") a.switch_epoch = std::atoi(v);
    else if (k == "--refresh-every") a.refresh_every = std::atoi(v);
    else if (k == "--compare" && i + 1 < argc) {
      a.compare_a = v;
      a.compare_b = argv[++i];
    } else {
      std::fprintf(stderr, "gcc_dist_train: unknown option '%s' (see the header of tests/dist/dist_train.cpp)\n", k.c_str());
      return 2;
    }
  }
  try {
    if (!a.compare_a.empty()) return compare(a);
    GCC_CHECK(!a.out.empty(), "gcc_dist_train: --out FILE is required");
    gcc::dist::JobWorld world(&argc, &argv, "gcc_dist_train");
    gcc::dist::Communicator& comm = world.comm();
    return gcc::dist::run_rank_guarded(comm, [&] { return train(a, comm); });
  } catch (const std::exception& e) {  // one process: run_rank_guarded rethrows
    std::fprintf(stderr, "gcc_dist_train: %s\n", e.what());
    return 1;
  }
}
