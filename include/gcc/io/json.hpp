// Minimal JSON for the toolkit's files: a strict parser (RFC 8259: objects, arrays, strings with escapes
// and surrogate pairs, numbers, true/false/null; duplicate keys rejected) and writers for strings,
// numbers and one-line objects. Enough for safetensors headers and JSON-lines metrics; not a general DOM.
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../core/error.hpp"

namespace gcc {
namespace io {

class Json {
 public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_number() const { return kind_ == Kind::Number; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }
  static const char* kind_name(Kind k) {
    switch (k) {
      case Kind::Null: return "null";
      case Kind::Bool: return "a boolean";
      case Kind::Number: return "a number";
      case Kind::String: return "a string";
      case Kind::Array: return "an array";
      case Kind::Object: return "an object";
    }
    return "?";
  }
  const char* kind_name() const { return kind_name(kind_); }

  bool boolean() const { return b_; }
  // The number as written in the text (exact integers are read from it, not from the double).
  const std::string& number_text() const { return s_; }
  double number() const { return d_; }
  // The number as a non-negative integer, if it is one (no fraction, no exponent, no sign) and fits.
  bool as_uint64(uint64_t* out) const {
    if (kind_ != Kind::Number || s_.empty()) return false;
    for (char c : s_)
      if (c < '0' || c > '9') return false;
    const auto r = std::from_chars(s_.data(), s_.data() + s_.size(), *out);
    return r.ec == std::errc() && r.ptr == s_.data() + s_.size();
  }
  bool as_int64(int64_t* out) const {
    if (kind_ != Kind::Number || s_.empty()) return false;
    for (std::size_t i = 0; i < s_.size(); ++i)
      if (!((s_[i] >= '0' && s_[i] <= '9') || (i == 0 && s_[i] == '-'))) return false;
    const auto r = std::from_chars(s_.data(), s_.data() + s_.size(), *out);
    return r.ec == std::errc() && r.ptr == s_.data() + s_.size();
  }
  const std::string& str() const { return s_; }
  const std::vector<Json>& items() const { return arr_; }
  const std::vector<std::pair<std::string, Json>>& members() const { return obj_; }
  // Member by key, or nullptr.
  const Json* find(const std::string& key) const {
    for (const auto& m : obj_)
      if (m.first == key) return &m.second;
    return nullptr;
  }

  // Parses one JSON value filling all of `text` (whitespace around it allowed). Errors name `source`
  // and the byte offset.
  static Json parse(const std::string& text, const std::string& source = "JSON") {
    Parser p{text.data(), text.data() + text.size(), text.data(), source, 0};
    p.ws();
    Json v = p.value();
    p.ws();
    if (p.p != p.end) p.fail("unexpected text after the JSON value");
    return v;
  }

 private:
  struct Parser {
    const char* p;
    const char* end;
    const char* begin;
    const std::string& source;
    int depth;

