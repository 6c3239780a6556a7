// gcc_train: end-to-end Graph Contrastive Clustering (SPEC §4) from a preset or a config file, with
// checkpoints, JSON-lines metrics, .npy exports, a confusion matrix, Ctrl-C handling and --resume.
//
//   ./build/examples/gcc_train --preset fashion-mnist            # the CPU default (about 6 min on 2 cores)
//   ./build/examples/gcc_train --preset cifar-10 --data-root ~/data/cifar10 --device cuda
//   ./build/examples/gcc_train --resume runs/fashion-mnist-20250101-120000
//   ./build/examples/gcc_train --dataset folder --data-root ~/my_images --minutes 10
//   mpirun -np 2 ./build/examples/gcc_train --preset fashion-mnist --sync_batchnorm true   # data-parallel
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gcc/dist/communicator.hpp"
#include "gcc/dist/guard.hpp"
#include "gcc/dist/mpi.hpp"  // JobWorld (MPI itself only in a GCC_WITH_MPI build)
#if defined(__CUDACC__) && defined(GCC_WITH_NCCL)  // gcc_train_cuda built with MPI and NCCL
#include "gcc/dist/nccl.cuh"
#endif
#include "gcc/gcc.hpp"
#include "gcc/io/metrics_log.hpp"
#include "gcc/train/checkpoint_model.hpp"
#include "gcc/train/config_file.hpp"
#include "gcc/train/end2end.hpp"
#include "gcc/train/end2end_checkpoint.hpp"
#include "run_cli.hpp"

