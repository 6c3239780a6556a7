// io/: atomic files, JSON, safetensors (round trips, strict reader), training checkpoints (bit-identical
// resume, mismatch messages, kill -9 during a write), .npy bytes as numpy writes them, JSON-lines metrics,
// YAML experiment configs (the example configs, overrides, errors) and the export for the PyTorch check.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "data_test_util.hpp"
#include "gradcheck.hpp"
#include "gcc/io/atomic_file.hpp"
#include "gcc/io/checkpoint.hpp"
#include "gcc/io/json.hpp"
#include "gcc/io/metrics_log.hpp"
#include "gcc/io/npy.hpp"
#include "gcc/io/safetensors.hpp"

namespace {

namespace io = gcc::io;
using gcc::Tensor;

struct IoTempDir {
  std::string path;
  IoTempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gcc_io_test_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    REQUIRE(p != nullptr);
    path = p;
  }
  ~IoTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
  int files() const {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(path)) n += e.is_regular_file();
    return n;
  }
  IoTempDir(const IoTempDir&) = delete;
  IoTempDir& operator=(const IoTempDir&) = delete;
};

void put_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  return s;
}
// A safetensors file from a header text and data bytes (the header is padded to 8 bytes).
std::string st_bytes(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return le64(header.size()) + header + data;
}

using gcc_test::error_of;

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

gcc::nn::End2EndConfig small_config(const std::string& backbone, int64_t width, int64_t k) {
  gcc::nn::End2EndConfig cfg;
  cfg.backbone = gcc::nn::ResNetConfig::preset(backbone);
  cfg.backbone.base_width = width;
  cfg.num_clusters = k;
  return cfg;
}

// Non-trivial BatchNorm state (affine parameters, running statistics, num_batches_tracked) so that a
// load that forgot the buffers would be caught.
void randomize_bn(const gcc::nn::Module& m, uint64_t seed) {
  gcc::Rng rng(seed);
  for (const gcc::NamedTensor& t : m.state_dict()) {
    const std::string& n = t.name;
    auto ends = [&](const std::string& s) {
      return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
    };
    if (ends("running_var"))
      rng.fill_uniform(t.tensor, 0.5, 1.5);
    else if (ends("running_mean"))
      rng.fill_uniform(t.tensor, -0.1, 0.1);
    else if (ends("num_batches_tracked"))
      t.tensor.fill(7.f);
    else if (t.tensor.dims() == 1 && ends("weight"))
      rng.fill_uniform(t.tensor, 0.5, 1.5);
    else if (t.tensor.dims() == 1 && ends("bias"))
      rng.fill_uniform(t.tensor, -0.2, 0.2);
  }
}

// One SGD step on a fixed scalar of the model's outputs.
void train_step(gcc::nn::End2EndModel& model, gcc::Optimizer& opt, gcc::Rng& rng, int64_t batch, int64_t size) {
  Tensor x = Tensor::empty(gcc::Shape{batch, 3, size, size});
  rng.fill_normal(x, 0.0, 1.0);
  const gcc::nn::End2EndOutput out = model.forward(x);
  Tensor r1 = Tensor::empty(out.embedding.shape()), r2 = Tensor::empty(out.logits[0].shape());
  rng.fill_uniform(r1, -1, 1);
  rng.fill_uniform(r2, -1, 1);
  Tensor loss = gcc::add(gcc::sum_all(gcc::mul(out.embedding, r1)), gcc::sum_all(gcc::mul(out.logits[0], r2)));
  opt.zero_grad();
  loss.backward();
  opt.step();
}


}  // namespace

// ---- atomic files -----------------------------------------------------------------------------------
TEST_CASE("io: atomic write replaces the file; a failed or abandoned write leaves the previous file intact") {
  IoTempDir dir;
  const std::string p = dir / "out.bin";
  io::write_file_atomically(p, std::string("first"));
  CHECK(io::read_file(p) == "first");
  io::write_file_atomically(p, std::string("second version"));
  CHECK(io::read_file(p) == "second version");
  {  // abandoned before commit (an exception in the middle of a save): old contents, no temporary left
    io::AtomicFile f(p, "test");
    f.write(std::string("half of a new"));
    CHECK(io::file_exists(f.temp_path()));
  }
  CHECK(io::read_file(p) == "second version");
  CHECK(dir.files() == 1);
  // An exception thrown while producing the data: same.
  CHECK_THROWS_AS(([&] {
                    io::AtomicFile f(p, "test");
                    f.write(std::string("partial"));
                    throw gcc::Error("producer failed");
                  }()),
                  gcc::Error);
  CHECK(io::read_file(p) == "second version");
  CHECK(dir.files() == 1);
  // Errors name the operation, the path and the system's reason.
  const std::string missing = dir / "no_such_dir/x.bin";
  const std::string msg = error_of([&] { io::write_file_atomically(missing, std::string("x"), "my_writer"); });
  CHECK(msg.find("my_writer") != std::string::npos);
  CHECK(msg.find(missing) != std::string::npos);
  CHECK(msg.find("No such file or directory") != std::string::npos);
  CHECK_THROWS_WITH_AS(io::read_file(dir / "nope"), doctest::Contains("cannot open"), gcc::Error);
  // A killed writer's temporary file is recognised and removed.
  put_file(p + ".tmp.12345.0", "junk");
  put_file(dir / "out.bin.tmpx", "other file");
  CHECK(io::remove_stale_temp_files(p) == 1);
  CHECK(dir.files() == 2);
}

