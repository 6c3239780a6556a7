// Writes small VALID seed inputs for every fuzz target with the toolkit's own writers:
//   make_seeds OUT_DIR   -> OUT_DIR/<target>/<seed>  (run from the repository root: the YAML seeds
//                           include examples/configs/*.yml when present)
// Each target's option bytes (see the fuzz_<target>.cpp comments) are put in front where it takes them.
#define GCC_STB_IMPLEMENTATION
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "gcc/data/image_cache.hpp"
#include "gcc/io/npy.hpp"
#include "gcc/io/png.hpp"
#include "gcc/io/safetensors.hpp"
#include "gcc/io/stb.hpp"
#include "gcc/train/config_file.hpp"
#include "gcc/train/end2end_checkpoint.hpp"
#include "gcc/train/selflabel_checkpoint.hpp"
#include "tiny_trainer.hpp"

namespace fs = std::filesystem;
using Bytes = std::string;

namespace {
std::string g_out;

void seed(const std::string& target, const std::string& name, const Bytes& b) {
  fs::create_directories(g_out + "/" + target);
  std::ofstream(g_out + "/" + target + "/" + name, std::ios::binary) << b;
}
Bytes slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
Bytes be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}
Bytes gzip(const Bytes& b, const std::string& tmp) {
  gzFile f = gzopen(tmp.c_str(), "wb9");
  gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
  gzclose(f);
  return slurp(tmp);
}
Bytes pattern(std::size_t n, int mul) {
  Bytes b(n, 0);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<char>((i * mul) % 251);
  return b;
}
void sink(void* ctx, void* data, int size) { static_cast<Bytes*>(ctx)->append(static_cast<char*>(data), size); }

