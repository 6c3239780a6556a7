// Augmentation (include/gcc/data/augment*.hpp) against torchvision 0.14 / PIL 9.4 on PIL images
// (tests/fixtures/augment.bin, written by data_scripts/make_augment_reference.py): every deterministic
// step within 1 uint8 unit (the worst difference of each operation is printed; all are 0 when this
// was written), whole views with given random choices, and the random choices statistically.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fixture.hpp"
#include "gcc/data/augment.hpp"
#include "gradcheck.hpp"

using gcc::Rng;
using gcc::Tensor;
using namespace gcc::data;
using gcc_test::Fixture;

namespace {

struct Img {
  int h = 0, w = 0, c = 0;
  std::vector<uint8_t> px;
  int64_t pixels() const { return static_cast<int64_t>(h) * w; }
};

Img to_img(const Tensor& t) {
  REQUIRE(t.dims() == 3);
  Img m{static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), static_cast<int>(t.size(2)), {}};
  bool ok = true;
  for (float v : t.to_vector()) {
    ok = ok && v >= 0.f && v <= 255.f && v == std::round(v);
    m.px.push_back(static_cast<uint8_t>(v));
  }
  REQUIRE_MESSAGE(ok, "a fixture image holds a value that is not a uint8");
  return m;
}

const Fixture& fx() {
  static const Fixture f = Fixture::load("augment.bin");
  return f;
}
Img src(const std::string& s) { return to_img(fx().get("src/" + s)); }

// Case prefixes "<kind>/<src>/<k>" (or "strong/<op>/<src>/<k>") found through their "/out" tensors.
std::vector<std::string> cases(const std::string& kind) {
  std::vector<std::string> out;
  for (const std::string& n : fx().names(kind + "/"))
    if (n.size() > 4 && n.compare(n.size() - 4, 4, "/out") == 0) out.push_back(n.substr(0, n.size() - 4));
  return out;
}
std::string source_of(const std::string& prefix, int index) {  // the index-th '/'-separated field
  std::stringstream ss(prefix);
  std::string field;
  for (int i = 0; i <= index; ++i) std::getline(ss, field, '/');
  return field;
}

// Worst |difference| in uint8 units per operation; each case must be within `tol` units.
class UnitTracker {
 public:
  void check(const std::string& op, const std::string& what, const Img& got, const Img& expect, int tol = 1) {
    REQUIRE_MESSAGE(got.h == expect.h, what << ": height " << got.h << " vs " << expect.h);
    REQUIRE_MESSAGE(got.w == expect.w, what << ": width " << got.w << " vs " << expect.w);
    REQUIRE_MESSAGE(got.c == expect.c, what << ": channels " << got.c << " vs " << expect.c);
    int worst = 0;
    int64_t differ = 0, at = -1;
    for (std::size_t i = 0; i < got.px.size(); ++i) {
      const int d = std::abs(static_cast<int>(got.px[i]) - static_cast<int>(expect.px[i]));
      if (d) ++differ;
      if (d > worst) {
        worst = d;
        at = static_cast<int64_t>(i);
      }
    }
    CHECK_MESSAGE(worst <= tol, what << ": element " << at << " differs by " << worst << " (got "
                                     << (at >= 0 ? int(got.px[static_cast<std::size_t>(at)]) : 0) << ", expected "
                                     << (at >= 0 ? int(expect.px[static_cast<std::size_t>(at)]) : 0) << "), " << differ
                                     << " of " << got.px.size() << " values differ");
    Entry& e = ops_[op];
    e.worst = std::max(e.worst, worst);
    e.differ += differ;
    e.values += static_cast<int64_t>(got.px.size());
    ++e.cases;
  }
  void report(const std::string& group) const {
    std::ostringstream os;
    os << group << ": worst uint8 difference per op (cases, values differing / compared):";
    for (const auto& kv : ops_)
      os << "\n  " << kv.first << ": " << kv.second.worst << " (" << kv.second.cases << " cases, " << kv.second.differ
         << "/" << kv.second.values << ")";
    MESSAGE(os.str());
  }

 private:
  struct Entry {
    int worst = 0;
    int64_t differ = 0, values = 0;
    int cases = 0;
  };
  std::map<std::string, Entry> ops_;
};

std::array<float, 3> triple(const Tensor& t) {
  std::array<float, 3> a{0.f, 0.f, 0.f};
  const std::vector<float> v = t.to_vector();
  for (std::size_t i = 0; i < v.size() && i < 3; ++i) a[i] = v[i];
  return a;
}