    [[noreturn]] void fail(const char* what) const {
      GCC_FAIL(source, ": invalid JSON at byte ", p - begin, ": ", what);
    }
    void ws() {
      while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
    }
    bool lit(const char* w) {
      const std::size_t n = std::char_traits<char>::length(w);
      if (static_cast<std::size_t>(end - p) >= n && std::char_traits<char>::compare(p, w, n) == 0) {
        p += n;
        return true;
      }
      return false;
    }
    Json value() {
      if (p >= end) fail("unexpected end of text");
      if (++depth > 64) fail("nesting deeper than 64 levels");
      Json v;
      const char c = *p;
      if (c == '{') {
        v.kind_ = Kind::Object;
        std::unordered_set<std::string> seen;
        ++p;
        ws();
        if (p < end && *p == '}') {
          ++p;
        } else {
          for (;;) {
            ws();
            if (p >= end || *p != '"') fail("expected a string key");
            std::string key = string();
            if (!seen.insert(key).second) fail(("duplicate key \"" + key + "\"").c_str());
            ws();
            if (p >= end || *p != ':') fail("expected ':' after a key");
            ++p;
            ws();
            v.obj_.emplace_back(std::move(key), value());
            ws();
            if (p < end && *p == ',') {
              ++p;
              continue;
            }
            if (p < end && *p == '}') {
              ++p;
              break;
            }
            fail("expected ',' or '}' in an object");
          }
        }
      } else if (c == '[') {
        v.kind_ = Kind::Array;
        ++p;
        ws();
        if (p < end && *p == ']') {
          ++p;
        } else {
          for (;;) {
            ws();
            v.arr_.push_back(value());
            ws();
            if (p < end && *p == ',') {
              ++p;
              continue;
            }
            if (p < end && *p == ']') {
              ++p;
              break;
            }
            fail("expected ',' or ']' in an array");
          }
        }
      } else if (c == '"') {
        v.kind_ = Kind::String;
        v.s_ = string();
      } else if (lit("true")) {
        v.kind_ = Kind::Bool;
        v.b_ = true;
      } else if (lit("false")) {
        v.kind_ = Kind::Bool;
      } else if (lit("null")) {
        v.kind_ = Kind::Null;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        v.kind_ = Kind::Number;
        const char* s = p;
        if (*p == '-') ++p;
        if (p >= end || !(*p >= '0' && *p <= '9')) fail("expected a digit");
        if (*p == '0') {
          ++p;
        } else {
          while (p < end && *p >= '0' && *p <= '9') ++p;
        }
        if (p < end && *p == '.') {
          ++p;
          if (p >= end || !(*p >= '0' && *p <= '9')) fail("expected a digit after '.'");
          while (p < end && *p >= '0' && *p <= '9') ++p;
        }
        if (p < end && (*p == 'e' || *p == 'E')) {
          ++p;
          if (p < end && (*p == '+' || *p == '-')) ++p;
          if (p >= end || !(*p >= '0' && *p <= '9')) fail("expected a digit in the exponent");
          while (p < end && *p >= '0' && *p <= '9') ++p;
        }
        v.s_.assign(s, p);
        v.d_ = std::strtod(v.s_.c_str(), nullptr);
      } else {
        fail("expected a value");
      }
      --depth;
      return v;
    }
    unsigned hex4() {
      if (end - p < 4) fail("truncated \\u escape");
      unsigned u = 0;
      for (int i = 0; i < 4; ++i) {
        const char h = *p++;
        u <<= 4;
        if (h >= '0' && h <= '9') u |= static_cast<unsigned>(h - '0');
        else if (h >= 'a' && h <= 'f') u |= static_cast<unsigned>(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') u |= static_cast<unsigned>(h - 'A' + 10);
        else fail("bad hex digit in a \\u escape");
      }
      return u;
    }
    static void utf8(std::string& out, unsigned cp) {
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    std::string string() {
      ++p;  // opening quote
      std::string out;
      for (;;) {
        if (p >= end) fail("unterminated string");
        const unsigned char c = static_cast<unsigned char>(*p++);
        if (c == '"') break;
        if (c < 0x20) fail("control character in a string");
        if (c != '\\') {
          out += static_cast<char>(c);
          continue;
        }
        if (p >= end) fail("unterminated escape");
        const char e = *p++;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            unsigned cp = hex4();
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (!(end - p >= 2 && p[0] == '\\' && p[1] == 'u')) fail("unpaired surrogate in a \\u escape");
              p += 2;
              const unsigned lo = hex4();
              if (lo < 0xDC00 || lo > 0xDFFF) fail("unpaired surrogate in a \\u escape");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              fail("unpaired surrogate in a \\u escape");
            }
            utf8(out, cp);
            break;
          }
          default: fail("unknown escape");
        }
      }
      return out;
    }
  };

  Kind kind_ = Kind::Null;
  bool b_ = false;
  double d_ = 0.0;
  std::string s_;
  std::vector<Json> arr_;
  std::vector<std::pair<std::string, Json>> obj_;
};

// ---- writing --------------------------------------------------------------------------------------
// A quoted JSON string; control characters escaped (\n, \t, ... or \u00XX), other bytes kept as they are.
inline std::string json_quote(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// The shortest text that reads back as the same double ("0.1", "1e-05", "3"); non-finite values have no
// JSON form and are written as null.
inline std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}
inline std::string json_number(int64_t v) { return std::to_string(v); }

// One JSON object built member by member, in insertion order:
//   JsonObject().add("epoch", 3).add("loss", 1.25).add("phase", "pretext").str()
//   -> {"epoch":3,"loss":1.25,"phase":"pretext"}
class JsonObject {
 public:
  JsonObject& add(const std::string& key, double v) { return raw(key, json_number(v)); }
  JsonObject& add(const std::string& key, float v) { return raw(key, json_number(static_cast<double>(v))); }
  JsonObject& add(const std::string& key, int64_t v) { return raw(key, json_number(v)); }
  JsonObject& add(const std::string& key, int v) { return raw(key, json_number(static_cast<int64_t>(v))); }
  JsonObject& add(const std::string& key, long long v) { return raw(key, std::to_string(v)); }
  JsonObject& add(const std::string& key, unsigned long long v) { return raw(key, std::to_string(v)); }
  JsonObject& add(const std::string& key, unsigned long v) { return raw(key, std::to_string(v)); }
  JsonObject& add(const std::string& key, unsigned v) { return raw(key, std::to_string(v)); }
  JsonObject& add(const std::string& key, bool v) { return raw(key, v ? "true" : "false"); }
  JsonObject& add(const std::string& key, const std::string& v) { return raw(key, json_quote(v)); }
  JsonObject& add(const std::string& key, const char* v) { return raw(key, json_quote(v)); }
  JsonObject& add(const std::string& key, const std::vector<double>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + json_number(v[i]);
    return raw(key, s + "]");
  }
  JsonObject& add(const std::string& key, const JsonObject& v) { return raw(key, v.str()); }
  JsonObject& add_null(const std::string& key) { return raw(key, "null"); }
  // A member whose value is already JSON text (not checked).
  JsonObject& raw(const std::string& key, const std::string& json_value) {
    body_ += (body_.empty() ? "" : ",") + json_quote(key) + ":" + json_value;
    return *this;
  }
  bool empty() const { return body_.empty(); }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

}  // namespace io
}  // namespace gcc