// ---- JSON -------------------------------------------------------------------------------------------
TEST_CASE("io: JSON parser and writer") {
  const io::Json j = io::Json::parse(
      R"( {"a": [1, -2.5e3, true, null], "s": "x\"\\\n\u00e9\ud83d\ude00", "big": 18446744073709551615} )");
  REQUIRE(j.is_object());
  const io::Json* a = j.find("a");
  REQUIRE(a != nullptr);
  REQUIRE(a->items().size() == 4);
  int64_t i = 0;
  CHECK(a->items()[0].as_int64(&i));
  CHECK(i == 1);
  CHECK(a->items()[1].number() == -2500.0);
  CHECK_FALSE(a->items()[1].as_int64(&i));
  CHECK(a->items()[2].boolean());
  CHECK(a->items()[3].is_null());
  CHECK(j.find("s")->str() == "x\"\\\n\xC3\xA9\xF0\x9F\x98\x80");
  uint64_t u = 0;
  CHECK(j.find("big")->as_uint64(&u));
  CHECK(u == 18446744073709551615ull);
  CHECK_THROWS_WITH_AS(io::Json::parse("{\"a\":1,\"a\":2}", "h"),
                       doctest::Contains("h: invalid JSON at byte 10: duplicate key \"a\""), gcc::Error);
  CHECK_THROWS_WITH_AS(io::Json::parse("{\"a\":1} x"), doctest::Contains("unexpected text after the JSON value"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(io::Json::parse("{\"a\":01}"), doctest::Contains("expected ',' or '}'"), gcc::Error);
  CHECK_THROWS_WITH_AS(io::Json::parse("[\"\\ud800\"]"), doctest::Contains("unpaired surrogate"), gcc::Error);
  CHECK_THROWS_WITH_AS(io::Json::parse("\"abc"), doctest::Contains("unterminated string"), gcc::Error);
  CHECK(io::json_quote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
  CHECK(io::json_number(0.1) == "0.1");
  CHECK(io::json_number(1e-4) == "1e-04");  // shortest round-trip form (std::to_chars)
  CHECK(io::json_number(3.0) == "3");
  CHECK(io::json_number(std::nan("")) == "null");
  CHECK(io::JsonObject().add("epoch", 3).add("loss", 1.25).add("phase", "pretext").add("ok", true).str() ==
        "{\"epoch\":3,\"loss\":1.25,\"phase\":\"pretext\",\"ok\":true}");
}

// ---- safetensors ------------------------------------------------------------------------------------
TEST_CASE("io: safetensors layout is byte-exact: 8-byte length, padded JSON header, 8-byte types first") {
  io::Safetensors st;
  st.add("w", Tensor::from_vector({1.5f, -2.f}, gcc::Shape{2}));
  st.add_i64("n", {7}, {});
  st.set_metadata("k", "v");
  const std::string bytes = st.serialize();
  const std::string header =
      "{\"__metadata__\":{\"k\":\"v\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
      "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}    ";  // 132 + 4 spaces = 136
  REQUIRE(header.size() == 136);
  std::string data = le64(7);
  const float w[2] = {1.5f, -2.f};
  data.append(reinterpret_cast<const char*>(w), 8);
  CHECK(bytes == le64(136) + header + data);
}

TEST_CASE("io: safetensors round trip of F32, I64, 0-d, empty and >4-d tensors with metadata") {
  IoTempDir dir;
  const std::string p = dir / "t.safetensors";
  io::Safetensors st;
  const Tensor a = gcc_test::rand_tensor(gcc::Shape{2, 3, 4, 5}, 3);
  st.add("a", a);
  st.add("scalar", Tensor::scalar(-0.25f));
  st.add_f32("empty", {}, {0, 7});
  st.add_i64("ids", {-1, 0, 1, (int64_t(1) << 40)}, {2, 2});
  st.add_f32("five_d", std::vector<float>(6, 2.f), {1, 1, 2, 1, 3});
  st.add_raw("bytes", io::DType::U8, std::string("\x01\x02\xff", 3), {3});
  st.set_metadata("config", "a: 1\nb: \"x\"\n\ttab \xC3\xA9");
  st.set_metadata("epoch", "12");
  st.save(p);
  const io::Safetensors r = io::Safetensors::load(p);
  CHECK(r.source() == p);
  CHECK(r.size() == 6);
  CHECK(same_bits(r.tensor("a"), a));
  CHECK(r.shape("scalar").empty());
  CHECK(r.tensor("scalar").item() == -0.25f);
  CHECK(r.shape("empty") == std::vector<int64_t>{0, 7});
  CHECK(r.f32("empty").empty());
  CHECK(r.dtype("ids") == io::DType::I64);
  CHECK(r.i64("ids") == std::vector<int64_t>{-1, 0, 1, int64_t(1) << 40});
  CHECK(r.f32("ids")[3] == 1099511627776.f);
  CHECK(r.shape("five_d").size() == 5);
  CHECK(r.f32("five_d") == std::vector<float>(6, 2.f));
  CHECK_THROWS_WITH_AS(r.tensor("five_d"), doctest::Contains("tensor 'five_d' has 5 dimensions"), gcc::Error);
  CHECK(r.i64("bytes") == std::vector<int64_t>{1, 2, 255});
  CHECK(r.metadata("config") == "a: 1\nb: \"x\"\n\ttab \xC3\xA9");
  CHECK(r.metadata("epoch") == "12");
  CHECK_THROWS_WITH_AS(r.i64("a"), doctest::Contains("tensor 'a' has dtype F32, expected an integer dtype"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(r.entry("nope"), doctest::Contains("no tensor named 'nope'"), gcc::Error);
  // Names come back in insertion order; every tensor starts aligned to its element size.
  CHECK(r.names() == std::vector<std::string>{"a", "scalar", "empty", "ids", "five_d", "bytes"});
  const std::string bytes = io::read_file(p);
  uint64_t hl = 0;
  std::memcpy(&hl, bytes.data(), 8);
  CHECK(hl % 8 == 0);
  const io::Json head = io::Json::parse(bytes.substr(8, hl));
  for (const auto& m : head.members()) {
    if (m.first == "__metadata__") continue;
    uint64_t b = 0;
    REQUIRE(m.second.find("data_offsets")->items()[0].as_uint64(&b));
    CHECK(b % io::dtype_size(r.dtype(m.first)) == 0);
  }
  // Builder errors.
  CHECK_THROWS_WITH_AS(st.add("a", a), doctest::Contains("a tensor named 'a' was already added"), gcc::Error);
  CHECK_THROWS_WITH_AS(st.add_f32("__metadata__", {1.f}, {1}), doctest::Contains("reserved"), gcc::Error);
  CHECK_THROWS_WITH_AS(st.add_f32("bad", {1.f, 2.f}, {3}), doctest::Contains("needs 12 bytes, got 8"), gcc::Error);
}

TEST_CASE("io: safetensors F16 / BF16 / I32 / F64 / BOOL are read and converted") {
  std::string data;
  auto put16 = [&](uint16_t v) { data.append(reinterpret_cast<const char*>(&v), 2); };
  const double d = -3.5;
  data.append(reinterpret_cast<const char*>(&d), 8);  // F64 first (8-byte types)
  const int32_t i32 = -7;
  data.append(reinterpret_cast<const char*>(&i32), 4);
  put16(0x3C00);  // F16 1.0
  put16(0xC000);  // F16 -2.0
  put16(0x0001);  // F16 smallest subnormal 2^-24
  put16(0x3F80);  // BF16 1.0
  data += '\x01';
  const std::string h =
      "{\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
      "\"i\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]},"
      "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[12,18]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[18,20]},"
      "\"t\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[20,21]}}";
  const io::Safetensors st = io::Safetensors::parse(st_bytes(h, data), "mem");
  CHECK(st.f32("d")[0] == -3.5f);
  CHECK(st.i64("i")[0] == -7);
  CHECK(st.f32("h") == std::vector<float>{1.f, -2.f, std::ldexp(1.f, -24)});
  CHECK(st.f32("b")[0] == 1.f);
  CHECK(st.i64("t")[0] == 1);
}

TEST_CASE("io: safetensors strict reader: truncated and corrupt files get errors naming file and tensor") {
  const std::string ok_h =
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]}}";
  const std::string data(16, '\0');
  CHECK_NOTHROW(io::Safetensors::parse(st_bytes(ok_h, data), "f.st"));
  auto err = [&](const std::string& bytes) { return error_of([&] { io::Safetensors::parse(bytes, "f.st"); }); };
  auto with = [&](const std::string& from, const std::string& to) {
    std::string h = ok_h;
    const std::size_t p = h.find(from);
    REQUIRE(p != std::string::npos);
    h.replace(p, from.size(), to);
    return err(st_bytes(h, data));
  };
  CHECK(err("abc").find("safetensors 'f.st': truncated or not a safetensors file: 3 bytes") != std::string::npos);
  CHECK(err(le64(1000) + "{}").find("the header length field says 1000 bytes but 2 follow") != std::string::npos);
  CHECK(err(le64(uint64_t(1) << 40) + "{}").find("the format allows at most") != std::string::npos);
  CHECK(err(le64(8) + "[1,2,3] ").find("does not start with '{'") != std::string::npos);
  CHECK(err(st_bytes("{\"a\":", "")).find("f.st' header: invalid JSON") != std::string::npos);
  // Truncated data: the last tensor runs past the end.
  const std::string full = st_bytes(ok_h, data);
  CHECK(err(full.substr(0, full.size() - 3))
            .find("tensor 'b': data_offsets [8, 16] run past the end of the data (13 bytes)") != std::string::npos);
  // Every cut of a valid file is an error (or, cut inside the data, a clear truncation message).
  for (std::size_t cut = 0; cut < full.size(); ++cut)
    CHECK_THROWS_AS(io::Safetensors::parse(full.substr(0, cut), "f.st"), gcc::Error);
  CHECK(with("\"I64\"", "\"Q8\"").find("tensor 'b': unknown dtype 'Q8'") != std::string::npos);
  CHECK(with("[8,16]", "[4,12]").find("tensors 'a' and 'b' overlap") != std::string::npos);
  CHECK(with("[0,8]", "[0,4]").find("tensor 'a': shape [2] of F32 needs 8 bytes, data_offsets [0, 4] hold 4") !=
        std::string::npos);
  CHECK(with("\"shape\":[2]", "\"shape\":[-2]").find("tensor 'a': shape entry '-2' is not a non-negative integer") !=
        std::string::npos);
  CHECK(with("\"shape\":[2]", "\"shape\":[2.0]").find("shape entry '2.0'") != std::string::npos);
  CHECK(with("[8,16]", "[16,8]").find("tensor 'b': data_offsets [16, 8] end before they begin") != std::string::npos);
  CHECK(with(",\"data_offsets\":[0,8]", "").find("tensor 'a': missing field 'data_offsets'") != std::string::npos);
  CHECK(with("\"dtype\":\"F32\"", "\"dtype\":\"F32\",\"extra\":1").find("tensor 'a': unknown field 'extra'") !=
        std::string::npos);
  CHECK(with("{\"a\":", "{\"__metadata__\":{\"x\":1},\"a\":")
            .find("__metadata__ entry 'x' is a number, expected a string") != std::string::npos);
  CHECK(with("\"shape\":[2]", "\"shape\":[4611686018427387904,4]").find("overflows") != std::string::npos);
  // A gap between tensors, and bytes after the last one.
  {
    const std::string h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    CHECK(err(st_bytes(h, std::string(8, '\0'))).find("tensor 'a' starts at byte 4 of the data, 4 bytes after") !=
          std::string::npos);
    const std::string h2 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    CHECK(err(st_bytes(h2, std::string(8, '\0'))).find("4 bytes after the last tensor's data") != std::string::npos);
  }
  // Files on disk: the path is named.
  IoTempDir dir;
  const std::string p = dir / "bad.safetensors";
  put_file(p, full.substr(0, full.size() - 1));
  CHECK_THROWS_WITH_AS(io::Safetensors::load(p), doctest::Contains(("safetensors '" + p + "': tensor 'b'").c_str()),
                       gcc::Error);
}

// ---- checkpoints ------------------------------------------------------------------------------------
TEST_CASE("io: checkpoint round trip is bit-identical and a resumed step matches the uninterrupted one") {
  IoTempDir dir;
  const std::string p = dir / "last.safetensors";
  const auto cfg = small_config("resnet18-cifar", 4, 5);
  gcc::Rng init(11);
  gcc::nn::End2EndModel model(cfg, init);
  gcc::SGD sgd(model.named_parameters(), 0.4f, 0.9f, 1e-4f);
  gcc::Rng rng(5);
  train_step(model, sgd, rng, 3, 16);
  rng.normal();  // leaves a spare Box-Muller value in the state
  gcc::FeatureMemory memory(10, 128, 4);
  {
    Tensor e = Tensor::empty(gcc::Shape{3, 128});
    for (int r = 0; r < 6; ++r) {
      rng.fill_normal(e, 0, 1);
      memory.push({r % 10, (r + 3) % 10, 9}, e);
    }
  }
  Tensor feats = Tensor::empty(gcc::Shape{10, 16});
  rng.fill_normal(feats, 0, 1);
  const gcc::KnnGraph graph = gcc::knn_topk_inner_product(feats, 6);
  const std::vector<float> weights = gcc::degree_weights(graph);
  Tensor ema = gcc_test::rand_tensor(gcc::Shape{4, 2}, 9);

  io::CheckpointContents c;
  c.model = &model;
  c.optimizer = &sgd;
  c.epoch = 7;
  c.global_step = 123;
  c.rngs = {{"main", rng.state()}};
  c.memory = &memory;
  c.neighbours = &graph;
  c.degree_weights = &weights;
  c.extra_tensors = {{"ema.test", ema}};
  c.config = "setup: end2end\nepochs: 3\n";
  c.metadata = {{"best_acc", "0.5"}};
  io::save_checkpoint(p, c);

  const io::Checkpoint ck = io::Checkpoint::load(p);
  CHECK(ck.epoch() == 7);
  CHECK(ck.global_step() == 123);
  CHECK(ck.config() == "setup: end2end\nepochs: 3\n");
  CHECK(ck.file().metadata("best_acc") == "0.5");
  CHECK(ck.file().metadata("format") == "gcc-toolkit checkpoint");
  CHECK(ck.file().metadata("model_modules") == "backbone,cluster_head,contrastive_head");
  CHECK(ck.optimizer_kind() == "sgd");
  // num_batches_tracked is an I64 0-d tensor (PyTorch's type), our float comes back.
  CHECK(ck.file().dtype("backbone.bn1.num_batches_tracked") == io::DType::I64);
  CHECK(ck.file().shape("backbone.bn1.num_batches_tracked").empty());
  CHECK(ck.file().i64("backbone.bn1.num_batches_tracked")[0] == 1);
  CHECK(ck.model_tensor_names().size() == model.state_dict().size());

  gcc::Rng other(99);
  gcc::nn::End2EndModel restored(cfg, other);
  gcc::SGD sgd2(restored.named_parameters(), 0.4f, 0.9f, 1e-4f);
  ck.load_model(restored);
  ck.load_optimizer(sgd2);
  const auto sa = model.state_dict(), sb = restored.state_dict();
  REQUIRE(sa.size() == sb.size());
  int differ = 0;
  for (std::size_t i = 0; i < sa.size(); ++i) differ += !same_bits(sa[i].tensor, sb[i].tensor);
  CHECK(differ == 0);
  for (std::size_t i = 0; i < sgd.momentum_buffers().size(); ++i)
    CHECK(same_bits(sgd.momentum_buffers()[i], sgd2.momentum_buffers()[i]));
  gcc::Rng rng2(0);
  rng2.set_state(ck.rng("main"));
  gcc::FeatureMemory memory2(10, 128, 4);
  ck.load_feature_memory(memory2);
  CHECK(memory2.raw() == memory.raw());
  CHECK(memory2.counts() == memory.counts());
  CHECK(memory2.next_slots() == memory.next_slots());
  const gcc::FeatureMemory memory3 = ck.feature_memory();
  CHECK(memory3.raw() == memory.raw());
  const gcc::KnnGraph g2 = ck.neighbours();
  CHECK(g2.n == 10);
  CHECK(g2.k == 6);
  CHECK(g2.index == graph.index);
  CHECK(g2.score == graph.score);
  CHECK(ck.degree_weights() == weights);
  Tensor ema2 = Tensor::zeros(gcc::Shape{4, 2});
  ck.load_tensors({{"ema.test", ema2}});
  CHECK(same_bits(ema, ema2));

  // The next step from the restored state equals the next step of the uninterrupted run, bit for bit.
  CHECK(rng2.normal() == rng.normal());  // the spare value survived
  train_step(model, sgd, rng, 3, 16);
  train_step(restored, sgd2, rng2, 3, 16);
  const auto ta = model.state_dict(), tb = restored.state_dict();
  differ = 0;
  for (std::size_t i = 0; i < ta.size(); ++i) differ += !same_bits(ta[i].tensor, tb[i].tensor);
  CHECK(differ == 0);
  CHECK(rng.next_u64() == rng2.next_u64());

  // Feature memory of another size: named sizes.
  gcc::FeatureMemory wrong(12, 128, 4);
  CHECK_THROWS_WITH_AS(
      ck.load_feature_memory(wrong),
      doctest::Contains("holds a memory of 10 samples x 4 slots x 128 dims, this one has 12 x 4 x 128"), gcc::Error);
  // SGD state into Adam.
  gcc::Adam adam(restored.named_parameters(), 1e-3f);
  CHECK_THROWS_WITH_AS(ck.load_optimizer(adam), doctest::Contains("holds sgd state, the optimizer is Adam"),
                       gcc::Error);
  CHECK_THROWS_WITH_AS(ck.rng("loader"), doctest::Contains("holds no RNG state 'loader'"), gcc::Error);
}

TEST_CASE("io: checkpoint with Adam state (exp_avg, exp_avg_sq, step) round trips") {
  IoTempDir dir;
  const std::string p = dir / "adam.safetensors";
  const auto cfg = small_config("resnet18-cifar", 4, 3);
  gcc::Rng init(2);
  gcc::nn::End2EndModel model(cfg, init);
  gcc::Adam adam(model.named_parameters(), 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f);
  gcc::Rng rng(3);
  train_step(model, adam, rng, 2, 12);
  train_step(model, adam, rng, 2, 12);
  io::CheckpointContents c;
  c.model = &model;
  c.optimizer = &adam;
  c.epoch = 1;
  io::save_checkpoint(p, c);
  const io::Checkpoint ck = io::Checkpoint::load(p);
  CHECK(ck.optimizer_kind() == "adam");
  CHECK(ck.file().i64("optimizer.cluster_head.0.weight.step")[0] == 2);
  gcc::Rng other(8);
  gcc::nn::End2EndModel m2(cfg, other);
  gcc::Adam adam2(m2.named_parameters(), 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f);
  ck.load_model(m2);
  ck.load_optimizer(adam2);
  for (std::size_t i = 0; i < adam.params().size(); ++i) {
    CHECK(same_bits(adam.exp_avgs()[i], adam2.exp_avgs()[i]));
    CHECK(same_bits(adam.exp_avg_sqs()[i], adam2.exp_avg_sqs()[i]));
    CHECK(adam.steps()[i] == adam2.steps()[i]);
  }
  gcc::Rng r1(4), r2(4);
  train_step(model, adam, r1, 2, 12);
  train_step(m2, adam2, r2, 2, 12);
  const auto ta = model.state_dict(), tb = m2.state_dict();
  int differ = 0;
  for (std::size_t i = 0; i < ta.size(); ++i) differ += !same_bits(ta[i].tensor, tb[i].tensor);
  CHECK(differ == 0);
  gcc::SGD sgd(m2.named_parameters(), 0.1f);
  CHECK_THROWS_WITH_AS(ck.load_optimizer(sgd), doctest::Contains("holds adam state, the optimizer is SGD"), gcc::Error);
}

TEST_CASE("io: checkpoint mismatches are reported by name and change nothing") {
  IoTempDir dir;
  const std::string p = dir / "k20.safetensors";
  gcc::Rng r(1);
  gcc::nn::End2EndModel k20(small_config("resnet18-cifar", 4, 20), r);
  io::save_model(p, k20);
  const io::Checkpoint ck = io::Checkpoint::load(p);
  CHECK_FALSE(ck.has_epoch());
  CHECK_THROWS_WITH_AS(ck.epoch(), doctest::Contains("has no 'epoch' (a model-only file"), gcc::Error);

  gcc::nn::End2EndModel k10(small_config("resnet18-cifar", 4, 10), r);
  const Tensor before = k10.backbone().named_parameters()[0].tensor.clone();
  const std::string msg = error_of([&] { ck.load_model(k10); });
  CHECK(msg.find("load_model: checkpoint '" + p + "' does not fit the model: ") != std::string::npos);
  CHECK(msg.find("cluster_head.0.weight has shape [20, 32] in the checkpoint, the model expects [10, 32]") !=
        std::string::npos);
  CHECK(msg.find("cluster_head.0.bias has shape [20] in the checkpoint, the model expects [10]") != std::string::npos);
  CHECK(msg.find("different number of clusters K") != std::string::npos);
  CHECK(same_bits(before, k10.backbone().named_parameters()[0].tensor));  // nothing was copied

  // Another backbone: missing and unexpected tensors are listed.
  gcc::nn::End2EndModel r34(small_config("resnet34-cifar", 4, 20), r);
  const std::string msg34 = error_of([&] { ck.load_model(r34); });
  CHECK(msg34.find("missing from the checkpoint: backbone.layer1.2.conv1.weight") != std::string::npos);
  gcc::nn::End2EndModel r18(small_config("resnet18-cifar", 4, 20), r);
  io::save_model(p, r34);
  const std::string msg18 = error_of([&] { io::Checkpoint::load(p).load_model(r18); });
  CHECK(msg18.find(
            "in the checkpoint but not in the model: backbone.layer1.2.conv1.weight, backbone.layer1.2.bn1.weight") !=
        std::string::npos);
  // A wider network: every shape is named (the list is cut after 12).
  gcc::nn::End2EndModel wide(small_config("resnet18-cifar", 8, 20), r);
  io::save_model(p, wide);
  const std::string msgw = error_of([&] { io::Checkpoint::load(p).load_model(r18); });
  CHECK(msgw.find("backbone.conv1.weight has shape [8, 3, 3, 3] in the checkpoint, the model expects [4, 3, 3, 3]") !=
        std::string::npos);
  CHECK(msgw.find(" in all)") != std::string::npos);

  // Model-only load without the contrastive head (self-labelling, SPEC §5): a file without it loads.
  io::save_model(p, k20);
  io::Safetensors full = io::Safetensors::load(p);
  io::Safetensors no_head;
  for (const std::string& n : full.names())
    if (n.rfind("contrastive_head.", 0) != 0) {
      const io::SafetensorsEntry& e = full.entry(n);
      no_head.add_raw(n, e.dtype, std::string(reinterpret_cast<const char*>(e.data), e.nbytes), e.shape);
    }
  no_head.set_metadata("model_modules", "backbone,cluster_head");
  const std::string p2 = dir / "no_head.safetensors";
  no_head.save(p2);
  gcc::nn::End2EndModel target(small_config("resnet18-cifar", 4, 20), r);
  const io::Checkpoint ck2 = io::Checkpoint::load(p2);
  CHECK_THROWS_WITH_AS(ck2.load_model(target),
                       doctest::Contains("missing from the checkpoint: contrastive_head.0.weight"), gcc::Error);
  ck2.load_model(target, io::ModelLoadOptions::without_contrastive_head());
  CHECK(same_bits(target.head(0).named_parameters()[0].tensor, k20.head(0).named_parameters()[0].tensor));
  // The full file also loads with the head ignored, and non-strict loads accept missing tensors.
  io::Checkpoint::load(p).load_model(target, io::ModelLoadOptions::without_contrastive_head());
  io::ModelLoadOptions lenient;
  lenient.strict = false;
  ck2.load_model(target, lenient);
}

TEST_CASE("io: a diverged model is not saved and the previous checkpoint is kept") {
  IoTempDir dir;
  const std::string p = dir / "last.safetensors";
  gcc::Rng r(4);
  gcc::nn::End2EndModel model(small_config("resnet18-cifar", 4, 5), r);
  io::save_model(p, model);
  const std::string good = io::read_file(p);
  model.head(0).named_parameters()[0].tensor.at({2, 3}) = std::nanf("");
  CHECK_THROWS_WITH_AS(
      io::save_model(p, model),
      doctest::Contains("model tensor 'cluster_head.0.weight' holds a non-finite value (nan at element 67)"),
      gcc::Error);
  CHECK(io::read_file(p) == good);
  CHECK(dir.files() == 1);
}

TEST_CASE("io: truncated and corrupted checkpoints get clear errors") {
  IoTempDir dir;
  const std::string p = dir / "c.safetensors";
  gcc::Rng r(4);
  gcc::nn::End2EndModel model(small_config("resnet18-cifar", 4, 5), r);
  gcc::SGD sgd(model.named_parameters(), 0.1f, 0.9f);
  gcc::Rng rng(1);
  train_step(model, sgd, rng, 2, 8);
  io::CheckpointContents c;
  c.model = &model;
  c.optimizer = &sgd;
  c.epoch = 3;
  io::save_checkpoint(p, c);
  const std::string good = io::read_file(p);
  const std::string q = dir / "cut.safetensors";
  for (std::size_t cut : {std::size_t(0), std::size_t(5), std::size_t(100), good.size() / 2, good.size() - 1}) {
    put_file(q, good.substr(0, cut));
    const std::string msg = error_of([&] { io::Checkpoint::load(q); });
    CAPTURE(cut);
    CAPTURE(msg);
    CHECK(msg.find("safetensors '" + q + "'") != std::string::npos);
    CHECK((msg.find("truncated") != std::string::npos || msg.find("invalid JSON") != std::string::npos));
  }
  std::string bad = good;
  bad[20] = '\x01';  // a control character inside the JSON header
  put_file(q, bad);
  CHECK_THROWS_WITH_AS(io::Checkpoint::load(q), doctest::Contains("invalid JSON"), gcc::Error);
  std::string extra = good + "x";
  put_file(q, extra);
  CHECK_THROWS_WITH_AS(io::Checkpoint::load(q), doctest::Contains("1 bytes after the last tensor's data"), gcc::Error);
  CHECK_THROWS_WITH_AS(io::Checkpoint::load(dir / "missing.safetensors"),
                       doctest::Contains("No such file or directory"), gcc::Error);
}

TEST_CASE("io: kill -9 during checkpoint writes leaves a loadable checkpoint") {
  IoTempDir dir;
  const std::string p = dir / "last.safetensors";
  gcc::Rng r(4);
  gcc::nn::End2EndModel model(small_config("resnet18-cifar", 4, 5), r);
  Tensor big = Tensor::zeros(gcc::Shape{1 << 20});  // 4 MiB, so that kills land inside writes
  io::CheckpointContents c;
  c.model = &model;
  c.extra_tensors = {{"extra.big", big}};
  c.epoch = 0;
  io::save_checkpoint(p, c);
  for (int trial = 0; trial < 3; ++trial) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // child: rewrite the checkpoint with increasing epochs until killed (no OpenMP here)
      try {
        for (int64_t e = 1;; ++e) {
          c.epoch = e;
          big.fill(static_cast<float>(e));
          io::save_checkpoint(p, c);
        }
      } catch (...) {
      }
      ::_exit(3);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + 45 * trial));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    const io::Checkpoint ck = io::Checkpoint::load(p);  // never torn
    const std::vector<float> v = ck.file().f32("extra.big");
    CHECK(v.front() == static_cast<float>(ck.epoch()));
    CHECK(v.back() == static_cast<float>(ck.epoch()));
    gcc::nn::End2EndModel m2(small_config("resnet18-cifar", 4, 5), r);
    ck.load_model(m2);
    MESSAGE("kill -9 trial ", trial, ": checkpoint of epoch ", ck.epoch(),
            " intact, stray temporaries removed: ", io::remove_stale_temp_files(p));
  }
  CHECK(dir.files() == 1);
}