// Normalised outputs: the difference in uint8 units is |a - e| * 255 * std of the channel. Each
// element must be within 1 unit (+1e-5 for float rounding); returns the worst in units.
double check_normalised(const std::string& what, const std::vector<float>& got, const Tensor& expect,
                        const std::array<float, 3>& stdev, int channels) {
  const std::vector<float> e = expect.to_vector();
  REQUIRE(got.size() == e.size());
  const std::size_t plane = e.size() / static_cast<std::size_t>(channels);
  double worst = 0, worst_abs = 0;
  std::size_t at = 0;
  int64_t differ = 0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - e[i]);
    const double units = d * 255.0 * stdev[i / plane];
    if (d > 1e-5) ++differ;
    if (units > worst) {
      worst = units;
      worst_abs = d;
      at = i;
    }
  }
  MESSAGE(what << ": worst difference " << worst_abs << " (" << worst << " uint8 units), " << differ << " of "
               << e.size() << " values off by more than 1e-5");
  CHECK_MESSAGE(worst <= 1.0 + 1e-3, what << ": element " << at << " got " << got[at] << ", expected " << e[at]);
  return worst;
}

}  // namespace

TEST_CASE("augment: PIL bilinear resize and crop-then-resize match torchvision") {
  UnitTracker t;
  for (const std::string& p : cases("resize")) {
    const Img s = src(source_of(p, 1));
    const std::vector<int64_t> size = fx().ints(p + "/size");
    Img out{static_cast<int>(size[0]), static_cast<int>(size[1]), s.c, {}};
    out.px.resize(static_cast<std::size_t>(out.h * out.w * out.c));
    resize_bilinear(s.px.data(), s.h, s.w, s.c, out.px.data(), out.h, out.w);
    t.check("resize", p, out, to_img(fx().get(p + "/out")));
  }
  for (const std::string& p : cases("crop")) {
    const Img s = src(source_of(p, 1));
    const std::vector<int64_t> b = fx().ints(p + "/box");
    const int S = static_cast<int>(b[4]);
    Img out{S, S, s.c, {}};
    out.px.resize(static_cast<std::size_t>(S * S * s.c));
    resized_crop(
        s.px.data(), s.h, s.w, s.c,
        CropBox{static_cast<int>(b[0]), static_cast<int>(b[1]), static_cast<int>(b[2]), static_cast<int>(b[3])},
        out.px.data(), S, S);
    t.check("resized_crop", p, out, to_img(fx().get(p + "/out")));
  }
  t.report("geometry");
}

TEST_CASE("augment: colour jitter ops, grayscale and flip match torchvision") {
  UnitTracker t;
  for (const std::string op : {"brightness", "contrast", "saturation", "hue"}) {
    const std::vector<std::string> cs = cases(op);
    CHECK(cs.size() >= 3);
    for (const std::string& p : cs) {
      Img x = src(source_of(p, 1));
      const double f = fx().scalar(p + "/factor");
      if (op == "brightness") adjust_brightness(x.px.data(), x.pixels(), x.c, f);
      if (op == "contrast") adjust_contrast(x.px.data(), x.pixels(), x.c, f);
      if (op == "saturation") adjust_saturation(x.px.data(), x.pixels(), x.c, f);
      if (op == "hue") adjust_hue(x.px.data(), x.pixels(), x.c, f);
      t.check(op, p + " factor " + std::to_string(f), x, to_img(fx().get(p + "/out")));
    }
  }
  for (const std::string& p : cases("gray")) {
    Img x = src(source_of(p, 1));
    rgb_to_grayscale(x.px.data(), x.pixels(), x.c);
    t.check("grayscale", p, x, to_img(fx().get(p + "/out")));
  }
  for (const std::string& p : cases("flip")) {
    Img x = src(source_of(p, 1));
    hflip(x.px.data(), x.h, x.w, x.c);
    t.check("hflip", p, x, to_img(fx().get(p + "/out")), 0);
  }
  t.report("colour");
}

TEST_CASE("augment: ToTensor + Normalize and the evaluation view match torchvision") {
  for (const std::string& p : cases("norm")) {
    const Img x = src(source_of(p, 1));
    const std::array<float, 3> mean = triple(fx().get(p + "/mean")), stdev = triple(fx().get(p + "/std"));
    const Normalizer norm(x.c, mean.data(), stdev.data());
    std::vector<float> out(static_cast<std::size_t>(x.pixels() * x.c));
    norm.apply(x.px.data(), x.h, x.w, x.c, static_cast<int64_t>(x.w) * x.c, out.data());
    const std::vector<float> e = fx().get(p + "/out").to_vector();
    float worst = 0;
    for (std::size_t i = 0; i < e.size(); ++i) worst = std::max(worst, std::fabs(out[i] - e[i]));
    MESSAGE(p << ": worst |difference| " << worst);
    CHECK(worst <= 1e-6f);  // the same float32 operations: exact
  }
  for (const std::string& p : cases("eval")) {
    const Img x = src(source_of(p, 1));
    const std::vector<int64_t> rc = fx().ints(p + "/params");
    EvalParams ep;
    ep.resize = static_cast<int>(rc[0]);
    ep.crop = static_cast<int>(rc[1]);
    ep.channels = x.c;
    ep.mean = triple(fx().get(p + "/mean"));
    ep.std = triple(fx().get(p + "/std"));
    const EvalView view(ep);
    std::vector<float> out(static_cast<std::size_t>(view.out_numel()));
    Rng rng(1);
    view(x.px.data(), x.h, x.w, x.c, rng, out.data());
    check_normalised("eval view " + p, out, fx().get(p + "/out"), ep.std, x.c);
  }
}