void cifar_seeds() {
  for (int mode : {0, 1, 3}) {
    const int lb = (mode & 1) ? 2 : 1;
    Bytes b(1, char(mode));
    for (int r = 0; r < 2; ++r) b += Bytes(lb, char(r + 3)) + pattern(3072, 7 + r);
    seed("cifar", "valid-" + std::to_string(mode), b);
  }
}
void stl10_seeds() {
  const Bytes x = pattern(27648, 13);
  seed("stl10", "train", Bytes{0, char(432 & 255), char(432 >> 8), 0} + x + Bytes(1, 4));
  seed("stl10", "train+unlabeled+test", Bytes{5, char(432 & 255), char(432 >> 8), 0} + x + Bytes(1, 10));
}
void idx_seeds(const std::string& tmp) {
  const Bytes images = be32(0x803) + be32(2) + be32(4) + be32(4) + pattern(32, 9);
  const Bytes labels = be32(0x801) + be32(2) + Bytes{3, 7};
  const uint16_t cut = static_cast<uint16_t>(images.size() / 2);
  const Bytes cutb{char(cut & 255), char(cut >> 8)};
  seed("idx", "images", Bytes(1, 0) + images);
  seed("idx", "images-gz-file", Bytes(1, 0) + gzip(images, tmp));
  seed("idx", "pair", Bytes(1, 1) + cutb + images + labels);
  seed("idx", "pair-gzipped", Bytes(1, 3) + cutb + images + labels);
  seed("idx", "pair-named", Bytes(1, 5) + cutb + images + labels);
}
void image_seeds() {
  const Bytes rgb = pattern(8 * 6 * 3, 11), grey = pattern(8 * 6, 5);
  const auto* p3 = reinterpret_cast<const unsigned char*>(rgb.data());
  const auto* p1 = reinterpret_cast<const unsigned char*>(grey.data());
  const std::vector<unsigned char> png3 = gcc::io::encode_png(p3, 8, 6, 3), png1 = gcc::io::encode_png(p1, 8, 6, 1);
  Bytes jpg, bmp, jpg1;
  stbi_write_jpg_to_func(sink, &jpg, 8, 6, 3, p3, 90);
  stbi_write_jpg_to_func(sink, &jpg1, 8, 6, 1, p1, 75);
  stbi_write_bmp_to_func(sink, &bmp, 8, 6, 3, p3);
  const Bytes s3(png3.begin(), png3.end()), s1(png1.begin(), png1.end());
  for (int mode = 0; mode < 4; ++mode) {
    const Bytes m(1, char(mode));
    seed("image", "png3-" + std::to_string(mode), m + s3);
    seed("image", "jpg-" + std::to_string(mode), m + jpg);
    seed("image", "bmp-" + std::to_string(mode), m + bmp);
  }
  seed("image", "png1-1", Bytes(1, 1) + s1);
  seed("image", "jpg1-0", Bytes(1, 0) + jpg1);
}
void safetensors_seeds() {
  namespace io = gcc::io;
  io::Safetensors st;
  st.add_f32("w", {1.f, -2.f, 3.5f, 0.f, 7.f, 1e-3f}, {2, 3});
  st.add_i64("steps", {42}, {});
  st.add_raw("half", io::DType::F16, Bytes("\x00\x3c\x00\xc0", 4), {2});
  st.add_raw("bf", io::DType::BF16, Bytes("\x80\x3f\x00\x00", 4), {2});
  st.add_raw("flags", io::DType::BOOL, Bytes("\x01\x00\x01", 3), {3});
  st.add_raw("u64", io::DType::U64, Bytes(8, '\x01'), {1});
  st.add_raw("d", io::DType::F64, Bytes(16, '\x3f'), {1, 2});
  st.add_raw("empty", io::DType::I32, Bytes(), {0, 4});
  st.set_metadata("format", "pt");
  seed("safetensors", "mixed", st.serialize());
  io::Safetensors one;
  one.add_f32("x", {1.f}, {1, 1, 1, 1, 1});
  seed("safetensors", "rank5", one.serialize());
  seed("safetensors", "empty", io::Safetensors().serialize());
}
void npy_seeds(const std::string& tmp) {
  const std::string p = tmp + "/a.npy";
  gcc::io::write_npy(p, std::vector<float>{1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3});
  seed("npy", "f32-2x3", slurp(p));
  gcc::io::write_npy(p, std::vector<int64_t>{-1, 2, 3});
  seed("npy", "i64-3", slurp(p));
  gcc::io::write_npy(p, std::vector<int32_t>{7});
  seed("npy", "i32-1", slurp(p));
  const uint8_t px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  gcc::io::write_npy_u8(p, px, {1, 2, 2, 3});
  seed("npy", "u8-4d", slurp(p));
  const float scalar = 2.5f;
  gcc::io::write_npy_f32(p, &scalar, {});
  seed("npy", "f32-0d", slurp(p));
}
void yaml_seeds() {
  using namespace gcc::train;
  seed("yaml", "cifar10-full", Bytes(1, 0) + config_yaml(preset("cifar-10"), "seed"));
  seed("yaml", "stl10-full-selflabel", Bytes(1, 1 | (2 << 1)) + config_yaml(preset("stl-10")));
  seed("yaml", "small", Bytes(1, 0) + "preset: cifar-20\nlr: 0.2\nbatch_size: 128\nmean: [0.5, 0.5, 0.5]\n");
  seed("yaml", "selflabel", Bytes(1, 1) + "setup: selflabel\nepochs: 3\nselflabel:\n  lr: 0.0001\n");
  if (!fs::is_directory("examples/configs")) return;
  for (const auto& e : fs::directory_iterator("examples/configs")) {
    const std::string name = e.path().filename().string();
    const bool sl = name.rfind("selflabel", 0) == 0;
    seed("yaml", name, Bytes(1, sl ? 1 : 0) + slurp(e.path().string()));
  }
}
void json_seeds() {
  seed("json", "object", R"({"a": [1, -2.5e3, true, false, null], "b": {"c": "x\u00e9\ud83d\ude00\n"}, "d": 0})");
  seed("json", "metrics", R"({"epoch":3,"loss":1.25,"phase":"pretext","acc":[0.5,0.25]})");
  seed("json", "number", "-0.0e+12");
  seed("json", "string", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
}
void image_cache_seeds(const std::string& tmp) {
  const std::string root = tmp + "/imgs";
  fs::create_directories(root);
  const Bytes rgb = pattern(10 * 7 * 3, 17);
  gcc::io::write_png(root + "/a.png", reinterpret_cast<const unsigned char*>(rgb.data()), 10, 7, 3);
  gcc::io::write_png(root + "/b.png", reinterpret_cast<const unsigned char*>(rgb.data()), 7, 10, 3);
  gcc::ImageList list;
  list.root = root;
  list.entries = {{"a.png", 0}, {"b.png", 1}};
  list.class_names = {"zero", "one"};
  list.name = "fuzz";
  for (int ch : {3, 1}) {
    gcc::ImageCacheOptions opt;
    opt.size = 4;
    opt.channels = ch;
    const std::string path = tmp + "/cache.gccimg";
    gcc::write_image_cache(path, list, opt, gcc::image_list_hash(list, 4, ch));
    seed("image_cache", "valid-c" + std::to_string(ch), slurp(path));
  }
}
void checkpoint_seeds(const std::string& tmp) {
  const std::string p = tmp + "/ck.safetensors";
  gcc::train::save_end2end_checkpoint(p, fuzz::tiny_end2end());
  seed("checkpoint", "end2end", Bytes(1, 0) + slurp(p));
  gcc::train::save_selflabel_checkpoint(p, fuzz::tiny_selflabel());
  seed("checkpoint", "selflabel", Bytes(1, 1) + slurp(p));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
    return 2;
  }
  g_out = argv[1];
  const std::string tmp = (fs::temp_directory_path() / ("gcc_make_seeds_" + std::to_string(::getpid()))).string();
  fs::create_directories(tmp);
  try {
    cifar_seeds();
    stl10_seeds();
    idx_seeds(tmp + "/x.gz");
    image_seeds();
    safetensors_seeds();
    npy_seeds(tmp);
    yaml_seeds();
    json_seeds();
    image_cache_seeds(tmp);
    checkpoint_seeds(tmp);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_seeds: %s\n", e.what());
    fs::remove_all(tmp);
    return 1;
  }
  fs::remove_all(tmp);
  return 0;
}
