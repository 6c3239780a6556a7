// Fuzz target: safetensors (io/safetensors.hpp Safetensors::parse), then every listed tensor read through
// each accessor (f32, tensor, i64 for integer dtypes), the metadata, and a serialise/parse round trip.
#include "fuzz_util.hpp"
#include "gcc/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace io = gcc::io;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  fuzz::expect_ok_or_error([&] {
    const io::Safetensors st = io::Safetensors::parse(bytes, "fuzz.safetensors");
    for (const std::string& name : st.names()) {
      const io::SafetensorsEntry& e = st.entry(name);
      if (static_cast<int64_t>(st.f32(name).size()) != e.numel()) std::abort();
      fuzz::expect_ok_or_error([&] { (void)st.tensor(name); });
      if (io::dtype_is_integer(e.dtype)) fuzz::expect_ok_or_error([&] { (void)st.i64(name); });
    }
    for (const auto& kv : st.metadata()) (void)st.metadata(kv.first);
    try {  // what the writer makes of a valid file must read back
      const io::Safetensors back = io::Safetensors::parse(st.serialize(), "round trip");
      if (back.names() != st.names() || back.metadata() != st.metadata()) std::abort();
    } catch (const gcc::Error& e) {
      std::fprintf(stderr, "round trip failed: %s\n", e.what());
      std::abort();
    }
  });
  return 0;
}
