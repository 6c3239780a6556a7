// Reliability: JPEG decoding equals PIL's (libjpeg-turbo; fixtures from data_scripts/make_jpeg_reference.py)
// and refuses hostile files before allocating; the run-folder lock; the clean-up of temporary files
// left by killed writers; non-finite weights in a checkpoint refused naming the tensor.
// (NaN/Inf in an input batch and in the feature memory at the refresh: test_train.cpp.)
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "data_test_util.hpp"
#include "gcc/data/image_decode.hpp"
#include "gcc/io/atomic_file.hpp"
#include "gcc/io/checkpoint.hpp"
#include "gcc/io/npy.hpp"
#include "gcc/io/run_lock.hpp"
#include "gcc/nn/layers.hpp"

using namespace gcc;

namespace {

std::string rel_jpeg_dir() { return std::string(GCC_FIXTURE_DIR) + "/jpeg/"; }

std::vector<uint8_t> rel_bytes(const std::string& path) {
  const std::string s = io::read_file(path);
  return std::vector<uint8_t>(s.begin(), s.end());
}

}  // namespace

TEST_CASE("jpeg: libjpeg-turbo decodes exactly as PIL does (baseline 4:2:0 / 4:4:4, progressive, grey)") {
  for (const char* name : {"baseline420", "baseline444", "progressive420", "grey"}) {
    CAPTURE(name);
    const std::vector<uint8_t> file = rel_bytes(rel_jpeg_dir() + name + ".jpg");
    const io::NpyArray want = io::read_npy(rel_jpeg_dir() + name + ".npy");  // uint8 [H, W(, 3)]
    const int channels = want.shape.size() == 3 ? 3 : 1;
    const DecodedImage img = decode_image_memory(file.data(), file.size(), channels, name);
    REQUIRE(img.height == want.shape[0]);
    REQUIRE(img.width == want.shape[1]);
    REQUIRE(img.pixels.size() == want.data.size());
    int64_t differ = 0;
    for (std::size_t i = 0; i < img.pixels.size(); ++i) differ += img.pixels[i] != static_cast<uint8_t>(want.data[i]);
    CHECK(differ == 0);
  }
}

TEST_CASE("jpeg: grey from colour uses the luma rule of the PNG path; grey to RGB replicates") {
  const std::vector<uint8_t> file = rel_bytes(rel_jpeg_dir() + "baseline420.jpg");
  const DecodedImage rgb = decode_image_memory(file.data(), file.size(), 3, "rgb");
  const DecodedImage grey = decode_image_memory(file.data(), file.size(), 1, "grey");
  REQUIRE(grey.pixels.size() * 3 == rgb.pixels.size());
  for (std::size_t i = 0; i < grey.pixels.size(); i += 37) {
    const unsigned r = rgb.pixels[3 * i], g = rgb.pixels[3 * i + 1], b = rgb.pixels[3 * i + 2];
    CHECK(grey.pixels[i] == ((r * 77 + g * 150 + b * 29) >> 8));
  }
  const std::vector<uint8_t> gfile = rel_bytes(rel_jpeg_dir() + "grey.jpg");
  const DecodedImage g3 = decode_image_memory(gfile.data(), gfile.size(), 3, "grey3");
  const DecodedImage g1 = decode_image_memory(gfile.data(), gfile.size(), 1, "grey1");
  for (std::size_t i = 0; i < g1.pixels.size(); ++i) REQUIRE(g3.pixels[3 * i + 2] == g1.pixels[i]);
}

TEST_CASE("jpeg: truncated, lying and malformed files are refused with the file named") {
  std::vector<uint8_t> file = rel_bytes(rel_jpeg_dir() + "baseline420.jpg");
  const std::vector<uint8_t> cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(file.size() / 2));
  CHECK_THROWS_WITH_AS(decode_image_memory(cut.data(), cut.size(), 3, "cut.jpg"),
                       doctest::Contains("cannot decode 'cut.jpg' (libjpeg: Premature end of JPEG file)"), Error);
  // SOF0 declares 24 x 40; make it 60000 x 60000 (3.6 G pixels from 1 KB): refused before allocating
  std::vector<uint8_t> big = file;
  bool patched = false;
  for (std::size_t i = 0; i + 8 < big.size() && !patched; ++i)
    if (big[i] == 0xFF && big[i + 1] == 0xC0) {
      big[i + 5] = big[i + 7] = 0xEA;
      big[i + 6] = big[i + 8] = 0x60;
      patched = true;
    }
  REQUIRE(patched);
  CHECK_THROWS_WITH_AS(decode_image_memory(big.data(), big.size(), 3, "big.jpg"),
                       doctest::Contains("declares 60000x60000 pixels"), Error);
  // a Huffman table whose code counts sum past 256 (stb_image 2.27 wrote out of bounds here)
  std::vector<uint8_t> dht = file;
  for (std::size_t i = 0; i + 21 < dht.size(); ++i)
    if (dht[i] == 0xFF && dht[i + 1] == 0xC4) {
      for (int k = 0; k < 16; ++k) dht[i + 5 + static_cast<std::size_t>(k)] = 0xFF;
      break;
    }
  CHECK_THROWS_WITH_AS(decode_image_memory(dht.data(), dht.size(), 3, "dht.jpg"), doctest::Contains("libjpeg:"), Error);
}