// ---- .npy -------------------------------------------------------------------------------------------
TEST_CASE("io: .npy headers are byte-identical to numpy.save (numpy 1.24) and read back") {
  // Expected bytes: /usr/bin/python3 -c "np.save(f, np.zeros(shape, dtype))", header = dict + spaces + '\n'.
  auto numpy_header = [](const std::string& dict, std::size_t spaces) {
    return std::string("\x93NUMPY\x01\x00v\x00", 10) + dict + std::string(spaces, ' ') + "\n";
  };
  CHECK(io::io_detail::npy_header("<f4", {3, 4}) ==
        numpy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 58));
  CHECK(io::io_detail::npy_header("<i8", {5}) ==
        numpy_header("{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", 60));
  CHECK(io::io_detail::npy_header("<f4", {}) ==
        numpy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 62));
  CHECK(io::io_detail::npy_header("<i4", {2, 3, 4}) ==
        numpy_header("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3, 4), }", 55));
  CHECK(io::io_detail::npy_header("<f4", {70000, 128}) ==
        numpy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (70000, 128), }", 52));
  CHECK(io::io_detail::npy_header("<i8", {0, 6}) ==
        numpy_header("{'descr': '<i8', 'fortran_order': False, 'shape': (0, 6), }", 58));
  CHECK(io::io_detail::npy_header("<f4", {1234567890123, 4, 5, 6}) ==
        numpy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1234567890123, 4, 5, 6), }", 40));

  IoTempDir dir;
  const Tensor f = gcc_test::rand_tensor(gcc::Shape{3, 4}, 1);
  io::write_npy(dir / "f.npy", f);
  const std::string bytes = io::read_file(dir / "f.npy");
  CHECK(bytes.size() == 128 + 48);
  CHECK(bytes.substr(0, 128) == io::io_detail::npy_header("<f4", {3, 4}));
  const io::NpyArray a = io::read_npy(dir / "f.npy");
  CHECK(a.descr == "<f4");
  CHECK(a.shape == std::vector<int64_t>{3, 4});
  CHECK(a.f32() == f.to_vector());
  io::write_npy(dir / "i.npy", std::vector<int64_t>{4, -1, 1ll << 50});
  CHECK(io::read_npy(dir / "i.npy").i64() == std::vector<int64_t>{4, -1, 1ll << 50});
  io::write_npy(dir / "n.npy", std::vector<int32_t>{1, 2, 3, 4, 5, 6}, {2, 3});
  const io::NpyArray n = io::read_npy(dir / "n.npy");
  CHECK(n.descr == "<i4");
  CHECK(n.shape == std::vector<int64_t>{2, 3});
  CHECK(n.i64() == std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  io::write_npy(dir / "s.npy", Tensor::scalar(2.5f));
  CHECK(io::read_npy(dir / "s.npy").shape.empty());
  CHECK(io::read_npy(dir / "s.npy").f32() == std::vector<float>{2.5f});
  CHECK_THROWS_WITH_AS(io::write_npy(dir / "x.npy", std::vector<float>{1, 2, 3}, {2, 2}),
                       doctest::Contains("3 values do not fill shape [2, 2]"), gcc::Error);
  put_file(dir / "t.npy", bytes.substr(0, bytes.size() - 4));
  CHECK_THROWS_WITH_AS(io::read_npy(dir / "t.npy"), doctest::Contains("data is 44 bytes"), gcc::Error);
  put_file(dir / "z.npy", "not numpy");
  CHECK_THROWS_WITH_AS(io::read_npy(dir / "z.npy"), doctest::Contains("not a .npy file"), gcc::Error);
}