TEST_CASE("augment: the 14 strong operations match SCAN's PIL calls") {
  UnitTracker t;
  const std::map<std::string, StrongOp> by_name = {{"autocontrast", StrongOp::AutoContrast},
                                                   {"equalize", StrongOp::Equalize},
                                                   {"rotate", StrongOp::Rotate},
                                                   {"solarize", StrongOp::Solarize},
                                                   {"posterize", StrongOp::Posterize},
                                                   {"color", StrongOp::Color},
                                                   {"contrast", StrongOp::Contrast},
                                                   {"brightness", StrongOp::Brightness},
                                                   {"sharpness", StrongOp::Sharpness},
                                                   {"shearx", StrongOp::ShearX},
                                                   {"sheary", StrongOp::ShearY},
                                                   {"translatex", StrongOp::TranslateX},
                                                   {"translatey", StrongOp::TranslateY}};
  std::set<std::string> seen;
  for (const std::string& p : cases("strong")) {
    const std::string name = source_of(p, 1);
    REQUIRE_MESSAGE(by_name.count(name), "unknown strong op in the fixture: " << name);
    Img x = src(source_of(p, 2));
    const double v = fx().scalar(p + "/value");
    const StrongOp op = by_name.at(name);
    std::vector<uint8_t> spare(x.px.size());
    if (op == StrongOp::TranslateX) {  // the fixture gives pixels; apply_strong_op takes a fraction of the size
      translate_x(x.px.data(), x.h, x.w, x.c, v, spare.data());
      x.px = spare;
    } else if (op == StrongOp::TranslateY) {
      translate_y(x.px.data(), x.h, x.w, x.c, v, spare.data());
      x.px = spare;
    } else {
      apply_strong_op(op, v, x.px.data(), spare.data(), x.h, x.w, x.c);
    }
    t.check(name, p + " value " + std::to_string(fx().scalar(p + "/value")), x, to_img(fx().get(p + "/out")));
    seen.insert(name);
  }
  CHECK(seen.size() == 13);  // + identity, which is checked below
  Img a = src("a"), b = a;
  std::vector<uint8_t> spare(a.px.size());
  apply_strong_op(StrongOp::Identity, 0.7, b.px.data(), spare.data(), b.h, b.w, b.c);
  t.check("identity", "identity", b, a, 0);
  t.report("strong ops");
}

TEST_CASE("augment: whole views with given random choices match torchvision / SCAN") {
  for (const std::string& p : cases("simclr")) {
    const Img x = src(source_of(p, 1));
    const std::vector<float> d = fx().get(p + "/draw").to_vector();
    SimclrParams sp;
    sp.size = static_cast<int>(fx().scalar(p + "/size"));
    sp.channels = x.c;
    sp.mean = triple(fx().get(p + "/mean"));
    sp.std = triple(fx().get(p + "/std"));
    const SimclrView view(sp);
    SimclrDraw draw;
    draw.box = CropBox{int(d[0]), int(d[1]), int(d[2]), int(d[3])};
    draw.flip = d[4] != 0;
    draw.jitter = d[5] != 0;
    draw.order = {int(d[6]), int(d[7]), int(d[8]), int(d[9])};
    draw.brightness = d[10];
    draw.contrast = d[11];
    draw.saturation = d[12];
    draw.hue = d[13];
    draw.gray = d[14] != 0;
    std::vector<float> out(static_cast<std::size_t>(view.out_numel()));
    view.apply(x.px.data(), x.h, x.w, x.c, draw, out.data());
    check_normalised("SimCLR view " + p, out, fx().get(p + "/out"), sp.std, x.c);
  }
  for (const std::string& p : cases("strong_view")) {
    const Img x = src(source_of(p, 1));
    const std::vector<float> d = fx().get(p + "/draw").to_vector();
    StrongParams sp;
    sp.crop = static_cast<int>(fx().scalar(p + "/crop"));
    sp.channels = x.c;
    sp.mean = triple(fx().get(p + "/mean"));
    sp.std = triple(fx().get(p + "/std"));
    const StrongView view(sp);
    StrongDraw draw;
    draw.flip = d[0] != 0;
    draw.top = int(d[1]);
    draw.left = int(d[2]);
    draw.num_ops = 4;
    for (int k = 0; k < 4; ++k) {
      draw.ops[static_cast<std::size_t>(k)] = static_cast<StrongOp>(int(d[static_cast<std::size_t>(3 + 2 * k)]));
      draw.values[static_cast<std::size_t>(k)] = d[static_cast<std::size_t>(4 + 2 * k)];
    }
    draw.cut_length = int(d[11]);
    draw.cut_y = int(d[12]);
    draw.cut_x = int(d[13]);
    std::vector<float> out(static_cast<std::size_t>(view.out_numel()));
    view.apply(x.px.data(), x.h, x.w, x.c, draw, out.data());
    check_normalised("strong view " + p, out, fx().get(p + "/out"), sp.std, x.c);
  }
}

