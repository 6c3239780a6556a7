// gcc_predict: a trained model assigns images to its clusters -- a run's checkpoint plus a folder, list
// file, IDX file or .npy array of images -> a CSV of (index, path, cluster, confidence, top-3 clusters),
// the features and probabilities as .npy. Batch inference on the CPU, or on a GPU with gcc_predict_cuda
// (the same program built with the CUDA backend, gcc_predict_cuda.cu) and --device cuda.
//
//   ./build/examples/gcc_predict --run runs/folder-20261203-120000 --dataset folder --data-root ~/new_photos
//   ./build/examples/gcc_predict --checkpoint model.safetensors --dataset npy --data-root images.npy --out preds
#include <algorithm>
#include <chrono>
#include <numeric>
#include <cstdio>
#include <string>
#include <vector>

#include "gcc/gcc.hpp"
#include "gcc/train/checkpoint_model.hpp"
#include "gcc/train/config_file.hpp"
#include "run_cli.hpp"

namespace {

const char* kUsage =
    "usage: gcc_predict (--run DIR | --checkpoint FILE) [--dataset KIND --data-root PATH] [options]\n"
    "\n"
    "Assigns images to the clusters of a trained model (gcc_train's or gcc_selflabel's checkpoint): cluster\n"
    "head 0's softmax over the evaluation view the model was trained with (the run's image size, channels\n"
    "and normalisation). Writes into the output folder:\n"
    "  predictions.csv      index,path,cluster,confidence,top3 (one line per image; path empty for arrays;\n"
    "                       top3: the three most probable clusters, most probable first, ';'-separated)\n"
    "  predictions.npy [N] int64, probabilities.npy [N, K], features.npy (the 128-d embeddings, or the backbone\n"
    "  features for a model without contrastive head), targets.npy [N] (-1 = unlabelled), and with labels\n"
    "  confusion.csv / confusion.png.\n"
    "\n"
    "options:\n"
    "  --run DIR            a gcc_train / gcc_selflabel output folder (its checkpoint.safetensors)\n"
    "  --checkpoint FILE    a checkpoint file\n"
    "  --dataset KIND       folder, list, idx, npy (your images), or a dataset name; default: the run's\n"
    "  --data-root PATH     the folder / list file / IDX images file / .npy images array; default: the run's\n"
    "  --labels-file FILE   idx / npy labels (optional; ACC etc. are then reported)\n"
    "  --unlabelled         ignore labels (class sub-folders, list labels)\n"
    "  --out DIR            output folder (default: <run>/predict-<dataset>)\n"
    "  --device D           cpu, or with gcc_predict_cuda: cuda, cuda:N (default auto: a GPU when there is one);\n"
    "                       --eval-batch-size N; --threads N\n"
    "  --quiet              no progress output\n"
    "  --help               this text\n"
    "\n"
    "Exit codes: 0 done, 1 error (unreadable images, a model/data mismatch, ...), 2 bad command line.\n";

// index,path,cluster,confidence,top3 for every image.
void write_predictions_csv(const std::string& path, const gcc::train::EvalResult& r, const std::vector<std::string>& paths) {
  const int64_t n = r.probabilities.size(0), K = r.probabilities.size(1);
  std::string s = "index,path,cluster,confidence,top3\n";
  const float* p = r.probabilities.data();
  const int64_t top = std::min<int64_t>(3, K);
  std::vector<int64_t> order(static_cast<std::size_t>(K));  // [K] cluster ids, reordered per image
  for (int64_t i = 0; i < n; ++i) {
    std::iota(order.begin(), order.end(), int64_t{0});
    std::partial_sort(order.begin(), order.begin() + top, order.end(),
                      [&](int64_t a, int64_t b) { return p[i * K + a] > p[i * K + b] || (p[i * K + a] == p[i * K + b] && a < b); });
    std::string file = i < static_cast<int64_t>(paths.size()) ? paths[static_cast<std::size_t>(i)] : "";
    if (file.find_first_of(",\"\n") != std::string::npos) {  // CSV quoting
      std::string q = "\"";
      for (char c : file) q += c == '"' ? std::string("\"\"") : std::string(1, c);
      file = q + "\"";
    }
    const int c = r.predictions[static_cast<std::size_t>(i)];
    char buf[96];
    std::snprintf(buf, sizeof buf, ",%d,%.6f,", c, static_cast<double>(p[i * K + c]));
    s += std::to_string(i) + "," + file + buf;
    for (int64_t t = 0; t < top; ++t) s += (t ? ";" : "") + std::to_string(order[static_cast<std::size_t>(t)]);
    s += "\n";
  }
  gcc::io::write_file_atomically(path, s, "gcc_predict");
}

int run_main(int argc, char** argv) {
  using gcc::train::Stage;
  const gcc_examples::CliSpec spec{"gcc_predict", kUsage, {"run", "checkpoint", "out", "data-root"},
                                   {"quiet", "unlabelled"}, Stage::End2End};
  gcc_examples::CliArgs a;
  if (const int rc = gcc_examples::parse_cli(argc, argv, spec, a); rc >= 0) return rc;
  if (a.flag("run").empty() == a.flag("checkpoint").empty()) {
    std::fprintf(stderr, "gcc_predict: give one of --run DIR or --checkpoint FILE (see --help)\n");
    return 2;
  }
  const std::string checkpoint = !a.flag("checkpoint").empty() ? a.flag("checkpoint") : a.flag("run") + "/checkpoint.safetensors";
  const gcc::io::Checkpoint ck = gcc::io::Checkpoint::load(checkpoint);
  GCC_CHECK(ck.has_config(), "'", checkpoint, "' stores no configuration (a converted release model?); use gcc_eval "
            "with --preset for it");
  gcc::train::Config cfg = gcc::train::checkpoint_config(ck);
  cfg.device = "auto";  // the GPU when this program has the CUDA backend and one is usable, else the CPU
  cfg.threads = 0;      // all cores, unless --threads says otherwise
  gcc_examples::apply_overrides(cfg, a, Stage::End2End);
  cfg.auto_plan = false;
  gcc::train::validate(cfg);
  gcc_examples::apply_threads(cfg.threads);
  const bool quiet = a.has("quiet");
  std::FILE* log = quiet ? nullptr : stderr;
  const auto t0 = std::chrono::steady_clock::now();

  std::shared_ptr<const gcc::ImageDataset> images;
  std::vector<std::string> paths;
  if (gcc::is_user_image_kind(cfg.dataset)) {
    gcc::UserImages u = gcc_examples::read_user_images_logged(cfg, "gcc_predict", log);
    paths = std::move(u.paths);
    images = std::make_shared<const gcc::ImageDataset>(std::move(u.images));
  }
  gcc::train::CheckpointEvalOptions o;
  o.progress = log;
  const gcc::train::CheckpointEvaluation r = gcc::train::evaluate_checkpoint(ck, cfg, o, images);
  const std::string base = !a.flag("run").empty() ? a.flag("run") : ".";
  const std::string out = !a.flag("out").empty() ? a.flag("out") : base + "/predict-" + cfg.dataset;
  gcc::io::make_dirs(out);
  std::vector<std::string> files = {"predictions.csv"};
  write_predictions_csv(out + "/predictions.csv", r.eval, paths);
  for (const std::string& f : gcc::train::write_eval_outputs(out, r.eval, r.class_names, r.backbone_features)) files.push_back(f);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("gcc_predict: %lld images of %s assigned to %lld clusters in %.1f s: %s\n",
              static_cast<long long>(r.eval.predictions.size()), r.dataset_name.c_str(),
              static_cast<long long>(cfg.num_clusters), secs, gcc::train::eval_summary(r.eval).c_str());
  std::printf("gcc_predict: outputs in %s/ (%s)\n", out.c_str(), gcc_examples::join(files).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return gcc_examples::run_cli("gcc_predict", argc, argv, &run_main); }
