// safetensors files (the format of Hugging Face's `safetensors` package, readable by PyTorch users):
// 8-byte little-endian header length N, N bytes of JSON header padded with spaces to a multiple of 8,
// then the raw little-endian tensor data. A strict reader and a writer (atomic, streaming) in one class.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/tensor.hpp"
#include "atomic_file.hpp"
#include "json.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gcc/io/safetensors.hpp assumes a little-endian host (safetensors and .npy data are little-endian)"
#endif

namespace gcc {
namespace io {

// Element types of the format. The toolkit writes F32 and I64; the reader knows all of these and
// converts any of them to float32 (Safetensors::tensor) and the integer ones to int64 (i64).
enum class DType { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64 };

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::BOOL: return "BOOL";
    case DType::U8: return "U8";
    case DType::I8: return "I8";
    case DType::I16: return "I16";
    case DType::U16: return "U16";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::U32: return "U32";
    case DType::F32: return "F32";
    case DType::I64: return "I64";
    case DType::U64: return "U64";
    case DType::F64: return "F64";
  }
  return "?";
}
inline std::size_t dtype_size(DType d) {
  switch (d) {
    case DType::BOOL: case DType::U8: case DType::I8: return 1;
    case DType::I16: case DType::U16: case DType::F16: case DType::BF16: return 2;
    case DType::I32: case DType::U32: case DType::F32: return 4;
    case DType::I64: case DType::U64: case DType::F64: return 8;
  }
  return 0;
}
inline bool parse_dtype(const std::string& s, DType* out) {
  static const DType all[] = {DType::BOOL, DType::U8,  DType::I8,  DType::I16, DType::U16, DType::F16, DType::BF16,
                              DType::I32,  DType::U32, DType::F32, DType::I64, DType::U64, DType::F64};
  for (DType d : all)
    if (s == dtype_name(d)) {
      *out = d;
      return true;
    }
  return false;
}
inline bool dtype_is_integer(DType d) { return d != DType::F16 && d != DType::BF16 && d != DType::F32 && d != DType::F64; }

inline std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

