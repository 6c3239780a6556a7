// Pictures: the raster canvas (pixels, clipping, font), nice axis ticks, training curves from a
// metrics.jsonl and the cluster gallery (row selection, majority class, PNG output decoded back).
// With $GCC_PICTURES_DEMO_DIR set, the curves and gallery PNGs are also written there to look at.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gcc/io/gallery_png.hpp"
#include "data_test_util.hpp"
#include "gcc/io/plot_png.hpp"
#include "gcc/io/raster.hpp"
#include "gcc/io/stb.hpp"
#include "gcc/train/pictures.hpp"

namespace {

namespace io = gcc::io;

using PicturesTempDir = gcc_test::TempDir;

void pictures_put(const std::string& path, const std::string& text) { gcc_test::write_text(path, text); }

// Width and height of the PNG at `path` as decoded by stb_image (0, 0 when it does not decode).
std::pair<int, int> pictures_png_size(const std::string& path) {
  int w = 0, h = 0, comp = 0;
  unsigned char* px = stbi_load(path.c_str(), &w, &h, &comp, 3);
  if (px == nullptr) return {0, 0};
  stbi_image_free(px);
  return {w, h};
}

// Copies `path` into $GCC_PICTURES_DEMO_DIR (when set) under `name`.
void pictures_keep_demo(const std::string& path, const std::string& name) {
  const char* d = std::getenv("GCC_PICTURES_DEMO_DIR");
  if (d == nullptr || *d == '\0') return;
  std::error_code ec;
  std::filesystem::create_directories(d, ec);
  std::filesystem::copy_file(path, std::string(d) + "/" + name, std::filesystem::copy_options::overwrite_existing, ec);
}

bool pictures_same(io::Rgb a, io::Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

int pictures_count(const io::Canvas& c, io::Rgb colour) {
  int n = 0;
  for (int y = 0; y < c.height; ++y)
    for (int x = 0; x < c.width; ++x) n += pictures_same(c.at(x, y), colour);
  return n;
}

// A 40-epoch run: phase 2 from epoch 20, eval every 5 epochs (when with_eval), graph refresh every 10
// epochs, one null loss (a diverged value written as null) at epoch 7.
std::string pictures_metrics(bool with_eval) {
  std::string s;
  for (int e = 0; e < 40; ++e) {
    const double t = e / 40.0;
    io::JsonObject o;
    o.add("epoch", e).add("phase", e < 20 ? 1 : 2).add("complete", true);
    o.add("lr", 0.4 * 0.5 * (1 + std::cos(3.14159265 * t))).add("images_per_second", 900.0);
    o.add("loss", e == 7 ? std::nan("") : 6.0 - 3.0 * t + 0.1 * std::sin(e)).add("rgc", 5.0 - 2.5 * t);
    o.add("agc", 1.0 - 0.5 * t).add("agc_consistency", 1.2 - 0.6 * t).add("agc_entropy", 2.3 - 0.1 * t);
    if (e % 10 == 9) o.add("knn_accuracy", 0.5 + 0.3 * t);
    if (with_eval && e % 5 == 4) {
      io::JsonObject ev;
      ev.add("acc", 0.2 + 0.6 * t).add("nmi", 0.1 + 0.5 * t).add("ari", 0.05 + 0.4 * t).add("top5", 0.9);
      o.add("eval", ev);
    }
    s += o.str() + "\n";
  }
  return s;
}

}  // namespace

TEST_CASE("pictures: canvas fill, rectangles, lines and clipping") {
  io::Canvas c(20, 10);
  CHECK(c.rgb.size() == 20u * 10u * 3u);
  CHECK(pictures_count(c, io::kWhite) == 200);
  const io::Rgb red{200, 0, 0}, blue{0, 0, 200};
  c.fill_rect(2, 3, 4, 2, red);
  CHECK(pictures_count(c, red) == 8);
  CHECK(pictures_same(c.at(2, 3), red));
  CHECK(pictures_same(c.at(5, 4), red));
  CHECK(pictures_same(c.at(6, 4), io::kWhite));
  c.fill(io::kWhite);
  c.line(0, 0, 19, 0, blue);  // horizontal: every pixel of row 0
  CHECK(pictures_count(c, blue) == 20);
  c.line(0, 0, 9, 9, red);  // diagonal, both ends drawn
  CHECK(pictures_same(c.at(9, 9), red));
  CHECK(pictures_same(c.at(4, 4), red));
  CHECK(pictures_count(c, red) == 10);
  c.fill(io::kWhite);
  c.line(-1000000, 5, 1000000, 5, blue, 3);  // far outside on both sides: clipped, rows 4..6
  CHECK(pictures_count(c, blue) == 60);
  c.line(-50, -50, -10, -80, red);  // entirely outside: nothing
  c.fill_rect(-5, -5, 3, 3, red);
  c.text(-30, -3, "clipped text", red, 3);
  c.polyline({{-5, 2}, {30, 2}, {30, 50}}, red);
  CHECK(pictures_same(c.at(0, 2), red));
  CHECK(pictures_same(c.at(19, 2), red));
  c.fill(io::kWhite);
  c.line(0, 9, 19, 9, blue, 1, 2);  // dashed: 2 on, 2 off
  CHECK(pictures_count(c, blue) == 10);
  CHECK_THROWS_AS(c.at(20, 0), gcc::Error);
  CHECK_THROWS_AS(io::Canvas(0, 5), gcc::Error);
}

TEST_CASE("pictures: blit with integer up- and down-scaling") {
  const std::vector<uint8_t> grey = {10, 20, 30, 40};  // [2, 2, 1]
  io::Canvas c(8, 8);
  c.blit(grey.data(), 2, 2, 1, 1, 1, 3);  // 6x6 at (1, 1)
  CHECK(pictures_same(c.at(1, 1), io::Rgb{10, 10, 10}));
  CHECK(pictures_same(c.at(3, 3), io::Rgb{10, 10, 10}));
  CHECK(pictures_same(c.at(4, 1), io::Rgb{20, 20, 20}));
  CHECK(pictures_same(c.at(6, 6), io::Rgb{40, 40, 40}));
  CHECK(pictures_same(c.at(7, 7), io::kWhite));
  const std::vector<uint8_t> rgb = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // [2, 2, 3]
  c.blit(rgb.data(), 2, 2, 3, 6, 6, 2);  // partly outside: clipped
  CHECK(pictures_same(c.at(7, 7), io::Rgb{1, 2, 3}));
  c.fill(io::kWhite);
  std::vector<uint8_t> big(16 * 16, 0);  // [16, 16, 1], pixel (y, x) = 16 y + x
  for (int i = 0; i < 256; ++i) big[static_cast<std::size_t>(i)] = static_cast<uint8_t>(i);
  c.blit(big.data(), 16, 16, 1, 0, 0, 1, 2);  // 8x8, every other pixel
  CHECK(pictures_same(c.at(1, 1), io::Rgb{34, 34, 34}));
  CHECK(pictures_same(c.at(7, 7), io::Rgb{238, 238, 238}));
  CHECK_THROWS_AS(c.blit(big.data(), 16, 16, 2, 0, 0), gcc::Error);
}

TEST_CASE("pictures: text renders the 5x7 font and text_width matches") {
  CHECK(io::text_width("") == 0);
  CHECK(io::text_width("A") == 5);
  CHECK(io::text_width("Ab1", 2) == 34);
  CHECK(io::text_height(3) == 24);
  std::string all;
  for (int ch = 32; ch <= 126; ++ch) all += static_cast<char>(ch);
  io::Canvas exact(io::text_width(all, 2), io::text_height(2)), roomy(exact.width + 4, exact.height + 4);
  exact.text(0, 0, all, io::kBlack, 2);
  roomy.text(2, 2, all, io::kBlack, 2);
  CHECK(pictures_count(exact, io::kBlack) > 1000);
  CHECK(pictures_count(exact, io::kBlack) == pictures_count(roomy, io::kBlack));  // no ink beyond the metrics
  for (int ch = 33; ch <= 126; ++ch) {  // every printable glyph but the space has ink
    io::Canvas g(5, 8);
    g.text(0, 0, std::string(1, static_cast<char>(ch)), io::kBlack);
    CAPTURE(ch);
    CHECK(pictures_count(g, io::kBlack) > 0);
  }
  CHECK(io::fit_text("a long caption", io::text_width("a long c")) == "a lon...");
  CHECK(io::text_width(io::fit_text("a long caption", 50, 2), 2) <= 50);
}

TEST_CASE("pictures: nice ticks are 3 to 5 rounded numbers") {
  const double ranges[][2] = {{0, 1}, {0.41, 0.43}, {0.9, 5.1}, {0, 49}, {1e-5, 4e-4}, {3, 3}, {0, 0}, {-2, 7}, {12, 60000}};
  for (const auto& r : ranges) {
    for (bool extend : {true, false}) {
      const io::AxisTicks t = io::nice_ticks(r[0], r[1], extend);
      const std::string what = std::to_string(r[0]) + ".." + std::to_string(r[1]) + (extend ? " extended" : "");
      CAPTURE(what);
      CHECK(t.values.size() >= 2);
      CHECK(t.values.size() <= 5);
      CHECK(t.lo <= std::min(r[0], t.values.front()));
      CHECK(t.hi >= std::max(r[1], t.values.back()));
      const double m = t.step / std::pow(10.0, std::floor(std::log10(t.step) + 1e-9));
      CHECK((std::fabs(m - 1) < 1e-9 || std::fabs(m - 2) < 1e-9 || std::fabs(m - 5) < 1e-9));
    }
  }
  const io::AxisTicks t = io::nice_ticks(0.0, 0.7, true);
  CHECK(io::tick_label(t.values[1], t) == "0.2");
  CHECK(io::tick_label(io::nice_ticks(0, 49, false).values[2], io::nice_ticks(0, 49, false)) == "20");
}

TEST_CASE("pictures: training curves PNG from metrics.jsonl") {
  PicturesTempDir dir;
  pictures_put(dir / "metrics.jsonl", pictures_metrics(true));
  const std::vector<std::string> names = gcc::train::write_training_curves_png(dir / "metrics.jsonl", dir / "curves.png");
  REQUIRE(names.size() == 1);
  CHECK(names[0] == "curves.png");
  CHECK(pictures_png_size(dir / "curves.png") == std::make_pair(1040, 660));  // 2 x 2 panels of 520 x 330
  pictures_keep_demo(dir / "curves.png", "curves.png");

  const auto panels = gcc::train::training_curve_panels(io::read_json_lines(dir / "metrics.jsonl"));
  REQUIRE(panels.size() == 4);
  CHECK(panels[0].title == "loss");
  REQUIRE(panels[0].markers.size() == 1);
  CHECK(panels[0].markers[0].x == doctest::Approx(19.5));
  CHECK(std::isnan(panels[0].series[0].points[7].second));  // the null loss: a gap
  CHECK(panels[3].title == "accuracy");
  REQUIRE(panels[3].series.size() == 4);  // acc, nmi, ari, graph knn
  CHECK(panels[3].series[0].points.size() == 8);
  CHECK(panels[3].series[3].name == "graph knn acc");
}

TEST_CASE("pictures: curves without eval lines, self-labelling lines, and errors") {
  PicturesTempDir dir;
  pictures_put(dir / "m.jsonl", pictures_metrics(false));
  gcc::train::write_training_curves_png(dir / "m.jsonl", dir / "c.png");
  CHECK(pictures_png_size(dir / "c.png") == std::make_pair(1040, 660));  // loss, AGC, lr, graph knn
  CHECK(gcc::train::training_curve_panels(io::read_json_lines(dir / "m.jsonl")).size() == 4);

  pictures_put(dir / "sl.jsonl", "{\"epoch\":0,\"loss\":0.9,\"lr\":0.0001}\n{\"epoch\":1,\"loss\":0.7,\"lr\":0.0001}\n");
  gcc::train::write_training_curves_png(dir / "sl.jsonl", dir / "sl.png");
  CHECK(pictures_png_size(dir / "sl.png") == std::make_pair(1040, 330));  // loss, lr

  pictures_put(dir / "one.jsonl", "{\"epoch\":0,\"loss\":0.9}\n");  // one point: still a picture
  gcc::train::write_training_curves_png(dir / "one.jsonl", dir / "one.png");
  CHECK(pictures_png_size(dir / "one.png") == std::make_pair(520, 330));

  pictures_put(dir / "empty.jsonl", "");
  try {
    gcc::train::write_training_curves_png(dir / "empty.jsonl", dir / "e.png");
    FAIL("no error for an empty metrics file");
  } catch (const gcc::Error& e) {
    const std::string what = e.what();
    CHECK(what.find("no epoch lines") != std::string::npos);
    CHECK(what.find(dir / "empty.jsonl") != std::string::npos);
  }
  CHECK_FALSE(io::file_exists(dir / "e.png"));
  CHECK_THROWS_AS(gcc::train::write_training_curves_png(dir / "missing.jsonl", dir / "e.png"), gcc::Error);
  pictures_put(dir / "nothing.jsonl", "{\"epoch\":0,\"seconds\":3}\n");
  CHECK_THROWS_AS(gcc::train::write_training_curves_png(dir / "nothing.jsonl", dir / "e.png"), gcc::Error);
}

TEST_CASE("pictures: gallery rows, order and majority class") {
  // 10 images: cluster 0 = {0, 2, 4, 6}, cluster 2 = the others, cluster 1 empty.
  const std::vector<int> pred = {0, 2, 0, 2, 0, 2, 0, 2, 2, 2};
  std::vector<float> prob(10 * 3, 0.0f);  // [10, 3]
  const float p0[] = {0.5f, 0, 0.9f, 0, 0.5f, 0, 0.7f, 0, 0, 0};
  for (int i = 0; i < 10; ++i) prob[static_cast<std::size_t>(i * 3)] = p0[i], prob[static_cast<std::size_t>(i * 3 + 2)] = 0.1f * static_cast<float>(i);
  const std::vector<int> labels = {1, 0, 1, 0, 0, 0, 1, -1, 2, 2};
  const std::vector<std::string> names = {"zero", "one"};  // label 2 has no name
  const auto s = gcc::train::summarize_clusters(pred, prob.data(), 3, labels, 3);
  REQUIRE(s.size() == 3);
  CHECK(s[0].size == 4);
  CHECK(s[0].top == std::vector<int64_t>{2, 6, 0});  // 0.9, 0.7, then the 0.5 tie by index
  CHECK(s[0].majority_class == 1);
  CHECK(s[0].majority_count == 3);
  CHECK(s[1].size == 0);
  CHECK(s[1].top.empty());
  CHECK(s[1].majority_class == -1);
  CHECK(s[2].top == std::vector<int64_t>{9, 8, 7});
  CHECK(s[2].labelled == 5);  // image 7 is unlabelled
  CHECK(s[2].majority_class == 0);  // 0: {1, 3, 5}, 2: {8, 9}

  const auto rows = gcc::train::gallery_rows(pred, prob.data(), 3, labels, names, 3);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].caption_extra == "mostly 'one' 75%");
  CHECK(rows[1].caption_extra.empty());
  CHECK(rows[2].caption_extra == "mostly 'zero' 60%");
  CHECK(gcc::train::gallery_rows(pred, prob.data(), 3, {}, names, 3)[0].caption_extra.empty());
  const std::vector<int> two = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
  CHECK(gcc::train::gallery_rows(two, prob.data(), 3, two, {}, 3)[2].caption_extra == "mostly '2' 100%");

  const auto capped = gcc::train::gallery_rows(pred, nullptr, 3, labels, names, 2, 1);  // the biggest only
  REQUIRE(capped.size() == 1);
  CHECK(capped[0].cluster == 2);
  CHECK(capped[0].images == std::vector<int64_t>{1, 3});  // no probabilities: index order
  CHECK_THROWS_AS(gcc::train::summarize_clusters({0, 3}, nullptr, 3, {}, 2), gcc::Error);
}