// ---- metrics log ------------------------------------------------------------------------------------
TEST_CASE("io: metrics JSON lines are flushed per line; drop_epochs_from prepares a resume") {
  IoTempDir dir;
  const std::string p = dir / "metrics.jsonl";
  {
    io::MetricsLog log(p, io::MetricsLog::Mode::Truncate);
    for (int e = 0; e < 4; ++e) {
      log.append(io::JsonObject().add("epoch", e).add("loss", 1.0 / (e + 1)).add("phase", e < 2 ? "pretext" : "graph"));
      // Visible to a reader at once (flushed), while the log is still open.
      CHECK(io::read_json_lines(p).size() == static_cast<std::size_t>(e + 1));
    }
    log.append(io::JsonObject().add("epoch", 4).add("loss", std::nan("")));
  }
  const std::vector<io::Json> lines = io::read_json_lines(p);
  REQUIRE(lines.size() == 5);
  CHECK(lines[1].find("loss")->number() == 0.5);
  CHECK(lines[2].find("phase")->str() == "graph");
  CHECK(lines[4].find("loss")->is_null());
  const std::string text = io::read_file(p);
  CHECK(text.substr(0, text.find('\n')) == "{\"epoch\":0,\"loss\":1,\"phase\":\"pretext\"}");
  CHECK(text.substr(text.rfind('{')) == "{\"epoch\":4,\"loss\":null}\n");
  // A run killed mid-line, resumed from the checkpoint of epoch 2: lines of epochs >= 2 and the torn
  // line go.
  {
    std::ofstream f(p, std::ios::app);
    f << "{\"epoch\":5,\"lo";
  }
  CHECK(io::read_json_lines(p).size() == 5);
  CHECK(io::drop_epochs_from(p, 2) == 4);
  const std::vector<io::Json> kept = io::read_json_lines(p);
  REQUIRE(kept.size() == 2);
  {
    io::MetricsLog log(p);  // appends
    log.append(io::JsonObject().add("epoch", 2));
  }
  CHECK(io::read_json_lines(p).size() == 3);
  CHECK_THROWS_WITH_AS(io::MetricsLog(dir / "no/dir/m.jsonl"), doctest::Contains("cannot open"), gcc::Error);
}

