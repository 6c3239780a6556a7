// The fixture reader (tests/fixture.hpp): a file in the documented format reads back, damaged files
// fail with a gcc::Error naming the file and the problem, and every committed fixture reads.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fixture.hpp"
#include "gradcheck.hpp"

using gcc::Shape;
using gcc::Tensor;
using namespace gcc_test;

namespace {

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_i64(std::string& s, int64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
}
void put_f32(std::string& s, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  put_u32(s, bits);
}
void put_tensor(std::string& s, const std::string& name, const std::vector<int64_t>& dims,
                const std::vector<float>& data) {
  put_u32(s, static_cast<uint32_t>(name.size()));
  s += name;
  put_u32(s, static_cast<uint32_t>(dims.size()));
  for (int64_t d : dims) put_i64(s, d);
  for (float f : data) put_f32(s, f);
}
// A valid two-tensor file: a scalar "s" = 2.5 and a [2, 3] matrix "m" = 0..5.
std::string valid_file(uint32_t version = 1) {
  std::string s("GCCFIX\0\0", 8);
  put_u32(s, version);
  put_u32(s, 2);
  put_tensor(s, "s", {}, {2.5f});
  put_tensor(s, "m", {2, 3}, {0, 1, 2, 3, 4, 5});
  return s;
}
std::string write_temp(const std::string& name, const std::string& bytes) {
  const std::string path = (std::filesystem::temp_directory_path() / ("gcc_fixture_test_" + name)).string();
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

}  // namespace

TEST_CASE("fixture reader: a file in the documented format reads back") {
  const std::string path = write_temp("ok.bin", valid_file());
  const Fixture fx = Fixture::read(path);
  CHECK(fx.size() == 2);
  CHECK(fx.get("s").dims() == 0);
  CHECK(fx.scalar("s") == 2.5f);
  CHECK(fx.get("m").shape() == Shape{2, 3});
  check_values(fx.get("m"), {0, 1, 2, 3, 4, 5}, 0, 0, "m");
  CHECK(fx.ints("m") == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  CHECK(fx.names("m") == std::vector<std::string>{"m"});
  CHECK_THROWS_WITH_AS(fx.get("nope"), doctest::Contains("no tensor named 'nope'"), gcc::Error);
  std::remove(path.c_str());
}

TEST_CASE("fixture reader: damaged files fail with the file name and the problem") {
  const std::string good = valid_file();
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  const std::string p1 = write_temp("magic.bin", bad_magic);
  CHECK_THROWS_WITH_AS(Fixture::read(p1), doctest::Contains((p1 + ": bad magic bytes").c_str()), gcc::Error);
  const std::string p2 = write_temp("version.bin", valid_file(2));
  CHECK_THROWS_WITH_AS(Fixture::read(p2), doctest::Contains((p2 + ": version 2 is not supported").c_str()), gcc::Error);
  const std::string p3 = write_temp("truncated.bin", good.substr(0, good.size() - 1));
  CHECK_THROWS_WITH_AS(Fixture::read(p3), doctest::Contains((p3 + ": truncated: tensor 'm' (data)").c_str()), gcc::Error);
  const std::string p4 = write_temp("header.bin", good.substr(0, 10));
  CHECK_THROWS_WITH_AS(Fixture::read(p4), doctest::Contains((p4 + ": truncated: the version").c_str()), gcc::Error);
  const std::string p5 = write_temp("trailing.bin", good + "x");
  CHECK_THROWS_WITH_AS(Fixture::read(p5), doctest::Contains((p5 + ": 1 unexpected bytes").c_str()), gcc::Error);
  const std::string missing = (std::filesystem::temp_directory_path() / "gcc_fixture_test_missing.bin").string();
  CHECK_THROWS_WITH_AS(Fixture::read(missing), doctest::Contains((missing + ": cannot open").c_str()), gcc::Error);
  for (const std::string& p : {p1, p2, p3, p4, p5}) std::remove(p.c_str());
}

TEST_CASE("fixture reader: every committed fixture reads") {
  std::uintmax_t total = 0;
  for (const char* f : {"model_resnet18_cifar.bin", "model_resnet18_stl.bin", "rgc.bin", "agc.bin",
                        "confidence_ce.bin", "train_step_phase2.bin", "knn.bin", "optim.bin"}) {
    const Fixture fx = Fixture::load(f);
    const std::uintmax_t bytes = std::filesystem::file_size(fx.path());
    total += bytes;
    MESSAGE(std::string(f) << ": " << fx.size() << " tensors, " << bytes << " bytes");
    CHECK(fx.size() > 0);
  }
  MESSAGE("all fixtures: " << total << " bytes");
}
