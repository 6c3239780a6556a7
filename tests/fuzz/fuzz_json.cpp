// Fuzz target: the strict JSON parser (io/json.hpp Json::parse), then a walk over the whole value
// reading every accessor, and a re-serialisation of its strings and numbers.
#include "fuzz_util.hpp"
#include "gcc/io/json.hpp"

namespace {
std::size_t walk(const gcc::io::Json& v) {
  using K = gcc::io::Json::Kind;
  std::size_t n = 1;
  uint64_t u;
  int64_t i;
  switch (v.kind()) {
    case K::Number:
      (void)v.as_uint64(&u);
      (void)v.as_int64(&i);
      (void)gcc::io::json_number(v.number());
      break;
    case K::String: (void)gcc::io::json_quote(v.str()); break;
    case K::Array:
      for (const gcc::io::Json& x : v.items()) n += walk(x);
      break;
    case K::Object:
      for (const auto& m : v.members()) {
        if (v.find(m.first) != &m.second) std::abort();  // keys are unique
        n += walk(m.second);
      }
      break;
    default: (void)v.boolean(); break;
  }
  (void)v.kind_name();
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_ok_or_error([&] { walk(gcc::io::Json::parse(text, "fuzz.json")); });
  return 0;
}
