// Threaded loader (same batches for any thread count, partial last batch, per-epoch seeded shuffle,
// image selector, exceptions reaching the consumer, clean shutdown) and the decoded-image cache
// (round trip through mmap, invalidation when the image list changes, atomic writes).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "data_test_util.hpp"
#include "gcc/data/dataset.hpp"
#include "gcc/data/image_cache.hpp"
#include "gcc/data/image_folder.hpp"
#include "gcc/data/loader.hpp"
#include "gradcheck.hpp"

using gcc::Batch;
using gcc::ImageDataset;
using gcc::Loader;
using gcc::LoaderOptions;
using namespace gcc_test;

namespace {

// n images of 2x2x1, every pixel of image i equal to i; label i % 3.
ImageDataset tiny_dataset(int64_t n) {
  ImageDataset d;
  d.n = n;
  d.height = d.width = 2;
  d.channels = 1;
  d.name = "tiny";
  d.class_names = {"a", "b", "c"};
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k) d.pixels.push_back(static_cast<uint8_t>(i));
    d.labels.push_back(static_cast<int>(i % 3));
  }
  return d;
}

// View: out [1, 2, 2] = pixel + a random offset in [0, 1) per element (all randomness from rng).
void noisy_view(const uint8_t* img, int h, int w, int c, gcc::Rng& rng, float* out) {
  for (int k = 0; k < h * w * c; ++k) out[k] = static_cast<float>(img[k]) + static_cast<float>(rng.uniform());
}

LoaderOptions opts(int threads, int64_t batch = 4, int views = 2) {
  LoaderOptions o;
  o.batch_size = batch;
  o.views = views;
  o.channels = 1;
  o.size = 2;
  o.seed = 42;
  o.threads = threads;
  return o;
}

std::vector<Batch> run_epoch(Loader& l, int64_t epoch) {
  std::vector<Batch> out;
  l.start_epoch(epoch);
  Batch b;
  while (l.next(b)) out.push_back(b);
  return out;
}

bool same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].indices != b[i].indices || a[i].labels != b[i].labels || a[i].sources != b[i].sources) return false;
    if (a[i].views.size() != b[i].views.size()) return false;
    for (std::size_t v = 0; v < a[i].views.size(); ++v)
      if (a[i].views[v].to_vector() != b[i].views[v].to_vector()) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("loader: identical batches for 0, 1, 2 and 4 threads; last partial batch kept") {
  const ImageDataset d = tiny_dataset(10);
  Loader l0(d, noisy_view, opts(0));
  const std::vector<Batch> ref0 = run_epoch(l0, 0), ref1 = run_epoch(l0, 1);
  REQUIRE(ref0.size() == 3);
  CHECK(ref0[0].size() == 4);
  CHECK(ref0[1].size() == 4);
  CHECK(ref0[2].size() == 2);  // the partial batch is kept
  CHECK(ref0[2].views[0].shape() == gcc::Shape{2, 1, 2, 2});
  CHECK(ref0[2].index == 2);
  CHECK(ref0[2].epoch == 0);
  for (int threads : {1, 2, 4}) {
    CAPTURE(threads);
    Loader l(d, noisy_view, opts(threads));
    CHECK(same_batches(run_epoch(l, 0), ref0));
    CHECK(same_batches(run_epoch(l, 1), ref1));
  }
  // every sample once per epoch; labels and pixels belong to the sample; views differ
  std::vector<int> seen(10, 0);
  for (const Batch& b : ref0)
    for (int64_t i = 0; i < b.size(); ++i) {
      const int64_t s = b.indices[static_cast<std::size_t>(i)];
      ++seen[static_cast<std::size_t>(s)];
      CHECK(b.labels[static_cast<std::size_t>(i)] == s % 3);
      const float v0 = b.views[0].data()[i * 4], v1 = b.views[1].data()[i * 4];
      CHECK(v0 >= static_cast<float>(s));
      CHECK(v0 < static_cast<float>(s + 1));
      CHECK(v1 >= static_cast<float>(s));
      CHECK(v0 != v1);
      CHECK(b.sources[0][static_cast<std::size_t>(i)] == s);
    }
  CHECK(seen == std::vector<int>(10, 1));
  // drop_last
  LoaderOptions o = opts(2);
  o.drop_last = true;
  Loader ld(d, noisy_view, o);
  CHECK(ld.batches_per_epoch() == 2);
  CHECK(run_epoch(ld, 0).size() == 2);
  CHECK(l0.batches_per_epoch() == 3);
}