TEST_CASE("pictures: cluster gallery PNG of a small dataset") {
  gcc::ImageDataset d;
  d.n = 30, d.height = 8, d.width = 8, d.channels = 1, d.name = "toy";
  d.class_names = {"stripes", "columns", "checks"};
  d.pixels.resize(30 * 64);  // [30, 8, 8, 1]
  std::vector<int> pred(30), labels(30);
  std::vector<float> prob(30 * 3, 0.0f);  // [30, 3]
  for (int i = 0; i < 30; ++i) {
    const int cls = i % 3;
    labels[static_cast<std::size_t>(i)] = cls;
    pred[static_cast<std::size_t>(i)] = cls == 2 ? 2 : 0;  // cluster 1 stays empty
    prob[static_cast<std::size_t>(i * 3 + pred[static_cast<std::size_t>(i)])] = 1.0f - 0.01f * static_cast<float>(i);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        const bool on = cls == 0 ? y % 2 == 0 : cls == 1 ? x % 2 == 0 : (x + y) % 2 == 0;
        d.pixels[static_cast<std::size_t>(i * 64 + y * 8 + x)] = static_cast<uint8_t>(on ? 255 - 4 * i : 30);
      }
  }
  PicturesTempDir dir;
  gcc::train::write_cluster_gallery(dir / "gallery.png", d, pred, prob.data(), 3, labels, d.class_names);
  const auto size = pictures_png_size(dir / "gallery.png");
  // 8x8 images scaled by 6 to 48 px cells; 10 a row after a 300 px label column, 3 rows under a header.
  CHECK(size.first == 2 * 10 + 300 + 10 * (48 + 2));
  CHECK(size.second == 2 * 10 + (18 + 8) + 3 * (48 + 8));
  pictures_keep_demo(dir / "gallery.png", "gallery.png");

  const io::Canvas c = [&] {
    io::GalleryInput in;
    in.image = [&d](int64_t i) { return d.image(i); };
    in.height = 8, in.width = 8, in.channels = 1, in.per_row = 2;
    in.rows = {{0, 2, {0, 3}, ""}};
    return io::draw_cluster_gallery(in);
  }();
  CHECK(pictures_same(c.at(10 + 300, 10 + 6), io::Rgb{30, 30, 30}));  // image 0, its row 1: off
  CHECK(pictures_same(c.at(10 + 300 + 50, 10), io::Rgb{243, 243, 243}));  // image 3 (second cell), row 0: on
  CHECK(pictures_same(c.at(10 + 300 + 50, 10 + 6), io::Rgb{30, 30, 30}));
  CHECK_THROWS_AS(gcc::train::write_cluster_gallery(dir / "g.png", d, {0, 1}, nullptr, 3, {}, {}), gcc::Error);
  CHECK_FALSE(io::file_exists(dir / "g.png"));

  std::vector<int> own(30);  // K = 70 > 60: the 60 biggest rows (30 of one image, 30 empty), 2 header lines
  for (int i = 0; i < 30; ++i) own[static_cast<std::size_t>(i)] = 2 * i;
  gcc::train::write_cluster_gallery(dir / "g.png", d, own, nullptr, 70, labels, d.class_names, 4);
  CHECK(pictures_png_size(dir / "g.png") == std::make_pair(2 * 10 + 300 + 4 * 50, 2 * 10 + (2 * 18 + 8) + 60 * 56));
}