// ------------------------------------------------------------------------------------------------
// Random parts, statistically (seeds fixed: the tests are deterministic).

TEST_CASE("augment: RandomResizedCrop draws match torchvision's get_params distribution") {
  // The fixture holds torchvision's statistics over 200,000 draws; ours over as many. Tolerances are
  // ~5 standard deviations of the difference of the two estimates.
  const int draws = 200000;
  for (const std::array<int, 2> hw :
       {std::array<int, 2>{32, 32}, std::array<int, 2>{25, 33}, std::array<int, 2>{96, 64}}) {
    const int H = hw[0], W = hw[1];
    const std::string p = "stats/rrc/" + std::to_string(H) + "x" + std::to_string(W) + "/";
    Rng rng(1000 + static_cast<uint64_t>(H));
    std::vector<double> hist(10, 0.0);
    double sum_area = 0, sum_lr = 0, sum_lr2 = 0, full = 0, min_lr = 1e9, max_lr = -1e9;
    bool inside = true;
    for (int n = 0; n < draws; ++n) {
      const CropBox b = sample_resized_crop(H, W, rng);
      inside = inside && b.top >= 0 && b.left >= 0 && b.height > 0 && b.width > 0 && b.top + b.height <= H &&
               b.left + b.width <= W;
      const double area = static_cast<double>(b.height) * b.width / (H * W);
      const double lr = std::log(static_cast<double>(b.width) / b.height);
      hist[static_cast<std::size_t>(std::clamp(static_cast<int>((area - 0.2) / 0.08), 0, 9))] += 1.0 / draws;
      sum_area += area;
      sum_lr += lr;
      sum_lr2 += lr * lr;
      full += (b.height == H && b.width == W);
      min_lr = std::min(min_lr, lr);
      max_lr = std::max(max_lr, lr);
    }
    CHECK(inside);
    const double mean_area = sum_area / draws, mean_lr = sum_lr / draws;
    const double std_lr = std::sqrt(sum_lr2 / draws - mean_lr * mean_lr);
    MESSAGE(H << "x" << W << ": mean area fraction " << mean_area << " (torchvision " << fx().scalar(p + "mean_area")
              << "), log-ratio mean " << mean_lr << " std " << std_lr << " (torchvision "
              << fx().scalar(p + "mean_logratio") << ", " << fx().scalar(p + "std_logratio") << "), range [" << min_lr
              << ", " << max_lr << "], whole image " << full / draws);
    CHECK(std::fabs(mean_area - fx().scalar(p + "mean_area")) < 0.004);
    CHECK(std::fabs(mean_lr - fx().scalar(p + "mean_logratio")) < 0.003);
    CHECK(std::fabs(std_lr - fx().scalar(p + "std_logratio")) < 0.003);
    CHECK(std::fabs(full / draws - fx().scalar(p + "full_share")) < 0.001);
    const std::vector<float> th = fx().get(p + "area_hist").to_vector();
    for (std::size_t k = 0; k < 10; ++k) CHECK_MESSAGE(std::fabs(hist[k] - th[k]) < 0.005, "area bin " << k);
    // accepted crops keep the ratio within [3/4, 4/3] up to the rounding of w and h
    CHECK(min_lr > std::log(3.0 / 4.0) - 2.0 / std::min(H, W));
    CHECK(max_lr < std::log(4.0 / 3.0) + 2.0 / std::min(H, W));
  }
  // The fallback: a 1x40 strip admits no crop with ratio in [3/4, 4/3] and area >= 0.2; torchvision
  // then takes the centre crop with the ratio clamped: h = 1, w = round(1 * 4/3) = 1, at column 19.
  Rng rng(3);
  const CropBox b = sample_resized_crop(1, 40, rng);
  CHECK(b.top == 0);
  CHECK(b.height == 1);
  CHECK(b.width == 1);
  CHECK(b.left == 19);
  const CropBox t = sample_resized_crop(40, 2, rng);  // tall: w = 2, h = round(2 / (3/4)) = 3, centred
  CHECK(t.width == 2);
  CHECK(t.height == 3);
  CHECK(t.top == 18);
}