TEST_CASE("loader: shuffle differs per epoch, is reproducible, and follows the seed") {
  const ImageDataset d = tiny_dataset(50);
  Loader a(d, noisy_view, opts(2, 8));
  Loader b(d, noisy_view, opts(3, 8));
  const std::vector<int64_t> o0 = a.epoch_order(0), o1 = a.epoch_order(1);
  CHECK(o0 != o1);
  CHECK(o0 == b.epoch_order(0));
  std::vector<int64_t> sorted = o1;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) CHECK(sorted[static_cast<std::size_t>(i)] == i);
  const std::vector<Batch> e0 = run_epoch(a, 0), e1 = run_epoch(a, 1);
  CHECK(!same_batches(e0, e1));
  CHECK(same_batches(run_epoch(b, 1), e1));   // same seed and epoch, another loader and thread count
  CHECK(same_batches(run_epoch(a, 0), e0));   // an epoch can be replayed
  LoaderOptions o = opts(2, 8);
  o.seed = 43;
  Loader c(d, noisy_view, o);
  CHECK(c.epoch_order(0) != o0);
  o.shuffle = false;
  Loader s(d, noisy_view, o);
  const std::vector<Batch> plain = run_epoch(s, 5);
  CHECK(plain[0].indices == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(plain.back().indices == std::vector<int64_t>{48, 49});
  // the random stream of (sample, view) does not depend on the batch the sample lands in
  const float x = e0[0].views[1].data()[0];
  const int64_t s0 = e0[0].indices[0];
  for (const Batch& bb : plain)
    for (int64_t i = 0; i < bb.size(); ++i)
      if (bb.indices[static_cast<std::size_t>(i)] == s0) CHECK(bb.views[1].data()[i * 4] != x);  // other epoch (5)
}

TEST_CASE("loader: image selector renders neighbours, per view, deterministically") {
  const ImageDataset d = tiny_dataset(12);
  // view 0: the anchor; view 1: anchor + 1; view 2: a random one of {anchor, anchor+2} (mod n)
  auto sel = [](int64_t anchor, int view, gcc::Rng& rng) -> int64_t {
    if (view == 0) return anchor;
    if (view == 1) return (anchor + 1) % 12;
    return (anchor + (rng.below(2) ? 2 : 0)) % 12;
  };
  std::vector<Batch> ref;
  for (int threads : {0, 1, 4}) {
    Loader l(d, noisy_view, opts(threads, 5, 3), sel);
    const std::vector<Batch> bs = run_epoch(l, 3);
    if (ref.empty()) ref = bs;
    CHECK(same_batches(bs, ref));
  }
  int picked2 = 0, total = 0;
  for (const Batch& b : ref)
    for (int64_t i = 0; i < b.size(); ++i) {
      const int64_t a = b.indices[static_cast<std::size_t>(i)];
      CHECK(b.sources[1][static_cast<std::size_t>(i)] == (a + 1) % 12);
      CHECK(std::floor(b.views[1].data()[i * 4]) == static_cast<float>((a + 1) % 12));
      const int64_t s2 = b.sources[2][static_cast<std::size_t>(i)];
      CHECK((s2 == a || s2 == (a + 2) % 12));
      CHECK(std::floor(b.views[2].data()[i * 4]) == static_cast<float>(s2));
      picked2 += s2 != a;
      ++total;
    }
  CHECK(picked2 > 0);
  CHECK(picked2 < total);
  // a selector out of range
  Loader bad(d, noisy_view, opts(2, 5, 2), [](int64_t, int, gcc::Rng&) -> int64_t { return 12; });
  bad.start_epoch(0);
  Batch b;
  CHECK_THROWS_WITH_AS(bad.next(b), doctest::Contains("image selector returned 12"), gcc::Error);
}

