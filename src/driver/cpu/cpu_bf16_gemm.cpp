// GCC 12's avx512fintrin.h trips -W(maybe-)uninitialized on its own _mm512_undefined_ps().
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "driver/cpu/cpu_bf16_gemm.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <string>

#include "driver/cpu/cpu_gemm_tasks.hpp"
#include "driver/cpu/cpu_isa_env.hpp"
#include "ripvec/error.hpp"
#include "util/thread_pool.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>

#include "driver/cpu/cpu_bf16_amx_impl.hpp"
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ripvec::cpu {

uint16_t bf16_bits(float v) {
  uint32_t u = std::bit_cast<uint32_t>(v);
  if ((u & 0x7f800000u) == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);  // DAZ
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);  // to nearest, ties to even (overflow rounds to Inf)
  return static_cast<uint16_t>(u >> 16);
}

namespace {

float bf16_value(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

#if defined(__x86_64__)

bool cpu_has_amx_bf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_bf16 = (d >> 22) & 1u, amx_tile = (d >> 24) & 1u;
  if (!amx_bf16 || !amx_tile) return false;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !((a >> 5) & 1u)) return false;  // AVX512_BF16
  // The AMX kernels' vector code is compiled for these too (cpu_amx_tiles.hpp; every AMX CPU
  // has them).
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"))
    return false;
  // The OS must save the tile state: XCR0 bits 17 (XTILECFG) and 18 (XTILEDATA).
  if (!__get_cpuid(1, &a, &b, &c, &d) || !((c >> 27) & 1u)) return false;  // OSXSAVE
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((lo >> 17) & 3u) == 3u;
}

#endif  // __x86_64__

bool amx_permitted() {
#if defined(__x86_64__) && defined(__linux__)
  // Linux keeps the tile data disabled (XFD) until the process asks for it.
  constexpr int kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023;
  constexpr unsigned long kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
  unsigned long perm = 0;
  return syscall(SYS_arch_prctl, kArchGetXcompPerm, &perm) == 0 &&
         ((perm >> kXfeatureXtiledata) & 1ul);
#else
  return false;
#endif
}

}  // namespace

float bf16_round(float v) {
  return bf16_value(bf16_bits(v));
}

bool amx_bf16_available() {
#if defined(__x86_64__)
  static const bool ok = cpu_has_amx_bf16() && amx_permitted();
  return ok;
#else
  return false;
#endif
}

Bf16Isa select_bf16_isa(Bf16Isa want) {
  if (want == Bf16Isa::kAuto)
    want = env_choice("RIPVEC_CPU_BF16", Bf16Isa::kAuto,
                      {{"emulated", Bf16Isa::kEmulated}, {"amx", Bf16Isa::kAmx}});
  // AMX where the CPU and OS run it: bf16_gemm_test (every kernel against the formula, rows
  // independent, the driver's products close to FP32) and the BF16 parity tests passed on AMX
  // silicon (the device host's Xeon, 2026-12-05), where it is the fastest CPU mode measured
  // (docs/benchmarks.md, "BF16 linear layers"); elsewhere the emulation (the accuracy reference,
  // slower than FP32, never Auto's choice).
  if (want == Bf16Isa::kAuto) return amx_bf16_available() ? Bf16Isa::kAmx : Bf16Isa::kEmulated;
  if (want == Bf16Isa::kAmx && !amx_bf16_available())
    throw UnsupportedError(
        "cpu driver: this CPU (or its OS) does not run AMX-BF16 (Intel Xeon Sapphire Rapids "
        "or later, Linux 5.16 or later)");
  return want;
}

const char* bf16_isa_name(Bf16Isa isa) {
  switch (isa) {
    case Bf16Isa::kEmulated:
      return "bf16-emulated";
    case Bf16Isa::kAmx:
      return "amx-bf16";
    case Bf16Isa::kAuto:
      break;
  }
  return "auto";
}