TEST_CASE("augment: SimCLR view's flip, jitter and grayscale rates and jitter factors") {
  const SimclrView view(view_preset("cifar"));
  Rng rng(42);
  const int draws = 100000;
  int flips = 0, jitters = 0, grays = 0;
  bool untouched = true;
  std::map<std::array<int, 4>, int> perms;
  double bmin = 9, bmax = -9, hmin = 9, hmax = -9, smin = 9, smax = -9, cmin = 9, cmax = -9, bsum = 0, hsum = 0;
  for (int n = 0; n < draws; ++n) {
    const SimclrDraw d = view.sample(32, 32, rng);
    flips += d.flip;
    grays += d.gray;
    if (!d.jitter) {
      untouched = untouched && d.brightness == 1.f && d.hue == 0.f;  // no factors drawn without jitter
      continue;
    }
    ++jitters;
    ++perms[d.order];
    bmin = std::min(bmin, double(d.brightness));
    bmax = std::max(bmax, double(d.brightness));
    cmin = std::min(cmin, double(d.contrast));
    cmax = std::max(cmax, double(d.contrast));
    smin = std::min(smin, double(d.saturation));
    smax = std::max(smax, double(d.saturation));
    hmin = std::min(hmin, double(d.hue));
    hmax = std::max(hmax, double(d.hue));
    bsum += d.brightness;
    hsum += d.hue;
  }
  MESSAGE("flip rate " << double(flips) / draws << ", jitter rate " << double(jitters) / draws << ", grayscale rate "
                       << double(grays) / draws << "; brightness [" << bmin << ", " << bmax << "], hue [" << hmin
                       << ", " << hmax << "], " << perms.size() << " orders");
  CHECK(untouched);
  CHECK(std::fabs(double(flips) / draws - 0.5) < 0.008);
  CHECK(std::fabs(double(jitters) / draws - 0.8) < 0.006);
  CHECK(std::fabs(double(grays) / draws - 0.2) < 0.006);
  for (const auto& mm :
       {std::array<double, 2>{bmin, bmax}, std::array<double, 2>{cmin, cmax}, std::array<double, 2>{smin, smax}}) {
    CHECK(mm[0] >= 0.6 - 1e-6);
    CHECK(mm[0] < 0.61);
    CHECK(mm[1] <= 1.4 + 1e-6);
    CHECK(mm[1] > 1.39);
  }
  CHECK(hmin >= -0.1 - 1e-7);
  CHECK(hmin < -0.099);
  CHECK(hmax <= 0.1 + 1e-7);
  CHECK(hmax > 0.099);
  CHECK(std::fabs(bsum / jitters - 1.0) < 0.005);
  CHECK(std::fabs(hsum / jitters) < 0.002);
  CHECK(perms.size() == 24);  // every order of the four ops, each about 1/24 of the time
  for (const auto& kv : perms) CHECK(std::fabs(double(kv.second) / jitters - 1.0 / 24) < 0.005);
}

TEST_CASE("augment: strong view's op choice, signs, values, crop offsets and Cutout draws") {
  StrongParams sp = StrongParams::from_preset(view_preset("cifar"));
  const StrongView view(sp);
  Rng rng(7);
  const int draws = 50000;
  std::vector<int> count(kNumStrongOps, 0), negative(kNumStrongOps, 0);
  std::vector<double> vmin(kNumStrongOps, 1e9), vmax(kNumStrongOps, -1e9);
  std::vector<int> lengths(17, 0), tops(19, 0), lefts(19, 0);
  int flips = 0;
  bool centres_inside = true;
  for (int n = 0; n < draws; ++n) {
    const StrongDraw d = view.sample(40, 50, rng);  // RandomCrop(32) of a 40x50 image
    const bool ok = d.num_ops == 4 && d.top >= 0 && d.top <= 8 && d.left >= 0 && d.left <= 18 && d.cut_length >= 1 &&
                    d.cut_length <= 16;
    if (!ok) {
      FAIL_CHECK("draw " << n << ": " << d.num_ops << " ops, crop at (" << d.top << ", " << d.left
                         << "), cutout length " << d.cut_length);
      break;
    }
    flips += d.flip;
    ++tops[static_cast<std::size_t>(d.top)];
    ++lefts[static_cast<std::size_t>(d.left)];
    for (int k = 0; k < 4; ++k) {
      const int op = static_cast<int>(d.ops[static_cast<std::size_t>(k)]);
      const double v = d.values[static_cast<std::size_t>(k)];
      ++count[static_cast<std::size_t>(op)];
      negative[static_cast<std::size_t>(op)] += v < 0;
      vmin[static_cast<std::size_t>(op)] = std::min(vmin[static_cast<std::size_t>(op)], v);
      vmax[static_cast<std::size_t>(op)] = std::max(vmax[static_cast<std::size_t>(op)], v);
    }
    ++lengths[static_cast<std::size_t>(d.cut_length)];
    centres_inside = centres_inside && d.cut_y >= 0 && d.cut_y < 32 && d.cut_x >= 0 && d.cut_x < 32;
  }
  CHECK(centres_inside);
  CHECK(std::fabs(double(flips) / draws - 0.5) < 0.01);
  for (int v = 0; v <= 8; ++v) CHECK(tops[static_cast<std::size_t>(v)] > 0);
  for (int v = 0; v <= 18; ++v) CHECK(lefts[static_cast<std::size_t>(v)] > 0);
  for (int l = 1; l <= 16; ++l)
    CHECK(std::fabs(double(lengths[static_cast<std::size_t>(l)]) / draws - 1.0 / 16) < 0.006);
  std::ostringstream os;
  for (int op = 0; op < kNumStrongOps; ++op) {
    const StrongOpInfo& info = strong_op_info(static_cast<StrongOp>(op));
    const std::size_t o = static_cast<std::size_t>(op);
    const double share = double(count[o]) / (4.0 * draws), neg = double(negative[o]) / count[o];
    os << "\n  " << info.name << ": share " << share << ", values [" << vmin[o] << ", " << vmax[o] << "], negative "
       << neg;
    CHECK_MESSAGE(std::fabs(share - 1.0 / 14) < 0.004, info.name);
    if (info.random_sign) {  // U(-a, a) with a random sign is still U(-a, a)
      CHECK_MESSAGE(std::fabs(neg - 0.5) < 0.02, info.name);
      CHECK(vmin[o] >= info.lo);
      CHECK(vmax[o] <= info.hi);
    } else {
      CHECK(vmin[o] >= info.lo);
      CHECK(vmax[o] < info.hi);
    }
    CHECK(vmax[o] - vmin[o] > 0.95 * (info.hi - info.lo));
  }
  MESSAGE("strong ops over " << 4 * draws << " picks:" << os.str());
  // An image already of the crop size draws no offset (torchvision's RandomCrop returns (0, 0)).
  for (int n = 0; n < 100; ++n) {
    const StrongDraw d = view.sample(32, 32, rng);
    CHECK(d.top == 0);
    CHECK(d.left == 0);
  }
}