TEST_CASE("loader: shards of 3 ranks render exactly their rows of every whole batch, last partial batch too") {
  const ImageDataset d = tiny_dataset(11);  // batches of 5: 5, 5, 1 -> shards 2/2/1, 2/2/1, 1/0/0
  auto sel = [](int64_t anchor, int view, gcc::Rng& rng) -> int64_t {
    return view == 0 ? anchor : static_cast<int64_t>((anchor + rng.below(3)) % 11);
  };
  Loader whole(d, noisy_view, opts(2, 5, 2), sel);
  const std::vector<Batch> ref = run_epoch(whole, 1);
  for (int r = 0; r < 3; ++r) {
    LoaderOptions o = opts(r, 5, 2);  // 0, 1, 2 threads
    o.shard_rank = r;
    o.shard_count = 3;
    Loader part(d, noisy_view, o, sel);
    const std::vector<Batch> got = run_epoch(part, 1);
    REQUIRE(got.size() == ref.size());
    for (std::size_t j = 0; j < got.size(); ++j) {
      const gcc::dist::RowRange rows = gcc::dist::shard_rows(ref[j].size(), r, 3);
      CHECK(got[j].all_indices == ref[j].indices);
      CHECK(got[j].shard_begin == rows.begin);
      REQUIRE(got[j].size() == rows.rows());
      for (int64_t i = 0; i < rows.rows(); ++i) {
        const auto at = static_cast<std::size_t>(rows.begin + i);
        CHECK(got[j].indices[static_cast<std::size_t>(i)] == ref[j].indices[at]);
        CHECK(got[j].labels[static_cast<std::size_t>(i)] == ref[j].labels[at]);
        for (int v = 0; v < 2; ++v) {
          CHECK(got[j].sources[static_cast<std::size_t>(v)][static_cast<std::size_t>(i)] ==
                ref[j].sources[static_cast<std::size_t>(v)][at]);
          for (int k = 0; k < 4; ++k)
            CHECK(got[j].views[static_cast<std::size_t>(v)].data()[i * 4 + k] ==
                  ref[j].views[static_cast<std::size_t>(v)].data()[(rows.begin + i) * 4 + k]);
        }
      }
    }
  }
  LoaderOptions bad = opts(0);
  bad.shard_rank = 2;
  bad.shard_count = 2;
  CHECK_THROWS_WITH_AS(Loader(d, noisy_view, bad), doctest::Contains("Loader: shard 2 of 2"), gcc::Error);
}

TEST_CASE("loader: a worker's exception reaches the consumer with its message; shutdown is clean") {
  const ImageDataset d = tiny_dataset(20);
  auto failing = [](const uint8_t* img, int h, int w, int c, gcc::Rng& rng, float* out) {
    if (img[0] == 13) GCC_FAIL("augment: cannot render image thirteen");
    noisy_view(img, h, w, c, rng, out);
  };
  for (int threads : {0, 1, 3}) {
    CAPTURE(threads);
    Loader l(d, failing, opts(threads, 4, 2));
    l.start_epoch(0);
    Batch b;
    std::string msg;
    int got = 0;
    try {
      while (l.next(b)) ++got;
    } catch (const gcc::Error& e) {
      msg = e.what();
    }
    CHECK(has(msg, "augment: cannot render image thirteen"));
    CHECK(has(msg, "sample 13"));
    CHECK(has(msg, "'tiny'"));
    CHECK(got < 5);
    CHECK(!l.next(b));  // the failed epoch is over
    // a later epoch that avoids the image works again
  }
  // non-std exception
  Loader l2(d, [](const uint8_t*, int, int, int, gcc::Rng&, float*) { throw 7; }, opts(2));
  l2.start_epoch(0);
  Batch b;
  CHECK_THROWS_WITH_AS(l2.next(b), doctest::Contains("non-std exception"), gcc::Error);
  // destroying a loader in the middle of an epoch, with slow workers, joins cleanly
  std::atomic<int> calls{0};
  {
    Loader slow(d, [&](const uint8_t* img, int h, int w, int c, gcc::Rng& rng, float* out) {
      ++calls;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      noisy_view(img, h, w, c, rng, out);
    }, opts(4, 2, 1));
    slow.start_epoch(0);
    REQUIRE(slow.next(b));
    slow.start_epoch(1);  // restart mid-epoch: old batches are dropped
    REQUIRE(slow.next(b));
    CHECK(b.epoch == 1);
    CHECK(b.index == 0);
  }
  CHECK(calls.load() > 0);
  // misuse
  CHECK_THROWS_WITH_AS(Loader(d, std::vector<gcc::ViewFn>{noisy_view, noisy_view}, opts(1, 4, 3)),
                       doctest::Contains("2 view functions for 3 views"), gcc::Error);
  LoaderOptions z = opts(1);
  z.batch_size = 0;
  CHECK_THROWS_WITH_AS(Loader(d, noisy_view, z), doctest::Contains("batch_size must be positive"), gcc::Error);
  Loader never(d, noisy_view, opts(2));
  CHECK(!never.next(b));  // no epoch started
}