TEST_CASE("image decode: a PNG declaring more pixels than its bytes can hold is refused before decoding") {
  // a PNG whose IHDR claims 30000 x 30000 grey pixels, then IEND (no data): refused before stb allocates
  const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                         0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30, 8, 0, 0, 0, 0, 0x3A, 0x7E, 0x9B, 0x55,
                         0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
  CHECK_THROWS_WITH_AS(decode_image_memory(png, sizeof png, 1, "huge.png"),
                       doctest::Contains("'huge.png' declares 30000x30000 pixels, more than its 45 bytes can hold"), Error);
}

TEST_CASE("run lock: a second holder of a run folder is refused, naming the first; released on close") {
  gcc_test::TempDir dir;
  {
    io::RunLock first(dir.path, "gcc_train");
    CHECK(io::file_exists(dir.path + "/.lock"));
    const std::string held = "is in use by another run (gcc_train pid " + std::to_string(::getpid());
    CHECK_THROWS_WITH_AS(io::RunLock(dir.path, "gcc_selflabel"), doctest::Contains(held.c_str()), Error);
  }
  CHECK_NOTHROW(io::RunLock(dir.path, "gcc_train"));  // the first one released its lock
  const std::string unwritable = "cannot write in the output folder '" + dir.path + "/missing'";
  CHECK_THROWS_WITH_AS(io::RunLock(dir.path + "/missing", "gcc_train"), doctest::Contains(unwritable.c_str()), Error);
}

TEST_CASE("atomic files: the temporaries of killed writers are found for every name in a folder") {
  gcc_test::TempDir dir;
  for (const char* f : {"checkpoint.safetensors.tmp.123.0", "config.yaml.tmp.9.14", "keep.tmp.x.1", "keep.tmp.1",
                        ".tmp.1.2", "checkpoint.safetensors"})
    std::ofstream(dir.path + "/" + f) << "x";
  CHECK(io::remove_stale_temp_files_in(dir.path) == 2);
  CHECK(io::file_exists(dir.path + "/keep.tmp.x.1"));
  CHECK(io::file_exists(dir.path + "/keep.tmp.1"));
  CHECK(io::file_exists(dir.path + "/checkpoint.safetensors"));
  CHECK_FALSE(io::file_exists(dir.path + "/config.yaml.tmp.9.14"));
}

TEST_CASE("checkpoint: a NaN or Inf weight in the file is refused naming the tensor; the model is unchanged") {
  gcc_test::TempDir dir;
  Rng rng(3);
  nn::Linear src(4, 3, rng), dst(4, 3, rng);
  const std::vector<float> before = dst.state_dict()[0].tensor.to_vector();
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    io::Safetensors st;
    for (const NamedTensor& t : src.state_dict()) {
      Tensor v = t.tensor.clone();
      if (t.name == "bias") v.data()[1] = bad;
      st.add(t.name, v);
    }
    const std::string path = dir.path + "/bad.safetensors";
    st.save(path);
    const std::string want = "tensor 'bias' holds " + non_finite_name(bad) + " at element 1 of 3";
    CHECK_THROWS_WITH_AS(io::Checkpoint::load(path).load_model(dst), doctest::Contains(want.c_str()), Error);
    CHECK(dst.state_dict()[0].tensor.to_vector() == before);
  }
}

// The inputs with which the image fuzz target crashed stb_image 2.27 (tests/fuzz/regressions/image/;
// byte 0 is the harness's mode: bit 0 = 3 channels, bit 1 = probe the header of a file).
TEST_CASE("image decode: the fuzzer's stb findings are refused before stb reads them") {
  const std::string dir = std::string(GCC_FIXTURE_DIR) + "/../fuzz/regressions/image/";
  auto input = [&](const char* name) {
    std::vector<uint8_t> b = rel_bytes(dir + name);
    REQUIRE(b.size() > 1);
    return b;
  };
  // an IDAT chunk declaring more bytes than the file holds (stb reallocated 1.7 GB for this 99-byte file)
  const std::vector<uint8_t> oom = input("stb-png-idat-length-oom");
  CHECK_THROWS_WITH_AS(decode_image_memory(oom.data() + 1, oom.size() - 1, 1, "oom.png"),
                       doctest::Contains("more than the file holds"), Error);
  // an empty IDAT chunk (stb memcpy'd from a null buffer)
  const std::vector<uint8_t> empty = input("stb-null-memcpy");
  CHECK_THROWS_WITH_AS(decode_image_memory(empty.data() + 1, empty.size() - 1, 3, "empty.png"),
                       doctest::Contains("cannot decode 'empty.png': it"), Error);
  // 0xFF fill bytes before the JPEG start marker reached stb's JPEG decoder (out-of-bounds Huffman table);
  // stb no longer has a JPEG decoder, and the header probe says "not an image"
  const std::vector<uint8_t> jpeg = input("stb-jpeg-dht-fill-bytes-before-soi");
  gcc_test::TempDir tmp;
  const std::string path = tmp / "fill.jpg";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(jpeg.data() + 1),
                                              static_cast<std::streamsize>(jpeg.size() - 1));
  int w = 0, h = 0, c = 0;
  CHECK_FALSE(read_image_header(path, w, h, c));
  CHECK_THROWS_AS(decode_image_memory(jpeg.data() + 1, jpeg.size() - 1, 3, "fill.jpg"), Error);
}