TEST_CASE("augment: Cutout follows SCAN's hole [c - L/2, c + L/2), clipped") {
  const int C = 3, H = 8, W = 10;
  auto holes = [&](int length, int cy, int cx) {
    std::vector<float> img(static_cast<std::size_t>(C * H * W), 1.f);
    cutout(img.data(), C, H, W, length, cy, cx);
    std::set<std::array<int, 2>> zero;
    for (int ch = 0; ch < C; ++ch)
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
          if (ch == 0 && img[static_cast<std::size_t>((ch * H + y) * W + x)] == 0.f) zero.insert({y, x});
    bool same = true;  // the same pixels in every channel, the others untouched
    for (int ch = 1; ch < C; ++ch)
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const float v = img[static_cast<std::size_t>((ch * H + y) * W + x)];
          same = same && (v == 0.f || v == 1.f) && ((v == 0.f) == (zero.count({y, x}) == 1));
        }
    CHECK(same);
    return zero;
  };
  CHECK(holes(1, 4, 4).empty());       // length 1: [4, 4) -- the release removes nothing
  CHECK(holes(4, 4, 5).size() == 16);  // rows 2..5, columns 3..6
  CHECK(holes(4, 4, 5).count({2, 3}) == 1);
  CHECK(holes(4, 4, 5).count({5, 6}) == 1);
  CHECK(holes(4, 4, 5).count({6, 6}) == 0);
  CHECK(holes(5, 4, 5).size() == 16);  // odd length 5: still 4x4
  CHECK(holes(6, 0, 9).size() == 12);  // rows [-3, 3) -> 0..2, columns [6, 12) -> 6..9
  CHECK(holes(0, 4, 4).empty());
}

// ------------------------------------------------------------------------------------------------
// Whole views: determinism, threads, channels, presets, errors.

namespace {
Img random_image(int h, int w, int c, uint64_t seed) {
  Rng rng(seed);
  Img m{h, w, c, std::vector<uint8_t>(static_cast<std::size_t>(h * w * c))};
  // smooth content plus noise, so every op has something to do
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch) {
        const double v = 128 + 90 * std::sin(0.21 * x + 0.7 * ch) * std::cos(0.13 * y - 0.3 * ch) + 20 * rng.normal();
        m.px[static_cast<std::size_t>((y * w + x) * c + ch)] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
      }
  return m;
}
template <typename View>
std::vector<float> run_view(const View& v, const Img& m, uint64_t seed) {
  std::vector<float> out(static_cast<std::size_t>(v.out_numel()));
  Rng rng(seed);
  v(m.px.data(), m.h, m.w, m.c, rng, out.data());
  return out;
}
}  // namespace

