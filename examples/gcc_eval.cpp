// gcc_eval: evaluate a checkpoint (gcc_train's, gcc_selflabel's, or a converted release model) on a
// dataset: ACC/NMI/ARI/top-5 (SPEC §6), kNN accuracy of the embeddings, the confusion matrix as CSV and
// PNG, and features / probabilities / predictions / targets as .npy.
//
//   ./build/examples/gcc_eval --checkpoint runs/fashion-mnist-X/checkpoint.safetensors
//   ./build/examples/gcc_eval --checkpoint model.safetensors --preset cifar-10 --data-root ~/data/cifar10
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gcc/gcc.hpp"
#include "gcc/train/checkpoint_model.hpp"
#include "gcc/train/config_file.hpp"
#include "run_cli.hpp"

namespace {

const char* kUsage =
    "usage: gcc_eval --checkpoint FILE [options] [--KEY VALUE ...]\n"
    "\n"
    "Evaluates a checkpoint on a dataset: cluster head 0's argmax over evaluation views (BatchNorm in eval\n"
    "mode), ACC (Hungarian), NMI, ARI and top-5 ACC over the labelled images, and the 5-NN label accuracy of\n"
    "the RGC embeddings when the checkpoint has its contrastive head (gcc_train's do, gcc_selflabel's do\n"
    "not). The model, dataset and evaluation view are those stored in the checkpoint, unless overridden.\n"
    "Writes into the output folder: metrics.json, confusion.csv, confusion.png, predictions.npy [N] int64,\n"
    "targets.npy [N] int64 (-1 = unlabelled), probabilities.npy [N, K], features.npy (the 128-d embeddings,\n"
    "or the backbone features [N, F] for a checkpoint without contrastive head), backbone_features.npy\n"
    "(with --backbone-features), evaluation.json (the figures beside k-means on the pixels and on the\n"
    "features), gallery.png (each cluster's most confident images).\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE    the checkpoint (.safetensors) to evaluate\n"
    "  --preset NAME        dataset preset of a checkpoint that stores no configuration (e.g. converted from\n"
    "                       the release): cifar-10, cifar-20, stl-10, imagenet-10, imagenet-dogs,\n"
    "                       tiny-imagenet, fashion-mnist\n"
    "  --data-root DIR      dataset folder (default: the checkpoint's, else the reader's default); your images:\n"
    "                       --dataset folder|list|idx|npy --data-root PATH [--labels-file F] [--unlabelled]\n"
    "  --out DIR            output folder (default: <checkpoint folder>/eval-<dataset>)\n"
    "  --knn-max N          kNN accuracy only on sets up to N images (default 100000)\n"
    "  --backbone-features  also write the backbone features\n"
    "  --quiet              no progress output\n"
    "  --list-keys          print the configuration used (every key with its value, as YAML) and exit\n"
    "  --KEY VALUE          any config key of gcc_train: --dataset NAME (evaluate on another dataset),\n"
    "                       --eval-set all|train, --num-clusters K (an error if the checkpoint's differs),\n"
    "                       --eval-batch-size N, --threads N, --device cuda ...\n"
    "  --help               this text\n"
    "\n"
    "Exit codes: 0 done, 1 error (corrupt or truncated checkpoint, K mismatch, unknown dataset, ...),\n"
    "2 bad command line.\n";

std::string dirname_of(const std::string& path) {
  const std::size_t s = path.find_last_of('/');
  return s == std::string::npos ? "." : (s == 0 ? "/" : path.substr(0, s));
}

int run_main(int argc, char** argv) {
  using gcc::train::Stage;
  const gcc_examples::CliSpec spec{"gcc_eval", kUsage, {"checkpoint", "preset", "out", "knn-max", "data-root"},
                                   {"quiet", "backbone-features", "list-keys", "unlabelled"}, Stage::End2End};
  gcc_examples::CliArgs a;
  if (const int rc = gcc_examples::parse_cli(argc, argv, spec, a); rc >= 0) return rc;
  const std::string checkpoint = a.flag("checkpoint");
  if (checkpoint.empty()) {
    std::fprintf(stderr, "gcc_eval: --checkpoint FILE is required (see --help)\n");
    return 2;
  }
  const gcc::io::Checkpoint ck = gcc::io::Checkpoint::load(checkpoint);
  gcc::train::Config cfg = gcc::train::checkpoint_config(ck, a.flag("preset"));
  gcc_examples::apply_overrides(cfg, a, Stage::End2End);
  gcc::train::validate(cfg);
  if (a.has("list-keys")) {
    std::fputs(gcc::train::config_yaml(cfg, "gcc_eval configuration").c_str(), stdout);
    return 0;
  }
  gcc_examples::apply_threads(cfg.threads);
  gcc::train::CheckpointEvalOptions o;
  if (!a.flag("knn-max").empty()) o.knn_max = std::atoll(a.flag("knn-max").c_str());
  o.backbone_features = a.has("backbone-features");
  const bool quiet = a.has("quiet");
  o.progress = quiet ? nullptr : stderr;
  const auto t0 = std::chrono::steady_clock::now();
  if (!quiet) std::fprintf(stderr, "gcc_eval: evaluating %s (%d threads)\n", checkpoint.c_str(), gcc::num_threads());
  const std::shared_ptr<const gcc::ImageDataset> images = gcc::train::evaluation_images(cfg);
  const gcc::train::CheckpointEvaluation r = gcc::train::evaluate_checkpoint(ck, cfg, o, images);
  const gcc::train::EvalResult& e = r.eval;
  const std::string out = !a.flag("out").empty() ? a.flag("out") : dirname_of(checkpoint) + "/eval-" + r.config.dataset;
  gcc::io::make_dirs(out);
  std::vector<std::string> files = gcc::train::write_eval_outputs(out, e, r.class_names, r.backbone_features);
  gcc::io::JsonObject j;
  j.add("checkpoint", checkpoint).add("setup", r.setup).add("epoch", r.epoch).add("dataset", r.config.dataset);
  j.add("images", r.dataset_name).add("num_clusters", r.config.num_clusters);
  j.add("features", std::string(r.has_contrastive_head ? "embedding" : "backbone"));
  j.add("metrics", gcc::train::eval_json(e));
  gcc::io::write_file_atomically(out + "/metrics.json", j.str() + "\n", "gcc_eval");
  files.insert(files.begin(), "metrics.json");

  for (const std::string& f : gcc_examples::write_run_report("gcc_eval", out, r.config, *images, e)) files.push_back(f);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("gcc_eval: %s (%s%s, K = %lld) on %lld images of %s (%lld labelled):\n", checkpoint.c_str(),
              r.setup.empty() ? (r.has_contrastive_head ? "end-to-end model" : "model") : r.setup.c_str(),
              r.epoch >= 0 ? (", " + std::to_string(r.epoch) + " epochs").c_str() : "",
              static_cast<long long>(r.config.num_clusters), static_cast<long long>(e.predictions.size()),
              r.dataset_name.c_str(), static_cast<long long>(e.evaluated));
  std::printf("gcc_eval:   %s\n", gcc::train::eval_summary(e).c_str());
  if (e.knn_accuracy >= 0)
    std::printf("gcc_eval:   5-NN accuracy of the embeddings %.4f\n", e.knn_accuracy);
  else if (r.has_contrastive_head)
    std::printf("gcc_eval:   kNN accuracy not computed (%lld images > --knn-max %lld, or unlabelled images)\n",
                static_cast<long long>(e.probabilities.size(0)), static_cast<long long>(o.knn_max));
  else
    std::printf("gcc_eval:   no kNN accuracy: the checkpoint has no contrastive head (features.npy holds the backbone "
                "features)\n");
  std::printf("gcc_eval: done in %.1f s; outputs in %s/ (%s)\n", secs, out.c_str(), gcc_examples::join(files).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return gcc_examples::run_cli("gcc_eval", argc, argv, &run_main); }
