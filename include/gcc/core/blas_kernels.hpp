// Which OpenBLAS kernels this CPU can run, decided from the CPU's own feature flags rather than from
// OpenBLAS's model table: Debian's OpenBLAS 0.3.21 (a DYNAMIC_ARCH build) picks its kernels by CPU model
// at load time and falls back to its SSE3 "Prescott" kernels on models it does not know (seen on an
// AVX-512 "Intel Xeon Processor" VM), 1.5x slower on a whole evaluation there. OpenBLAS reads
// OPENBLAS_CORETYPE only when it loads, so a program acts on this before anything else (the CLIs
// re-execute themselves with it set: examples/run_cli.hpp); the library itself only reports.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace gcc {

// OpenBLAS's name of the kernels it runs ("Prescott", "Haswell", "SkylakeX", ...), lower-cased.
inline std::string blas_corename() {
  const char* n = openblas_get_corename();
  std::string s = n ? n : "";
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The best OpenBLAS kernel family this CPU supports: "SkylakeX" with AVX-512 (F, BW, DQ, VL), "Haswell"
// with AVX2 and FMA, "" otherwise (or on a compiler without __builtin_cpu_supports).
inline std::string blas_coretype_for_cpu() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

// The OPENBLAS_CORETYPE this CPU deserves when OpenBLAS chose weaker kernels, else "".
inline std::string blas_coretype_upgrade() {
  const std::string want = blas_coretype_for_cpu(), have = blas_corename();
  if (want.empty() || have.empty()) return "";
  auto in = [&](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (have == n) return true;
    return false;
  };
  const bool have_avx512 = in({"skylakex", "cooperlake", "sapphirerapids"});
  const bool have_avx2 = have_avx512 || in({"haswell", "zen"});
  if (want == "SkylakeX" && !have_avx512) return want;
  if (want == "Haswell" && !have_avx2) return want;
  return "";
}

}  // namespace gcc