TEST_CASE("augment: views are deterministic given the Rng, and the same on any thread") {
  const ViewPreset p = view_preset("cifar");
  const SimclrView simclr(p);
  const EvalView eval(p);
  const StrongView strong(p);
  const Img m = random_image(32, 32, 3, 11);
  CHECK(run_view(simclr, m, 5) == run_view(simclr, m, 5));
  CHECK(run_view(simclr, m, 5) != run_view(simclr, m, 6));
  CHECK(run_view(strong, m, 5) == run_view(strong, m, 5));
  CHECK(run_view(strong, m, 5) != run_view(strong, m, 6));
  CHECK(run_view(eval, m, 5) == run_view(eval, m, 6));
  // sample + apply is the call operator
  {
    Rng a(9), b(9);
    std::vector<float> x(static_cast<std::size_t>(simclr.out_numel())), y(x.size());
    simclr(m.px.data(), 32, 32, 3, a, x.data());
    simclr.apply(m.px.data(), 32, 32, 3, simclr.sample(32, 32, b), y.data());
    CHECK(x == y);
  }
  // Many views on the worker threads (per-thread scratch) equal the serial ones. Images of several
  // sizes, so the scratch buffers are resized between calls.
  const int n = 64;
  std::vector<Img> imgs;
  for (int i = 0; i < n; ++i) imgs.push_back(random_image(20 + (i * 7) % 30, 24 + (i * 5) % 30, 3, 100 + i));
  const SimclrView big(view_preset("tiny"));
  const int64_t stride = simclr.out_numel() + big.out_numel() + strong.out_numel();
  std::vector<float> serial(static_cast<std::size_t>(n * stride)), parallel(serial.size());
  auto one = [&](int64_t i, std::vector<float>& out) {
    const Img& m2 = imgs[static_cast<std::size_t>(i)];
    Rng rng(static_cast<uint64_t>(1000 + i));
    float* o = out.data() + i * stride;
    simclr(m2.px.data(), m2.h, m2.w, m2.c, rng, o);
    big(m2.px.data(), m2.h, m2.w, m2.c, rng, o + simclr.out_numel());
    const Img sq =
        random_image(32 + static_cast<int>(i % 3), 32 + static_cast<int>(i % 5), 3, static_cast<uint64_t>(i));
    strong(sq.px.data(), sq.h, sq.w, sq.c, rng, o + simclr.out_numel() + big.out_numel());
  };
  for (int64_t i = 0; i < n; ++i) one(i, serial);
  gcc::parallel_for(n, [&](int64_t i) { one(i, parallel); });
  CHECK(serial == parallel);
  bool finite = true;
  for (float v : serial) finite = finite && std::isfinite(v);
  CHECK(finite);
}

TEST_CASE("augment: grey images in 1- and 3-channel views, RGB images in 1-channel views") {
  const Img g = random_image(28, 28, 1, 21);
  Img g3{28, 28, 3, {}};  // PIL's L -> RGB
  for (uint8_t v : g.px) g3.px.insert(g3.px.end(), {v, v, v});
  ViewPreset p3 = view_preset("cifar");
  p3.train_size = 28;
  p3.eval_resize = 28;
  p3.eval_crop = 24;
  p3.strong_crop = 28;
  // A grey image in a 3-channel view gives what the RGB-converted image gives (every op keeps R = G = B).
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CHECK(run_view(SimclrView(p3), g, seed) == run_view(SimclrView(p3), g3, seed));
    CHECK(run_view(StrongView(p3), g, seed) == run_view(StrongView(p3), g3, seed));
  }
  CHECK(run_view(EvalView(p3), g, 0) == run_view(EvalView(p3), g3, 0));
  // Fashion-MNIST preset: one channel out, normalised with 0.2860 / 0.3530.
  const ViewPreset f = view_preset("fashion-mnist");
  const SimclrView fs(f);
  CHECK(fs.out_numel() == 28 * 28);
  const std::vector<float> out = run_view(fs, g, 3);
  CHECK(*std::min_element(out.begin(), out.end()) >= (0.f - 0.2860f) / 0.3530f - 1e-6f);
  CHECK(*std::max_element(out.begin(), out.end()) <= (1.f - 0.2860f) / 0.3530f + 1e-6f);
  // An RGB image in a 1-channel view is first converted to L.
  const Img rgb = random_image(28, 28, 3, 22);
  Img l{28, 28, 1, std::vector<uint8_t>(28 * 28)};
  rgb_to_luma(rgb.px.data(), 28 * 28, l.px.data());
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    CHECK(run_view(fs, rgb, seed) == run_view(fs, l, seed));
    CHECK(run_view(StrongView(f), rgb, seed) == run_view(StrongView(f), l, seed));
  }
  CHECK(run_view(EvalView(f), rgb, 0) == run_view(EvalView(f), l, 0));
  // The 1-channel colour ops: saturation, hue and grayscale leave grey alone.
  Img x = g;
  adjust_saturation(x.px.data(), x.pixels(), 1, 1.4);
  adjust_hue(x.px.data(), x.pixels(), 1, 0.1);
  rgb_to_grayscale(x.px.data(), x.pixels(), 1);
  CHECK(x.px == g.px);
}