namespace {

using gcc::train::Config;
using gcc::train::EpochReport;

const char* kUsage =
    "usage: gcc_train [--preset NAME | --config FILE | --resume DIR] [options] [--KEY VALUE ...]\n"
    "\n"
    "Trains GCC end to end (phase 1: 2*RGC on two SimCLR views; neighbour refresh from the feature memory;\n"
    "phase 2: 2*RGC with neighbours + AGC), evaluates ACC/NMI/ARI, and writes into the output folder:\n"
    "  config.yaml (every key; --config reads it back), checkpoint.safetensors (atomic; model under the\n"
    "  release's state_dict names, optimiser, RNG, feature memory, neighbours), metrics.jsonl (one JSON\n"
    "  object per epoch), and at the end features.npy [N,128], probabilities.npy [N,K], predictions.npy [N],\n"
    "  targets.npy [N], neighbours.npy [n,k], confusion.csv and confusion.png (with labels), evaluation.json\n"
    "  (GCC's figures beside k-means on the pixels and on the embeddings), gallery.png (each cluster's most\n"
    "  confident images) and curves.png (the metrics per epoch).\n"
    "Ctrl-C finishes the current step, writes a checkpoint and exits (code 130); --resume DIR continues.\n"
    "\n"
    "options:\n"
    "  --preset NAME        cifar-10, cifar-20, stl-10, imagenet-10, imagenet-dogs, tiny-imagenet,\n"
    "                       fashion-mnist (the CPU default; default when nothing else is given), auto (a plan\n"
    "                       from the data and --minutes; the default for your own images)\n"
    "  --dataset KIND       your own images: folder (class sub-folders give labels, a flat folder has none),\n"
    "                       list (\"path label\" or \"path\" lines), idx (MNIST-format images file), npy (uint8\n"
    "                       [N,H,W] or [N,H,W,C]); --data-root PATH says where, --labels-file FILE (idx, npy)\n"
    "  --unlabelled         ignore the labels of your images\n"
    "  --minutes M          the automatic plan's training budget (default 10)\n"
    "  --image-size S       resize every image to S x S (needed for a folder of mixed sizes)\n"
    "  --config FILE        a YAML config: a run's config.yaml, or an experiment file in the release's layout\n"
    "                       (examples/configs/end2end_*.yml); applied on top of --preset\n"
    "  --resume DIR         continue the run in DIR from its checkpoint.safetensors (which holds the config)\n"
    "  --data-root DIR      dataset folder (default: the reader's default, e.g. /usr/share/datasets/fashion-mnist)\n"
    "  --out DIR            output folder (default: runs/<preset>-<date>-<time>)\n"
    "  --quiet              no progress output\n"
    "  --list-keys          print the configuration (every key, its value and its meaning, as YAML) and exit\n"
    "  --dump-steps DIR     write the first training step of each phase into DIR (model before the step, views,\n"
    "                       node weights, losses; train/step_dump.hpp) for data_scripts/reference_gcc_torch.py\n"
    "                       --check-steps DIR\n"
    "  --KEY VALUE          any config key, also as --KEY=VALUE: --epochs 20 --lr 0.2 --device cuda --threads 2\n"
    "                       --mean [0.5,0.5,0.5]; the release's keys too: --criterion_kwargs.temperature=0.2\n"
    "  --help               this text\n"
    "\n"
    "Data-parallel training (a build with MPI: cmake -DGCC_WITH_MPI=ON, Debian: openmpi-bin libopenmpi-dev):\n"
    "  mpirun -np N gcc_train [options]   every rank trains on its 1/N of each batch; batch_size stays the\n"
    "                       GLOBAL batch, so N ranks run the same training as one process (the same result up\n"
    "                       to rounding with --sync_batchnorm true; false, the default, normalises each rank's\n"
    "                       share with its own BatchNorm statistics: faster, slightly different). Rank 0 prints\n"
    "                       and writes the run folder (on a disk every rank sees: every rank reads --resume's\n"
    "                       checkpoint); a checkpoint resumes with any number of ranks. threads 0 gives each rank\n"
    "                       its share of the machine's cores. A failing rank stops the job (\"rank R of N: ...\").\n"
    "                       GPUs: gcc_train_cuda built with MPI and NCCL, --device cuda: rank r takes the GPU of\n"
    "                       its local rank and the gradients move over NCCL (sync_batchnorm is CPU only).\n"
    "\n"
    "Exit codes: 0 done, 1 error, 2 bad command line, 3 training diverged (the last good checkpoint is kept),\n"
    "130 interrupted.\n";

std::string checkpoint_path(const std::string& dir) { return dir + "/checkpoint.safetensors"; }

// Rank 0's `s` on every rank (collective; `world` moves host memory).
std::string from_rank0(gcc::dist::Communicator& world, const std::string& s) {
  if (world.size() == 1) return s;
  int64_t n = static_cast<int64_t>(s.size());
  world.broadcast(&n, 1, 0);
  std::string out = world.rank() == 0 ? s : std::string(static_cast<std::size_t>(n), '\0');
  if (n > 0) world.broadcast_bytes(&out[0], n, 0);
  return out;
}

// Compute threads of this process: cfg.threads, or with 0 under mpirun the machine's cores shared among
// the ranks on it (each rank all cores would oversubscribe them).
int threads_of_rank(int threads, const gcc::dist::Communicator& world) {
  if (threads > 0 || world.size() == 1) return threads;
  const int local = std::max(1, gcc::dist::mpi_launcher_local_size());
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return std::max(1, cores / local);
}

gcc::io::JsonObject epoch_json(const EpochReport& r, const gcc::train::End2EndTrainer& t) {
  gcc::io::JsonObject o;
  o.add("epoch", r.epoch).add("phase", r.phase).add("complete", r.complete).add("lr", static_cast<double>(r.lr));
  if (r.first_step > 0) o.add("first_step", r.first_step);  // resumed inside this epoch
  o.add("steps", r.steps).add("images", r.images).add("seconds", r.seconds).add("images_per_second", r.images_per_second);
  o.add("loss", r.mean.loss).add("rgc", r.mean.rgc).add("agc", r.mean.agc);
  o.add("agc_consistency", r.mean.agc_consistency).add("agc_entropy", r.mean.agc_entropy);
  if (r.refreshed) o.add("knn_accuracy", r.knn_accuracy);
  if (r.evaluated) {
    o.add("eval", gcc::train::eval_json(r.eval));
    o.add("best_acc_label_selected", t.state().best.acc);
  }
  return o;
}

// The configuration: the resumed run's, or preset + config file + command-line keys.
Config resolve_config(const gcc_examples::CliArgs& a, const std::string& resume, gcc::io::Checkpoint& ck) {
  using gcc::train::Stage;
  Config cfg;
  if (!resume.empty()) {
    GCC_CHECK(a.flag("preset").empty() && a.flag("config").empty(), "--resume takes its configuration from the "
              "checkpoint in '", resume, "'; do not combine it with --preset or --config");
    GCC_CHECK(gcc::io::file_exists(checkpoint_path(resume)), "--resume '", resume, "': no checkpoint.safetensors "
              "there (was the run started with gcc_train --out ", resume, "?)");
    ck = gcc::io::Checkpoint::load(checkpoint_path(resume));
    GCC_CHECK(ck.has_config(), "'", checkpoint_path(resume), "' holds no configuration");
    cfg = gcc::train::checkpoint_config(ck);
    if (!a.overrides.empty() && !a.has("quiet"))
      std::fprintf(stderr, "gcc_train: note: overriding keys of a resumed run; it is no longer the same run\n");
  } else {
    cfg = gcc::train::preset(a.flag("preset").empty() ? gcc_examples::default_preset(a) : a.flag("preset"));
    if (!a.flag("config").empty()) gcc::train::apply_config_file(cfg, a.flag("config"), Stage::End2End);
  }
  gcc_examples::apply_overrides(cfg, a, Stage::End2End);
  gcc::train::validate(cfg);
  return cfg;
}

// The run's images. A user's source (or any dataset under the automatic plan) is read whole first: the
// plan needs every image, then train_subset / eval_set pick the training and evaluation sets. Data-parallel,
// rank 0 alone plans (it measures the speed), and every rank takes rank 0's configuration.
gcc::train::TrainData load_data(Config& cfg, const gcc_examples::CliArgs& a, std::FILE* log, std::string& plan,
                                gcc::dist::Communicator& world) {
  std::shared_ptr<const gcc::ImageDataset> full;
  if (gcc::is_user_image_kind(cfg.dataset)) {
    full = std::make_shared<const gcc::ImageDataset>(gcc_examples::read_user_images_logged(cfg, "gcc_train", log).images);
  } else if (cfg.auto_plan) {
    GCC_CHECK(cfg.dataset != "stl-10", "the automatic plan (preset auto) does not support stl-10 (its two phases train "
              "on different sets); use --preset stl-10");
    Config whole = cfg;
    whole.train_subset = 0;
    whole.eval_set = "all";
    full = gcc::train::load_train_data(whole).eval;
  }
  if (cfg.auto_plan && world.rank() == 0) plan = gcc_examples::plan_if_auto(cfg, *full, a, gcc::train::Stage::End2End, log);
  if (world.size() > 1) {  // one configuration, bit for bit, on every rank (rank 0's, read back by all)
    const std::string text = from_rank0(world, gcc::train::config_yaml(cfg));
    plan = from_rank0(world, plan);
    Config same;
    gcc::train::apply_config_text(same, text, "rank 0's configuration");
    gcc::train::validate(same);
    cfg = same;
  }
  return full ? gcc::train::train_data_from(cfg, full) : gcc::train::load_train_data(cfg);
}

int train_main(int argc, char** argv, gcc::dist::Communicator& world) {
  const bool rank0 = world.rank() == 0;
  const gcc_examples::CliSpec spec{"gcc_train", kUsage, {"preset", "config", "resume", "out", "data-root", "dump-steps"},
                                   {"quiet", "list-keys", "unlabelled"}, gcc::train::Stage::End2End};
  gcc_examples::CliArgs a;
  if (const int rc = gcc_examples::parse_cli(argc, argv, spec, a); rc >= 0) return rc;
  const std::string resume = a.flag("resume");
  gcc::io::Checkpoint ck;  // the resumed run's, read once
  Config cfg = resolve_config(a, resume, ck);
  if (a.has("list-keys")) {
    if (rank0) std::fputs(gcc::train::config_yaml(cfg, "gcc_train configuration").c_str(), stdout);
    return 0;
  }
  gcc_examples::apply_threads(threads_of_rank(cfg.threads, world));
  // the run folder: rank 0's (the default one is named after the clock)
  const std::string out = from_rank0(world, !resume.empty() ? resume
                                            : !a.flag("out").empty() ? a.flag("out")
                                            : gcc_examples::default_run_dir(cfg.preset.empty() ? cfg.dataset : cfg.preset));
  const std::string metrics_path = out + "/metrics.jsonl";

  std::unique_ptr<gcc::io::RunLock> lock;  // one process per run folder (rank 0's lock for the job)
  if (rank0) gcc_examples::lock_run_folder(lock, "gcc_train", out, false);
  const auto t0 = std::chrono::steady_clock::now();
  std::FILE* log = a.has("quiet") || !rank0 ? nullptr : stderr;
  const gcc::Device device = gcc::parse_device(cfg.device);
  if (log)
    std::fprintf(log, "gcc_train: %s on %s (device %s), %d threads%s, output in %s\n",
                 cfg.preset.empty() ? "custom config" : ("preset " + cfg.preset).c_str(), cfg.dataset.c_str(),
                 device.str().c_str(), gcc::num_threads(),
                 world.size() == 1 ? "" : (" per rank, data-parallel over " + std::to_string(world.size()) + " ranks (" +
                                           world.backend() + ", BatchNorm " + (cfg.sync_batchnorm ? "synchronised" : "per rank") +
                                           ")").c_str(),
                 out.c_str());
  std::string plan;  // the automatic plan's text, for config.yaml
  gcc::train::TrainData data = load_data(cfg, a, log, plan, world);
  gcc::dist::Communicator* train_comm = &world;  // moves the trainer's tensors: host memory (MPI, Self) ...
#if defined(__CUDACC__) && defined(GCC_WITH_NCCL)
  std::unique_ptr<gcc::dist::NcclCommunicator> nccl;  // ... or, on GPUs, NCCL over the MPI job (outlives the trainer)
  if (world.size() > 1 && gcc::parse_device(cfg.device).is_cuda()) {
    const int gpu = std::max(0, gcc::dist::mpi_launcher_local_rank());  // one GPU per rank of this machine
    cfg.device = "cuda:" + std::to_string(gpu);
    auto* mpi = dynamic_cast<gcc::dist::MpiCommunicator*>(&world);
    GCC_CHECK(mpi != nullptr, "gcc_train: NCCL needs the MPI job to start from (launch with mpirun)");
    nccl = std::make_unique<gcc::dist::NcclCommunicator>(*mpi, gpu);
    train_comm = nccl.get();
  }
#endif
  gcc::train::End2EndTrainer trainer(cfg, data, train_comm);
  trainer.set_progress_output(log);
  if (!a.flag("dump-steps").empty()) trainer.dump_first_steps(a.flag("dump-steps"));
  if (rank0) gcc_examples::lock_run_folder(lock, "gcc_train", out, true);  // after the data loaded: a failed start leaves no folder
  if (!resume.empty()) {
    gcc::train::load_end2end_checkpoint(ck, trainer);  // every rank reads it; rank 0's model is broadcast
    ck = gcc::io::Checkpoint();  // its tensors are in the trainer now
    if (rank0) gcc::io::drop_epochs_from(metrics_path, trainer.next_epoch());
    if (log)
      std::fprintf(log, "gcc_train: resuming at epoch %d step %lld of %d\n", trainer.next_epoch() + 1,
                   static_cast<long long>(trainer.next_step()), cfg.epochs);
  } else if (rank0) {
    std::string comment = "gcc_train configuration (gcc_train --config FILE reproduces the run)";
    if (!plan.empty()) comment += "\n# the automatic " + gcc_examples::comment_lines(plan);
    gcc::io::write_file_atomically(out + "/config.yaml", gcc::train::config_yaml(cfg, comment), "gcc_train");
    gcc::io::drop_epochs_from(metrics_path, 0);
  }
  if (log)
    std::fprintf(log, "gcc_train: %lld training images (phase 1: %lld), %lld evaluation images, model %s width %lld, "
                 "%lld parameters, K = %lld\n",
                 static_cast<long long>(data.phase2->n), static_cast<long long>(data.phase1->n),
                 static_cast<long long>(data.eval->n), cfg.resolved_backbone().c_str(),
                 static_cast<long long>(cfg.base_width), static_cast<long long>(trainer.model().parameter_count()),
                 static_cast<long long>(cfg.num_clusters));

  gcc::train::EvalResult last;
  const int rc = gcc_examples::fit_run(
      "gcc_train", trainer, cfg.epochs, cfg.checkpoint_every, out,
      [&](const EpochReport& r) { return epoch_json(r, trainer); },
      [&](const std::string& path) {
        gcc::train::save_end2end_checkpoint(path, trainer, "gcc_train configuration (gcc_train --config FILE reproduces the run)");
      },
      last, rank0);
  if (rc >= 0 || !rank0) return rc >= 0 ? rc : 0;  // the outputs: rank 0's
  std::vector<std::string> files = gcc::train::write_eval_outputs(out, last, data.eval->class_names);
  if (trainer.has_graph()) {
    gcc::io::write_npy(out + "/neighbours.npy", trainer.state().neighbours, {data.phase2->n, trainer.state().neighbour_k});
    files.push_back("neighbours.npy");
  }
  for (const std::string& f : gcc_examples::write_run_report("gcc_train", out, cfg, *data.eval, last)) files.push_back(f);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const gcc::train::TrainerState& s = trainer.state();
  files.insert(files.begin(), {"checkpoint.safetensors", "metrics.jsonl", "config.yaml"});
  gcc_examples::print_result("gcc_train", secs, last, s.best, cfg.epochs, out, files);
  return 0;
}

// The job: under mpirun an MpiCommunicator over every rank (MPI initialised here, after run_cli may have
// restarted the program), else a SelfCommunicator. A rank's exception stops the whole job with
// "rank R of N: message" (run_rank_guarded); with one process it reaches run_cli's report as usual.
int run_main(int argc, char** argv) {
  gcc::dist::JobWorld world(&argc, &argv, "gcc_train");
  return gcc::dist::run_rank_guarded(world.comm(), [&] { return train_main(argc, argv, world.comm()); });
}

}  // namespace

int main(int argc, char** argv) { return gcc_examples::run_cli("gcc_train", argc, argv, &run_main); }
