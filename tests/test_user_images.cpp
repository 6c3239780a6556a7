// A user's own images: the four sources (folder with and without classes, list file, IDX, .npy), their
// errors (each naming the file and what was expected), the automatic plan's schedule rules, unlabelled
// evaluation and the k-means baselines.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "data_test_util.hpp"
#include "gcc/data/user_images.hpp"
#include "gcc/io/npy.hpp"
#include "gcc/train/auto_plan.hpp"
#include "gcc/train/baseline.hpp"
#include "gcc/train/evaluate.hpp"

namespace {

using gcc_test::error_of;
using gcc_test::has;

// n grey s x s images, image i filled with value 10 * i (so images are told apart).
std::vector<uint8_t> user_images_pixels(int n, int s, int c = 1) {
  std::vector<uint8_t> v(static_cast<std::size_t>(n * s * s * c));
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < s * s * c; ++k) v[static_cast<std::size_t>(i * s * s * c + k)] = static_cast<uint8_t>(10 * i + k % 3);
  return v;
}

gcc::UserImages user_images_read(const std::string& kind, const std::string& path, const std::string& labels = "",
                                 int size = 0) {
  gcc::UserImagesOptions o;
  o.kind = kind;
  o.path = path;
  o.labels_path = labels;
  o.image_size = size;
  o.use_cache = false;
  return gcc::read_user_images(o);
}

}  // namespace

TEST_CASE("user images: .npy arrays [N,H,W] and [N,H,W,C], labels, and their errors") {
  gcc_test::TempDir dir;
  const std::vector<uint8_t> px = user_images_pixels(6, 4, 3);
  gcc::io::write_npy_u8(dir / "x.npy", px.data(), {6, 4, 4, 3});
  gcc::io::write_npy(dir / "y.npy", std::vector<int64_t>{0, 1, 2, 0, 1, -1});
  gcc::UserImages u = user_images_read("npy", dir / "x.npy", dir / "y.npy");
  CHECK(u.images.n == 6);
  CHECK(u.images.channels == 3);
  CHECK(u.images.labels == std::vector<int>{0, 1, 2, 0, 1, -1});
  CHECK(u.images.num_classes() == 3);
  CHECK(u.images.image(2)[0] == px[2 * 48]);
  CHECK(u.labelled());
  gcc::io::write_npy_u8(dir / "g.npy", px.data(), {6, 8, 6});  // grey, not square
  u = user_images_read("npy", dir / "g.npy");
  CHECK(u.images.channels == 1);
  CHECK(!u.labelled());
  CHECK(user_images_read("npy", dir / "g.npy", "", 4).images.height == 4);  // resized to 4 x 4
  gcc::io::write_npy(dir / "f.npy", std::vector<float>(16, 0.f), {1, 4, 4});
  CHECK(has(error_of([&] { user_images_read("npy", dir / "f.npy"); }), "expected uint8"));
  gcc::io::write_npy_u8(dir / "r.npy", px.data(), {6, 48});
  CHECK(has(error_of([&] { user_images_read("npy", dir / "r.npy"); }), "expected [N, H, W] or [N, H, W, C]"));
  gcc::io::write_npy(dir / "short.npy", std::vector<int64_t>{0, 1});
  const std::string e = error_of([&] { user_images_read("npy", dir / "x.npy", dir / "short.npy"); });
  CHECK(has(e, "short.npy"));
  CHECK(has(e, "expected [6]"));
  gcc::io::write_npy(dir / "fl.npy", std::vector<float>(6, 1.f));
  CHECK(has(error_of([&] { user_images_read("npy", dir / "x.npy", dir / "fl.npy"); }), "integer labels"));
}

TEST_CASE("user images: folders with and without classes, unreadable files skipped, mixed sizes refused") {
  gcc_test::TempDir dir;
  for (int i = 0; i < 3; ++i) {
    gcc_test::write_png(dir / ("cls/a/" + std::to_string(i) + ".png"), 8, 8, 1, std::vector<uint8_t>(64, 20));
    gcc_test::write_png(dir / ("cls/b/" + std::to_string(i) + ".png"), 8, 8, 1, std::vector<uint8_t>(64, 200));
    gcc_test::write_png(dir / ("flat/" + std::to_string(i) + ".png"), 8, 8, 3, std::vector<uint8_t>(192, 90));
  }
  gcc::UserImages u = user_images_read("folder", dir / "cls");
  CHECK(u.images.n == 6);
  CHECK(u.images.class_names == std::vector<std::string>{"a", "b"});
  CHECK(u.paths.size() == 6);
  CHECK(has(u.paths[0], "a/0.png"));
  gcc::UserImagesOptions o;
  o.kind = "folder";
  o.path = dir / "cls";
  o.unlabelled = true;
  o.use_cache = false;
  CHECK(!gcc::read_user_images(o).labelled());
  u = user_images_read("folder", dir / "flat");
  CHECK(u.images.channels == 3);
  CHECK(!u.labelled());
  gcc_test::write_text(dir / "flat/zz_broken.png", "not a png at all");
  u = user_images_read("folder", dir / "flat");
  CHECK(u.images.n == 3);
  REQUIRE(u.skipped.size() == 1);
  CHECK(has(u.skipped[0], "zz_broken.png"));
  gcc_test::write_png(dir / "flat/zz_big.png", 10, 8, 3, std::vector<uint8_t>(240, 90));
  const std::string e = error_of([&] { user_images_read("folder", dir / "flat"); });
  CHECK(has(e, "zz_big.png"));
  CHECK(has(e, "--image-size"));
  CHECK(user_images_read("folder", dir / "flat", "", 8).images.n == 4);  // resizing accepts mixed sizes
  gcc_test::make_dirs(dir / "empty");
  CHECK(has(error_of([&] { user_images_read("folder", dir / "empty"); }), "holds no image files"));
}