namespace io_detail {
inline float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((man & 0x3FFu) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
template <typename T>
T load_le(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
}  // namespace io_detail

// One tensor of a file: its type, shape (any rank) and little-endian bytes (owned by `keep` or by the
// Safetensors object that holds it).
struct SafetensorsEntry {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const unsigned char* data = nullptr;
  std::size_t nbytes = 0;
  std::shared_ptr<const void> keep;
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// A set of named tensors plus string metadata, in insertion (or file) order.
//
// Writing:
//   gcc::io::Safetensors st;
//   st.add("backbone.conv1.weight", tensor);              // F32, from any device
//   st.add_i64("backbone.bn1.num_batches_tracked", {3}, {}); // 0-d int64
//   st.set_metadata("epoch", "12");
//   st.save("run/model.safetensors");                      // atomic; streams the data
// Reading (the whole file is read and every offset checked before anything is returned):
//   auto st = gcc::io::Safetensors::load("run/model.safetensors");
//   gcc::Tensor w = st.tensor("backbone.conv1.weight");    // float32, converted from any dtype
// Every error names the file (or the source given to parse()) and, where one is involved, the tensor.
class Safetensors {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100000000;  // as the reference implementation

  Safetensors() = default;

  // ---- building ---------------------------------------------------------------------------------
  // F32 with the tensor's shape. A contiguous CPU tensor is referenced, not copied: do not modify it
  // before save()/serialize(). Other tensors are copied to the host now.
  void add(const std::string& name, const Tensor& t) {
    GCC_CHECK(t.defined(), "Safetensors::add: tensor '", name, "' is undefined");
    const bool direct = t.device().is_cpu() && t.is_contiguous();
    auto host = std::make_shared<Tensor>(direct ? t.detach() : t.detach().to(Device::cpu(), true).contiguous());
    SafetensorsEntry e;
    e.dtype = DType::F32;
    e.shape = t.shape().vec();
    e.data = reinterpret_cast<const unsigned char*>(host->numel() ? host->data() : nullptr);
    e.nbytes = static_cast<std::size_t>(host->numel()) * 4;
    e.keep = host;
    insert(name, std::move(e));
  }
  void add_f32(const std::string& name, std::vector<float> values, const std::vector<int64_t>& shape) {
    auto own = std::make_shared<std::vector<float>>(std::move(values));
    add_view(name, DType::F32, own->data(), own->size() * 4, shape, own);
  }
  void add_i64(const std::string& name, std::vector<int64_t> values, const std::vector<int64_t>& shape) {
    auto own = std::make_shared<std::vector<int64_t>>(std::move(values));
    add_view(name, DType::I64, own->data(), own->size() * 8, shape, own);
  }
  // Any dtype from raw little-endian bytes (copied).
  void add_raw(const std::string& name, DType dtype, std::string bytes, const std::vector<int64_t>& shape) {
    auto own = std::make_shared<std::string>(std::move(bytes));
    add_view(name, dtype, own->data(), own->size(), shape, own);
  }
  // No copy: `data` must stay valid and unchanged until save()/serialize() (for large host buffers).
  // `keep` (optional) is held as long as the entry.
  void add_view(const std::string& name, DType dtype, const void* data, std::size_t nbytes,
                const std::vector<int64_t>& shape, std::shared_ptr<const void> keep = nullptr) {
    SafetensorsEntry e;
    e.dtype = dtype;
    e.shape = shape;
    e.data = static_cast<const unsigned char*>(data);
    e.nbytes = nbytes;
    e.keep = std::move(keep);
    int64_t n = 1;
    for (int64_t d : shape) {
      GCC_CHECK(d >= 0, "Safetensors::add: tensor '", name, "' has a negative dimension in ", shape_str(shape));
      n *= d;
    }
    GCC_CHECK(static_cast<std::size_t>(n) * dtype_size(dtype) == nbytes, "Safetensors::add: tensor '", name,
              "' of shape ", shape_str(shape), " and dtype ", dtype_name(dtype), " needs ",
              static_cast<std::size_t>(n) * dtype_size(dtype), " bytes, got ", nbytes);
    insert(name, std::move(e));
  }
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  void remove(const std::string& name) {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    const std::size_t i = it->second;
    names_.erase(names_.begin() + static_cast<std::ptrdiff_t>(i));
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
    reindex();
  }

  // ---- access -----------------------------------------------------------------------------------
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  std::size_t size() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }
  const SafetensorsEntry& entry(const std::string& name) const {
    auto it = index_.find(name);
    GCC_CHECK(it != index_.end(), where(), ": no tensor named '", name, "' (the file holds ", names_.size(),
              " tensors)");
    return entries_[it->second];
  }
  const std::vector<int64_t>& shape(const std::string& name) const { return entry(name).shape; }
  DType dtype(const std::string& name) const { return entry(name).dtype; }

  // The values as float32 (any dtype converted; integers above 2^24 lose precision).
  std::vector<float> f32(const std::string& name) const {
    const SafetensorsEntry& e = entry(name);
    const int64_t n = e.numel();
    std::vector<float> out(static_cast<std::size_t>(n));
    const unsigned char* p = e.data;
    using io_detail::load_le;
    for (int64_t i = 0; i < n; ++i) {
      float v = 0.f;
      switch (e.dtype) {
        case DType::BOOL: v = p[i] ? 1.f : 0.f; break;
        case DType::U8: v = static_cast<float>(p[i]); break;
        case DType::I8: v = static_cast<float>(static_cast<int8_t>(p[i])); break;
        case DType::I16: v = static_cast<float>(load_le<int16_t>(p + 2 * i)); break;
        case DType::U16: v = static_cast<float>(load_le<uint16_t>(p + 2 * i)); break;
        case DType::F16: v = io_detail::half_to_float(load_le<uint16_t>(p + 2 * i)); break;
        case DType::BF16: {
          const uint32_t bits = static_cast<uint32_t>(load_le<uint16_t>(p + 2 * i)) << 16;
          std::memcpy(&v, &bits, 4);
          break;
        }
        case DType::I32: v = static_cast<float>(load_le<int32_t>(p + 4 * i)); break;
        case DType::U32: v = static_cast<float>(load_le<uint32_t>(p + 4 * i)); break;
        case DType::F32: v = load_le<float>(p + 4 * i); break;
        case DType::I64: v = static_cast<float>(load_le<int64_t>(p + 8 * i)); break;
        case DType::U64: v = static_cast<float>(load_le<uint64_t>(p + 8 * i)); break;
        case DType::F64: v = static_cast<float>(load_le<double>(p + 8 * i)); break;
      }
      out[static_cast<std::size_t>(i)] = v;
    }
    return out;
  }
  // A float32 CPU tensor of the entry's shape (at most 4 dimensions).
  Tensor tensor(const std::string& name) const {
    const SafetensorsEntry& e = entry(name);
    GCC_CHECK(e.shape.size() <= static_cast<std::size_t>(kMaxDims), where(), ": tensor '", name, "' has ",
              e.shape.size(), " dimensions ", shape_str(e.shape), "; gcc::Tensor holds at most ", kMaxDims);
    return Tensor::from_vector(f32(name), Shape(e.shape));
  }
  // The values of an integer (or BOOL) tensor as int64; a floating-point tensor is an error (U64 values
  // above 2^63 are an error too).
  std::vector<int64_t> i64(const std::string& name) const {
    const SafetensorsEntry& e = entry(name);
    GCC_CHECK(dtype_is_integer(e.dtype), where(), ": tensor '", name, "' has dtype ", dtype_name(e.dtype),
              ", expected an integer dtype (I64)");
    const int64_t n = e.numel();
    std::vector<int64_t> out(static_cast<std::size_t>(n));
    const unsigned char* p = e.data;
    using io_detail::load_le;
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = 0;
      switch (e.dtype) {
        case DType::BOOL: v = p[i] ? 1 : 0; break;
        case DType::U8: v = p[i]; break;
        case DType::I8: v = static_cast<int8_t>(p[i]); break;
        case DType::I16: v = load_le<int16_t>(p + 2 * i); break;
        case DType::U16: v = load_le<uint16_t>(p + 2 * i); break;
        case DType::I32: v = load_le<int32_t>(p + 4 * i); break;
        case DType::U32: v = load_le<uint32_t>(p + 4 * i); break;
        case DType::I64: v = load_le<int64_t>(p + 8 * i); break;
        case DType::U64: {
          const uint64_t u = load_le<uint64_t>(p + 8 * i);
          GCC_CHECK(u <= static_cast<uint64_t>(INT64_MAX), where(), ": tensor '", name, "': U64 value ", u,
                    " does not fit int64");
          v = static_cast<int64_t>(u);
          break;
        }
        default: break;
      }
      out[static_cast<std::size_t>(i)] = v;
    }
    return out;
  }

  bool has_metadata(const std::string& key) const { return metadata_.count(key) != 0; }
  const std::string& metadata(const std::string& key) const {
    auto it = metadata_.find(key);
    GCC_CHECK(it != metadata_.end(), where(), ": no metadata entry '", key, "'");
    return it->second;
  }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The file this was read from (or the source name given to parse()); empty for a new object.
  const std::string& source() const { return source_; }

  // ---- writing ----------------------------------------------------------------------------------
  // The JSON header (without the 8-byte length), padded with spaces to a multiple of 8 bytes, listing
  // the tensors in insertion order. Their data is laid out 8-byte types first, then 4-, 2- and 1-byte
  // types (insertion order within each), so every tensor starts aligned to its element size (the data
  // section starts at a multiple of 8), contiguously from offset 0 as readers require.
  std::string header() const {
    std::string h = "{";
    if (!metadata_.empty()) {
      h += "\"__metadata__\":{";
      bool first = true;
      for (const auto& kv : metadata_) {
        h += (first ? "" : ",") + json_quote(kv.first) + ":" + json_quote(kv.second);
        first = false;
      }
      h += "}";
    }
    std::vector<uint64_t> begin(entries_.size());
    uint64_t off = 0;
    for (std::size_t i : data_order()) {
      begin[i] = off;
      off += entries_[i].nbytes;
    }
    bool first = metadata_.empty();
    for (std::size_t i = 0; i < entries_.size(); ++i) {  // header in insertion order
      const SafetensorsEntry& e = entries_[i];
      h += (first ? "" : ",") + json_quote(names_[i]) + ":{\"dtype\":\"" + dtype_name(e.dtype) + "\",\"shape\":[";
      for (std::size_t d = 0; d < e.shape.size(); ++d) h += (d ? "," : "") + std::to_string(e.shape[d]);
      h += "],\"data_offsets\":[" + std::to_string(begin[i]) + "," + std::to_string(begin[i] + e.nbytes) + "]}";
      first = false;
    }
    h += "}";
    h.append((8 - h.size() % 8) % 8, ' ');
    return h;
  }
  // The whole file as bytes (for small files and tests; save() streams instead).
  std::string serialize() const {
    std::string out;
    write_to([&](const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); });
    return out;
  }
  // Writes the file atomically (temporary file, fsync, rename): an interrupted save leaves the previous
  // file intact. `op` names the caller in error messages.
  void save(const std::string& path, const char* op = "Safetensors::save") const {
    AtomicFile f(path, op);
    write_to([&](const void* p, std::size_t n) { f.write(p, n); });
    f.commit();
  }
  template <typename Sink>
  void write_to(Sink&& sink) const {
    const std::string h = header();
    unsigned char len[8];
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    sink(len, 8);
    sink(h.data(), h.size());
    for (std::size_t i : data_order())
      if (entries_[i].nbytes) sink(entries_[i].data, entries_[i].nbytes);
  }