bool bf16_faster_than_f32() {
  try {
    return select_bf16_isa(Bf16Isa::kAuto) == Bf16Isa::kAmx;
  } catch (const UnsupportedError&) {  // $RIPVEC_CPU_BF16=amx without AMX: not Auto's choice
    return false;
  }
}

Bf16Weight pack_bf16_weight(const CpuKernels& kern, const float* w, int64_t n, int64_t k,
                            Bf16Isa isa) {
  Bf16Weight q;
  q.isa = select_bf16_isa(isa);
  q.n = n;
  q.k = k;
  if (q.isa == Bf16Isa::kEmulated) {
    std::vector<float> rounded(static_cast<size_t>(n * k));
    parallel_for(0, n, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo * k; i < hi * k; ++i) rounded[i] = bf16_round(w[i]);
    });
    q.emulated = pack_weight(rounded.data(), n, k, kern.gemm_nr);
    return q;
  }
#if defined(__x86_64__)
  pack_amx(q, w, n, k);
#endif
  return q;
}

namespace {

// bf16_linear on the emulated kernel (no norm).
void emulated_linear(const CpuKernels& kern, const Bf16Weight& w, const float* x, int64_t lda,
                     float* y, int64_t ldc, int64_t m, const float* bias, bool gelu,
                     Bf16Scratch& s) {
  const int64_t k = w.k, n = w.n;
  if (s.act_f32.size() < static_cast<size_t>(m * k)) s.act_f32.resize(static_cast<size_t>(m * k));
  float* a = s.act_f32.data();
  auto round_rows = [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      for (int64_t c = 0; c < k; ++c) a[r * k + c] = bf16_round(x[r * lda + c]);
  };
  run_tasks(m, 16, false, round_rows);
  packed_gemm(kern, w.emulated.get(), n, k, a, k, y, ldc, m, bias, false, gelu);
}

}  // namespace

void bf16_linear(const CpuKernels& kern, const Bf16Weight& w, const float* x, int64_t lda, float* y,
                 int64_t ldc, int64_t m, const float* bias, bool gelu, Bf16Scratch& s,
                 const RowNorm* norm) {
  if (m <= 0 || w.n <= 0) return;
#if defined(__x86_64__)
  if (w.isa == Bf16Isa::kAmx) {
    amx_linear(w, x, lda, y, ldc, m, bias, gelu ? kern.gelu : nullptr, s, norm);
    return;
  }
#endif
  if (w.isa == Bf16Isa::kEmulated) {
    emulated_linear(kern, w, x, lda, y, ldc, m, bias, gelu, s);
    if (norm != nullptr) norm->all_rows(y, ldc, m, w.n);
    return;
  }
  throw UnsupportedError("cpu driver: AMX-BF16 needs an x86-64 build");
}

void bf16_ffn(const CpuKernels& kern, const Bf16Weight& wi, const Bf16Weight& wo, const float* x,
              int64_t lda, float* mid, float* out, int64_t ldc, int64_t m, const float* bias,
              bool gelu, Bf16Scratch& s, const RowNorm* norm) {
  if (wo.k != wi.n || wo.isa != wi.isa)
    throw InvalidArgument("bf16_ffn: the down weight's k (" + std::to_string(wo.k) +
                          ") must be the up weight's n (" + std::to_string(wi.n) +
                          ") and both of one kernel");
  if (m <= 0 || wo.n <= 0) return;
#if defined(__x86_64__)
  if (wi.isa == Bf16Isa::kAmx && amx_ffn_fuses(m, ThreadPool::global().size())) {
    amx_ffn(wi, wo, x, lda, out, ldc, m, bias, gelu ? kern.gelu : nullptr, s, norm);
    return;
  }
#endif
  bf16_linear(kern, wi, x, lda, mid, wi.n, m, bias, gelu, s);
  bf16_linear(kern, wo, mid, wi.n, out, ldc, m, nullptr, false, s, norm);
}

}  // namespace ripvec::cpu