TEST_CASE("augment: presets") {
  const ViewPreset c = view_preset("CIFAR-10");
  CHECK(c.name == "cifar");
  CHECK(c.train_size == 32);
  CHECK(c.eval_resize == 40);
  CHECK(c.eval_crop == 32);
  CHECK(c.cutout == 16);
  CHECK(c.channels == 3);
  CHECK(c.mean[0] == 0.4914f);
  CHECK(c.std[2] == 0.2010f);
  // CIFAR-20 (CIFAR-100's superclasses) normalises with CIFAR-100's statistics, as the release (SPEC §3).
  const ViewPreset c20 = view_preset("cifar20");
  CHECK(c20.name == "cifar-20");
  CHECK(c20.eval_crop == 32);
  CHECK(c20.mean[0] == 0.5071f);
  CHECK(c20.mean[1] == 0.4867f);
  CHECK(c20.mean[2] == 0.4408f);
  CHECK(c20.std[0] == 0.2675f);
  CHECK(c20.std[1] == 0.2565f);
  CHECK(c20.std[2] == 0.2761f);
  for (const char* n : {"stl10", "imagenet10", "imagenet_dogs"}) {
    const ViewPreset s = view_preset(n);
    CHECK(s.name == "stl");
    CHECK(s.train_size == 96);
    CHECK(s.eval_resize == 112);
    CHECK(s.eval_crop == 96);
    CHECK(s.cutout == 32);
    CHECK(s.mean[1] == 0.456f);
  }
  const ViewPreset t = view_preset("tiny-imagenet");
  CHECK(t.train_size == 64);
  CHECK(t.eval_resize == 80);
  CHECK(t.eval_crop == 64);
  const ViewPreset f = view_preset("fashion_mnist");
  CHECK(f.channels == 1);
  CHECK(f.train_size == 28);
  CHECK(f.mean[0] == 0.2860f);
  CHECK(f.std[0] == 0.3530f);
  CHECK(SimclrView(t).out_numel() == 3 * 64 * 64);
  CHECK(EvalView(view_preset("stl")).out_numel() == 3 * 96 * 96);
  CHECK(StrongView(view_preset("stl")).out_numel() == 3 * 96 * 96);
  // The evaluation view of each preset on an image of its training size.
  for (const char* n : {"cifar", "stl", "tiny", "fashion-mnist"}) {
    const ViewPreset p = view_preset(n);
    const Img m = random_image(p.train_size, p.train_size, p.channels, 5);
    const std::vector<float> out = run_view(EvalView(p), m, 0);
    CHECK(out.size() == static_cast<std::size_t>(p.channels * p.eval_crop * p.eval_crop));
  }
}

TEST_CASE("augment: bad input gets a clear error") {
  const Img a = random_image(25, 33, 3, 1);
  std::vector<uint8_t> out(64 * 64 * 3);
  CHECK_THROWS_WITH_AS(resized_crop(a.px.data(), 25, 33, 3, CropBox{0, 0, 29, 37}, out.data(), 32, 32),
                       doctest::Contains("box (top 0, left 0, height 29, width 37) is not inside the 25x33 image"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(resize_bilinear(a.px.data(), 25, 33, 2, out.data(), 8, 8),
                       doctest::Contains("resized_crop: image has 2 channels, expected 1 (grey) or 3 (RGB)"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(resize_bilinear(a.px.data(), 25, 33, 3, out.data(), 0, 8),
                       doctest::Contains("output size 0x8 must be positive"), gcc::Error);
  Img x = a;
  CHECK_THROWS_WITH_AS(adjust_hue(x.px.data(), x.pixels(), 3, 0.7),
                       doctest::Contains("adjust_hue: hue_factor 0.7 is not in [-0.5, 0.5]"), gcc::Error);
  CHECK_THROWS_WITH_AS(adjust_contrast(x.px.data(), x.pixels(), 3, -0.5),
                       doctest::Contains("adjust_contrast: factor -0.5 must be finite and non-negative"), gcc::Error);
  CHECK_THROWS_WITH_AS(posterize(x.px.data(), 10, 0), doctest::Contains("posterize: bits = 0, expected 1..8"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(view_preset("imagenet-1k"),
                       doctest::Contains("view_preset: unknown dataset family 'imagenet-1k'"), gcc::Error);
  std::vector<float> f(3 * 96 * 96);
  Rng rng(1);
  const StrongView strong(view_preset("stl"));
  CHECK_THROWS_WITH_AS(strong(a.px.data(), 25, 33, 3, rng, f.data()),
                       doctest::Contains("StrongView: RandomCrop(96) needs an image at least that large, got 25x33"),
                       gcc::Error);
  EvalParams ep = EvalParams::from_preset(view_preset("cifar"));
  ep.resize = 20;
  const EvalView eval(ep);
  CHECK_THROWS_WITH_AS(eval(a.px.data(), 25, 33, 3, rng, f.data()),
                       doctest::Contains("EvalView: centre crop 32 is larger than the 20x26 resized image (resize 20)"),
                       gcc::Error);
  const SimclrView simclr(view_preset("cifar"));
  CHECK_THROWS_WITH_AS(simclr(a.px.data(), 25, 33, 4, rng, f.data()),
                       doctest::Contains("SimclrView: image has 4 channels, expected 1 (grey) or 3 (RGB)"), gcc::Error);
  CHECK_THROWS_WITH_AS(simclr(nullptr, 25, 33, 3, rng, f.data()),
                       doctest::Contains("SimclrView: image pointer is null"), gcc::Error);
  const float mean[3] = {0.5f, 0.5f, 0.5f}, bad_std[3] = {0.5f, 0.f, 0.5f};
  CHECK_THROWS_WITH_AS(Normalizer(3, mean, bad_std), doctest::Contains("Normalizer: std of channel 1 is 0"),
                       gcc::Error);
  SimclrParams sp;
  sp.hue = 0.6;
  sp.mean = {0.5f, 0.5f, 0.5f};
  sp.std = {0.5f, 0.5f, 0.5f};
  CHECK_THROWS_WITH_AS(SimclrView{sp}, doctest::Contains("hue 0.6 in [0, 0.5]"), gcc::Error);
}