// ---- export for the PyTorch check (data_scripts/check_checkpoint_torch.py) ------------------------------
// Writes, per case, <case>.safetensors (the model), <case>_input.npy, <case>_logits.npy and
// <case>_embedding.npy (eval mode) into $GCC_TORCH_EXPORT_DIR (or a temporary folder, where only the
// C++ round trip is checked). tests/check_checkpoint_torch.sh runs this, the python script, then the
// next test case.
namespace {
struct TorchCase {
  const char* name;
  const char* backbone;
  int64_t width, k, size;
};
const TorchCase kTorchCases[] = {{"cifar", "resnet18-cifar", 8, 10, 32}, {"stl", "resnet18-stl", 4, 15, 96}};

std::string torch_dir_or(const IoTempDir& tmp) {
  const char* e = std::getenv("GCC_TORCH_EXPORT_DIR");
  return e && *e ? std::string(e) : tmp.path;
}
}  // namespace

TEST_CASE("io: checkpoint export for PyTorch") {
  IoTempDir tmp;
  const std::string dir = torch_dir_or(tmp);
  for (const TorchCase& tc : kTorchCases) {
    gcc::Rng rng(21);
    gcc::nn::End2EndModel model(small_config(tc.backbone, tc.width, tc.k), rng);
    randomize_bn(model, 5);
    model.eval();
    Tensor x = Tensor::empty(gcc::Shape{3, 3, tc.size, tc.size});
    rng.fill_normal(x, 0, 1);
    const gcc::nn::End2EndOutput out = model.forward(x);
    const std::string base = dir + "/" + tc.name;
    io::save_model(base + ".safetensors", model,
                   {{"backbone_preset", tc.backbone},
                    {"base_width", std::to_string(tc.width)},
                    {"num_clusters", std::to_string(tc.k)}});
    io::write_npy(base + "_input.npy", x);
    io::write_npy(base + "_logits.npy", out.logits[0]);
    io::write_npy(base + "_embedding.npy", out.embedding);
    // The C++ round trip: a fresh model gives the same outputs bit for bit.
    gcc::Rng other(77);
    gcc::nn::End2EndModel m2(small_config(tc.backbone, tc.width, tc.k), other);
    io::Checkpoint::load(base + ".safetensors").load_model(m2);
    m2.eval();
    const gcc::nn::End2EndOutput out2 = m2.forward(x);
    CHECK(same_bits(out.logits[0], out2.logits[0]));
    CHECK(same_bits(out.embedding, out2.embedding));
    CHECK(io::read_npy(base + "_logits.npy").f32() == out.logits[0].to_vector());
  }
}