TEST_CASE("image cache: round trip through mmap, invalidation, atomic write") {
  TempDir t;
  const std::string root = t / "imgs";
  std::vector<std::vector<uint8_t>> src;
  for (int k = 0; k < 5; ++k) {
    std::vector<uint8_t> img(10 * 7 * 3);
    for (std::size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>((i * 11 + static_cast<std::size_t>(k) * 40) % 256);
    src.push_back(img);
    write_png(root + (k < 3 ? "/a/" : "/b/") + std::to_string(k) + ".png", 10, 7, 3, img);
  }
  gcc::ImageCacheOptions o;
  o.size = 6;
  o.cache_path = t / "cache/imgs.gccimg";
  o.verbose = false;
  gcc::ImageCacheOptions mem = o;
  mem.use_cache = false;
  const ImageDataset want = gcc::read_image_folder(root, mem, "imgs");
  // first run builds the file, second maps it
  const ImageDataset first = gcc::read_image_folder(root, o, "imgs");
  REQUIRE(std::filesystem::exists(o.cache_path));
  for (const auto& e : std::filesystem::directory_iterator(t / "cache"))
    CHECK(e.path().filename().string() == "imgs.gccimg");  // no temp file left
  const auto stamp = std::filesystem::last_write_time(o.cache_path);
  const ImageDataset second = gcc::read_image_folder(root, o, "imgs");
  CHECK(std::filesystem::last_write_time(o.cache_path) == stamp);  // not rewritten
  for (const ImageDataset* d : {&first, &second}) {
    CHECK(d->mapped != nullptr);
    CHECK(d->pixels.empty());
    CHECK(d->n == 5);
    CHECK(d->height == 6);
    CHECK(d->width == 6);
    CHECK(d->channels == 3);
    CHECK(d->labels == std::vector<int>{0, 0, 0, 1, 1});
    CHECK(d->class_names == std::vector<std::string>{"a", "b"});
    CHECK(d->name == "imgs");
    CHECK(std::vector<uint8_t>(d->data(), d->data() + 5 * 108) == want.pixels);
  }
  // the resize rule on the decoded pixels
  std::vector<uint8_t> r(108);
  gcc::resize_shorter_center_crop(src[4].data(), 10, 7, 3, 6, r.data());
  CHECK(std::vector<uint8_t>(second.image(4), second.image(4) + 108) == r);
  // the mapping outlives the loader's copy of the handle
  ImageDataset keep = second;
  {
    const ImageDataset gone = gcc::read_image_folder(root, o, "imgs");
    (void)gone;
  }
  CHECK(keep.image(1)[0] == want.image(1)[0]);

  std::string why;
  ImageDataset probe;
  const gcc::ImageList list = gcc::list_image_folder(root, "imgs");
  CHECK(gcc::map_image_cache(o.cache_path, gcc::image_list_hash(list, 6, 3), 6, 3, probe, &why));
  CHECK(!gcc::map_image_cache(o.cache_path, gcc::image_list_hash(list, 6, 3), 5, 3, probe, &why));
  CHECK(why == "another image size or channel count");
  // a new image: stale -> rebuilt with 6 images
  std::vector<uint8_t> extra(4 * 4 * 3, 200);
  write_png(root + "/b/9.png", 4, 4, 3, extra);
  CHECK(!gcc::map_image_cache(o.cache_path, gcc::image_list_hash(gcc::list_image_folder(root), 6, 3), 6, 3, probe, &why));
  CHECK(why == "the image list changed");
  const ImageDataset grown = gcc::read_image_folder(root, o, "imgs");
  CHECK(grown.n == 6);
  CHECK(grown.image(5)[0] == 200);
  // a file replaced by one of another size: rebuilt, new pixels
  std::vector<uint8_t> big(12 * 12 * 3, 33);
  write_png(root + "/a/0.png", 12, 12, 3, big);
  const ImageDataset changed = gcc::read_image_folder(root, o, "imgs");
  CHECK(changed.image(0)[0] == 33);
  CHECK(changed.image(0)[107] == 33);
  // a renamed file (same bytes): stale
  std::filesystem::rename(root + "/b/9.png", root + "/b/8.png");
  CHECK(!gcc::map_image_cache(o.cache_path, gcc::image_list_hash(gcc::list_image_folder(root), 6, 3), 6, 3, probe, &why));
  // a truncated cache file is rebuilt, not half-read
  std::vector<uint8_t> again;
  {
    const ImageDataset a = gcc::read_image_folder(root, o, "imgs");
    CHECK(a.n == 6);
    again.assign(a.data(), a.data() + 6 * 108);
  }  // unmapped before the file is truncated in place below (a mapped file must not be truncated)
  const auto full = std::filesystem::file_size(o.cache_path);
  std::filesystem::resize_file(o.cache_path, full - 10);
  CHECK(!gcc::map_image_cache(o.cache_path, gcc::image_list_hash(gcc::list_image_folder(root), 6, 3), 6, 3, probe, &why));
  CHECK(why == "truncated");
  const ImageDataset healed = gcc::read_image_folder(root, o, "imgs");
  CHECK(std::filesystem::file_size(o.cache_path) == full);
  CHECK(std::vector<uint8_t>(healed.data(), healed.data() + 6 * 108) == again);
  // a file that is not a cache at all
  write_text(t / "cache/other.gccimg", std::string(200, 'x'));
  CHECK(!gcc::map_image_cache(t / "cache/other.gccimg", 0, 6, 3, probe, &why));
  CHECK(why == "not a gcc-toolkit image cache (wrong magic)");
  // the default path: under GCC_CACHE_DIR, named after the dataset, size and channels
  ::setenv("GCC_CACHE_DIR", (t / "envcache").c_str(), 1);
  const std::string def = gcc::default_image_cache_path(list, 6, 3);
  ::unsetenv("GCC_CACHE_DIR");
  CHECK(def.rfind(t / "envcache/imgs-6px-3c-", 0) == 0);
  CHECK(has(def, ".gccimg"));
  // the loader over a mapped dataset
  LoaderOptions lo;
  lo.batch_size = 4;
  lo.views = 1;
  lo.channels = 3;
  lo.size = 6;
  lo.threads = 2;
  Loader l(healed, [](const uint8_t* img, int h, int w, int c, gcc::Rng&, float* out) {
    for (int ch = 0; ch < c; ++ch)
      for (int k = 0; k < h * w; ++k) out[ch * h * w + k] = img[k * c + ch] / 255.f;
  }, lo);
  const std::vector<Batch> bs = run_epoch(l, 0);
  REQUIRE(bs.size() == 2);
  const int64_t s = bs[1].indices[1];
  CHECK(bs[1].views[0].at({1, 2, 0, 3}) == healed.image(s)[3 * 3 + 2] / 255.f);
}