TEST_CASE("user images: list files with and without labels; IDX without labels; a lying IDX header") {
  gcc_test::TempDir dir;
  for (int i = 0; i < 2; ++i) gcc_test::write_png(dir / ("img/" + std::to_string(i) + ".png"), 8, 8, 1, std::vector<uint8_t>(64, 9));
  gcc_test::write_text(dir / "l.txt", "img/0.png 1\nimg/1.png 0\n");
  CHECK(user_images_read("list", dir / "l.txt").images.labels == std::vector<int>{1, 0});
  gcc_test::write_text(dir / "u.txt", "img/0.png\nimg/1.png\n");
  CHECK(user_images_read("list", dir / "u.txt").images.labels == std::vector<int>{-1, -1});
  gcc_test::write_text(dir / "m.txt", "img/0.png 1\nimg/1.png\n");
  CHECK(has(error_of([&] { user_images_read("list", dir / "m.txt"); }), "on every line"));
  gcc_test::write_text(dir / "neg.txt", "img/0.png -1\n");
  CHECK(has(error_of([&] { user_images_read("list", dir / "neg.txt"); }), "non-negative integer"));
  // IDX: 2 images of 2 x 2, no labels file
  std::vector<uint8_t> idx = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
  gcc_test::write_bytes(dir / "i.idx", idx);
  const gcc::UserImages u = user_images_read("idx", dir / "i.idx");
  CHECK(u.images.n == 2);
  CHECK(!u.labelled());
  idx[4] = 0x40;  // claims 1,073,741,826 images: a truncation error, not an allocation of 4 GB
  gcc_test::write_bytes(dir / "lie.idx", idx);
  CHECK(has(error_of([&] { user_images_read("idx", dir / "lie.idx"); }), "truncated"));
}

TEST_CASE("user images: pixel statistics") {
  gcc::ImageDataset d;
  d.n = 2;
  d.height = d.width = 1;
  d.channels = 1;
  d.pixels = {0, 255};
  std::vector<double> mean, stdev;
  gcc::pixel_stats(d, mean, stdev);
  CHECK(mean[0] == doctest::Approx(0.5));
  CHECK(stdev[0] == doctest::Approx(0.5));
}

TEST_CASE("auto plan: schedule rules for small and large sets") {
  std::vector<std::string> why;
  gcc::train::Config c = gcc::train::preset("auto");
  gcc::train::plan_detail::plan_schedule(c, 1000, 2e-3, 500, why);  // 1,000 images, 2 ms a sample, 500 s
  CHECK(c.train_subset == 0);
  CHECK(c.epochs >= 100);
  CHECK(c.batch_size >= 64);
  CHECK(c.batch_size <= 256);
  CHECK(c.switch_epoch < c.epochs - 1);  // some phase-2 epochs
  CHECK(c.epochs - 1 - c.switch_epoch == static_cast<int>(std::lround(0.25 * c.epochs)));
  gcc::train::plan_detail::plan_schedule(c, 70000, 2e-3, 500, why);
  CHECK(c.train_subset > 2000);
  CHECK(c.train_subset < 70000);
  CHECK(c.epochs >= 16);
  CHECK(c.eval_set == "all");
  gcc::train::plan_detail::plan_schedule(c, 300, 2e-3, 5, why);  // a tiny budget: at least 4 epochs, batch <= N/4
  CHECK(c.epochs >= 4);
  CHECK(c.batch_size <= 75);
  c = gcc::train::preset("auto");
  c.minutes = 0;
  gcc::ImageDataset d;
  CHECK(has(error_of([&] { gcc::train::plan_auto(c, d); }), "minutes"));
}

TEST_CASE("evaluation without labels: diagnostics only; the k-means baselines") {
  gcc::ImageDataset ev;
  ev.n = 6;
  ev.height = ev.width = 2;
  ev.channels = 1;
  ev.pixels = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 250, 250, 250, 250, 251, 251, 251, 251, 252, 252, 252, 252};
  ev.labels.assign(6, -1);
  gcc::train::EvalResult r;
  r.probabilities = gcc::Tensor::from_vector({0.9f, 0.1f, 0.8f, 0.2f, 0.7f, 0.3f, 0.1f, 0.9f, 0.2f, 0.8f, 0.4f, 0.6f}, gcc::Shape{6, 2});
  r.predictions.assign(6, 0);
  r.labels.assign(6, -1);
  gcc::train::EvalOptions o;
  gcc::train::detail::score(r, ev, o);
  CHECK(!r.labelled());
  CHECK(r.metrics.acc == -1);
  CHECK(r.cluster_sizes == std::vector<int64_t>{3, 3});
  CHECK(r.mean_confidence == doctest::Approx((0.9 + 0.8 + 0.7 + 0.9 + 0.8 + 0.6) / 6));
  CHECK(has(gcc::train::eval_summary(r), "no labels"));
  CHECK(!has(gcc::train::eval_json(r).str(), "\"acc\""));
  const gcc::train::Baselines b = gcc::train::kmeans_baselines(ev, r, 2, 0);
  CHECK(b.pixels.done);
  CHECK(b.pixels.nmi_with_gcc == doctest::Approx(1.0));  // k-means finds the same two groups
  CHECK(b.pixels.metrics.acc == -1);
  ev.labels = {0, 0, 0, 1, 1, 1};
  r.labels = ev.labels;
  gcc::train::detail::score(r, ev, o);
  CHECK(r.labelled());
  CHECK(r.metrics.acc == doctest::Approx(1.0));
  CHECK(gcc::train::kmeans_baselines(ev, r, 2, 0).pixels.metrics.acc == doctest::Approx(1.0));
}