// After the python script converted a release-style .pth.tar (written by torch) into
// converted_<case>.safetensors with torch's outputs beside it: our model gives the same outputs.
TEST_CASE("io: converted release checkpoint matches PyTorch") {
  const char* e = std::getenv("GCC_TORCH_EXPORT_DIR");
  if (!(e && *e)) {
    MESSAGE("GCC_TORCH_EXPORT_DIR not set: run by tests/check_checkpoint_torch.sh after the python check");
    return;
  }
  const std::string dir = e;
  for (const TorchCase& tc : kTorchCases) {
    const std::string case_name = tc.name;
    CAPTURE(case_name);
    const std::string base = dir + "/" + tc.name;
    REQUIRE(io::file_exists(base + "_converted.safetensors"));
    const io::Checkpoint ck = io::Checkpoint::load(base + "_converted.safetensors");
    gcc::Rng rng(1);
    gcc::nn::End2EndModel model(small_config(tc.backbone, tc.width, tc.k), rng);
    ck.load_model(model);
    model.eval();
    const io::NpyArray x = io::read_npy(base + "_input.npy");
    const Tensor xt = Tensor::from_vector(x.f32(), gcc::Shape(x.shape));
    const gcc::nn::End2EndOutput out = model.forward(xt);
    const std::vector<float> want_logits = io::read_npy(base + "_release_logits.npy").f32();
    const std::vector<float> want_emb = io::read_npy(base + "_release_embedding.npy").f32();
    const std::vector<float> got_logits = out.logits[0].to_vector(), got_emb = out.embedding.to_vector();
    REQUIRE(got_logits.size() == want_logits.size());
    REQUIRE(got_emb.size() == want_emb.size());
    double worst = 0;
    for (std::size_t i = 0; i < got_logits.size(); ++i)
      worst = std::max(worst, std::fabs(double(got_logits[i]) - want_logits[i]));
    for (std::size_t i = 0; i < got_emb.size(); ++i)
      worst = std::max(worst, std::fabs(double(got_emb[i]) - want_emb[i]));
    MESSAGE(case_name, ": largest difference to PyTorch ", worst);
    CHECK(worst < 1e-4);
  }
}