  // ---- reading ----------------------------------------------------------------------------------
  static Safetensors load(const std::string& path) {
    auto bytes = std::make_shared<std::string>(read_file(path, "safetensors"));
    return parse(std::move(bytes), path);
  }
  // Validates everything: the length field against the file size, the JSON, every dtype, shape and
  // offset pair; tensors must tile the data section exactly (no gap, no overlap, nothing after the last).
  static Safetensors parse(std::shared_ptr<const std::string> bytes, const std::string& source) {
    Safetensors st;
    st.source_ = source;
    const std::string& b = *bytes;
    const std::string w = "safetensors '" + source + "'";
    GCC_CHECK(b.size() >= 8, w, ": truncated or not a safetensors file: ", b.size(),
              " bytes, shorter than the 8-byte header length");
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(b[static_cast<std::size_t>(i)])) << (8 * i);
    GCC_CHECK(n <= kMaxHeaderBytes, w, ": not a safetensors file: the header length field says ", n,
              " bytes (the format allows at most ", kMaxHeaderBytes, ")");
    GCC_CHECK(n >= 2 && n <= b.size() - 8, w, ": truncated or not a safetensors file: the header length field says ",
              n, " bytes but ", b.size() - 8, " follow");
    GCC_CHECK(b[8] == '{', w, ": not a safetensors file: the header does not start with '{'");
    const Json head = Json::parse(b.substr(8, static_cast<std::size_t>(n)), w + " header");
    GCC_CHECK(head.is_object(), w, ": the header is ", head.kind_name(), ", expected a JSON object");
    const uint64_t data_size = b.size() - 8 - n;
    const unsigned char* base = reinterpret_cast<const unsigned char*>(b.data()) + 8 + n;
    struct Range {
      uint64_t begin, end;
      std::size_t index;
    };
    std::vector<Range> ranges;
    for (const auto& m : head.members()) {
      const std::string& name = m.first;
      const Json& v = m.second;
      if (name == "__metadata__") {
        GCC_CHECK(v.is_object(), w, ": __metadata__ is ", v.kind_name(), ", expected an object of strings");
        for (const auto& kv : v.members()) {
          GCC_CHECK(kv.second.is_string(), w, ": __metadata__ entry '", kv.first, "' is ", kv.second.kind_name(),
                    ", expected a string");
          st.metadata_[kv.first] = kv.second.str();
        }
        continue;
      }
      const std::string t = w + ": tensor '" + name + "'";
      GCC_CHECK(!name.empty(), w, ": a tensor has an empty name");
      GCC_CHECK(v.is_object(), t, ": entry is ", v.kind_name(), ", expected an object");
      const Json *jd = nullptr, *js = nullptr, *jo = nullptr;
      for (const auto& f : v.members()) {
        if (f.first == "dtype") jd = &f.second;
        else if (f.first == "shape") js = &f.second;
        else if (f.first == "data_offsets") jo = &f.second;
        else GCC_FAIL(t, ": unknown field '", f.first, "' (expected dtype, shape, data_offsets)");
      }
      GCC_CHECK(jd && js && jo, t, ": missing field '", !jd ? "dtype" : (!js ? "shape" : "data_offsets"), "'");
      GCC_CHECK(jd->is_string(), t, ": dtype is ", jd->kind_name(), ", expected a string");
      SafetensorsEntry e;
      GCC_CHECK(parse_dtype(jd->str(), &e.dtype), t, ": unknown dtype '", jd->str(),
                "' (known: BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64)");
      GCC_CHECK(js->is_array(), t, ": shape is ", js->kind_name(), ", expected an array of integers");
      // The product of the non-zero dimensions fits int64: then so does every product of some of them
      // (element counts, strides), however a zero dimension makes the tensor empty.
      uint64_t numel = 1, nonzero = 1;
      for (const Json& d : js->items()) {
        uint64_t u = 0;
        GCC_CHECK(d.as_uint64(&u) && u <= static_cast<uint64_t>(INT64_MAX), t, ": shape entry '",
                  d.is_number() ? d.number_text() : std::string(d.kind_name()), "' is not a non-negative integer");
        e.shape.push_back(static_cast<int64_t>(u));
        GCC_CHECK(!__builtin_mul_overflow(nonzero, u ? u : 1, &nonzero) && nonzero <= static_cast<uint64_t>(INT64_MAX),
                  t, ": shape ", shape_str(e.shape), " overflows");
        numel *= u;
      }
      uint64_t need = 0;
      GCC_CHECK(!__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(e.dtype)), &need), t, ": shape ",
                shape_str(e.shape), " overflows");
      GCC_CHECK(jo->is_array() && jo->items().size() == 2, t, ": data_offsets must be an array [begin, end]");
      uint64_t ob = 0, oe = 0;
      GCC_CHECK(jo->items()[0].as_uint64(&ob) && jo->items()[1].as_uint64(&oe), t,
                ": data_offsets must be two non-negative integers");
      GCC_CHECK(ob <= oe, t, ": data_offsets [", ob, ", ", oe, "] end before they begin");
      GCC_CHECK(oe <= data_size, t, ": data_offsets [", ob, ", ", oe, "] run past the end of the data (",
                data_size, " bytes): the file is truncated or corrupt");
      GCC_CHECK(oe - ob == need, t, ": shape ", shape_str(e.shape), " of ", dtype_name(e.dtype), " needs ", need,
                " bytes, data_offsets [", ob, ", ", oe, "] hold ", oe - ob);
      e.data = base + ob;
      e.nbytes = static_cast<std::size_t>(need);
      ranges.push_back(Range{ob, oe, st.names_.size()});
      st.names_.push_back(name);
      st.entries_.push_back(std::move(e));
    }
    std::stable_sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& c) {
      return a.begin < c.begin || (a.begin == c.begin && a.end < c.end);
    });
    uint64_t at = 0;
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      const Range& r = ranges[i];
      if (r.begin < at)
        GCC_FAIL(w, ": tensors '", st.names_[ranges[i - 1].index], "' and '", st.names_[r.index],
                 "' overlap (bytes [", r.begin, ", ", at, ") of the data)");
      GCC_CHECK(r.begin == at, w, ": tensor '", st.names_[r.index], "' starts at byte ", r.begin, " of the data, ",
                r.begin - at, " bytes after the previous tensor ends (a gap)");
      at = r.end;
    }
    GCC_CHECK(at == data_size, w, ": ", data_size - at, " bytes after the last tensor's data (the data section is ",
              data_size, " bytes, the tensors cover ", at, ")");
    st.reindex();
    st.bytes_ = std::move(bytes);
    return st;
  }
  static Safetensors parse(std::string bytes, const std::string& source) {
    return parse(std::make_shared<const std::string>(std::move(bytes)), source);
  }

 private:
  std::string where() const { return "safetensors '" + (source_.empty() ? std::string("(in memory)") : source_) + "'"; }
  void insert(const std::string& name, SafetensorsEntry e) {
    GCC_CHECK(!name.empty(), "Safetensors::add: empty tensor name");
    GCC_CHECK(name != "__metadata__", "Safetensors::add: '__metadata__' is reserved for the metadata");
    GCC_CHECK(!contains(name), "Safetensors::add: a tensor named '", name, "' was already added");
    index_[name] = names_.size();
    names_.push_back(name);
    entries_.push_back(std::move(e));
  }
  void reindex() {
    index_.clear();
    for (std::size_t i = 0; i < names_.size(); ++i) {
      GCC_CHECK(index_.emplace(names_[i], i).second, where(), ": tensor '", names_[i], "' appears twice");
    }
  }
  std::vector<std::size_t> data_order() const {
    std::vector<std::size_t> order(entries_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return dtype_size(entries_[a].dtype) > dtype_size(entries_[b].dtype);
    });
    return order;
  }

  std::string source_;
  std::vector<std::string> names_;
  std::vector<SafetensorsEntry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::shared_ptr<const std::string> bytes_;  // the file's bytes, which parsed entries point into
};

}  // namespace io
}  // namespace gcc
