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
#include "ripvec/error.hpp"
#include "util/thread_pool.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ripvec::cpu {

namespace {

constexpr int64_t kStep = 32;       // k per tile step (32 BF16 = one 64-byte tile row)
constexpr int64_t kPanel = 32;      // output channels per packed panel (two 16-column tiles)
constexpr int64_t kRowBlock = 128;  // rows of one pool task (four 32-row register blocks)

uint16_t bf16_bits(float v) {
  uint32_t u = std::bit_cast<uint32_t>(v);
  if ((u & 0x7f800000u) == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);  // DAZ
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);  // to nearest, ties to even (overflow rounds to Inf)
  return static_cast<uint16_t>(u >> 16);
}

float bf16_value(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

#if defined(__x86_64__)

#define RIPVEC_AMX_TARGET \
  __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")))

// The palette-1 tile configuration: tiles 0-3 hold 16 x 16 FP32 sums, 4-5 the activations
// (16 rows x 32 BF16), 6-7 the weights (16 pair rows x 16 channels x 2).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

const TileConfig& tile_config() {
  static const TileConfig cfg = [] {
    TileConfig c;
    for (int t = 0; t < 8; ++t) {
      c.colsb[t] = 64;
      c.rows[t] = 16;
    }
    return c;
  }();
  return cfg;
}

// x[r, 0..k) -> bf16 in dst[0..kp) (zeros beyond k), as bf16_bits does element by element.
RIPVEC_AMX_TARGET void convert_row_amx(const float* x, int64_t k, int64_t kp, uint16_t* dst) {
  int64_t c = 0;
  for (; c + 32 <= k; c += 32) {
    const __m512 lo = _mm512_loadu_ps(x + c), hi = _mm512_loadu_ps(x + c + 16);
    _mm512_storeu_si512(dst + c, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
  }
  for (; c < k; ++c) dst[c] = bf16_bits(x[c]);
  for (; c < kp; ++c) dst[c] = 0;
}

struct AmxBlock {
  const Bf16Weight* w;
  const uint16_t* act;  // the task's first row; rows padded to a multiple of 32
  float* y;
  int64_t ldc, rows;  // rows of y to write
  int64_t p0, p1;     // panels of 32 channels
  const float* bias;
  void (*gelu)(float*, int64_t);
};

RIPVEC_AMX_TARGET void block_amx(const AmxBlock& b) {
  const Bf16Weight& w = *b.w;
  const int64_t kp = w.kp, steps = kp / kStep, stride = kp * 2;
  _tile_loadconfig(&tile_config());
  alignas(64) float sums[32][32];
  for (int64_t p = b.p0; p < b.p1; ++p) {
    const uint16_t* panel = w.packed.data() + p * kp * kPanel;
    const int64_t col0 = p * kPanel, cols = std::min<int64_t>(kPanel, w.n - col0);
    for (int64_t r = 0; r < b.rows; r += 32) {
      const uint16_t* a0 = b.act + r * kp;
      const uint16_t* a1 = a0 + 16 * kp;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (int64_t s = 0; s < steps; ++s) {
        const uint16_t* bt = panel + s * 1024;
        _tile_loadd(4, a0 + s * kStep, stride);
        _tile_loadd(5, a1 + s * kStep, stride);
        _tile_loadd(6, bt, 64);
        _tile_loadd(7, bt + 512, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
      _tile_stored(0, &sums[0][0], 128);
      _tile_stored(1, &sums[0][16], 128);
      _tile_stored(2, &sums[16][0], 128);
      _tile_stored(3, &sums[16][16], 128);
      const int64_t rows = std::min<int64_t>(32, b.rows - r);
      const __mmask16 m0 = static_cast<__mmask16>(cols >= 16 ? 0xffff : (1u << cols) - 1);
      const __mmask16 m1 = static_cast<__mmask16>(cols >= 32   ? 0xffff
                                                  : cols <= 16 ? 0
                                                               : (1u << (cols - 16)) - 1);
      const __m512 bias0 = b.bias ? _mm512_maskz_loadu_ps(m0, b.bias + col0) : _mm512_setzero_ps();
      const __m512 bias1 =
          b.bias ? _mm512_maskz_loadu_ps(m1, b.bias + col0 + 16) : _mm512_setzero_ps();
      for (int64_t i = 0; i < rows; ++i) {
        float* yr = b.y + (r + i) * b.ldc + col0;
        _mm512_mask_storeu_ps(yr, m0, _mm512_add_ps(_mm512_load_ps(&sums[i][0]), bias0));
        _mm512_mask_storeu_ps(yr + 16, m1, _mm512_add_ps(_mm512_load_ps(&sums[i][16]), bias1));
        if (b.gelu) b.gelu(yr, cols);
      }
    }
  }
  _tile_release();
}

bool cpu_has_amx_bf16() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool amx_bf16 = (d >> 22) & 1u, amx_tile = (d >> 24) & 1u;
  if (!amx_bf16 || !amx_tile) return false;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d) || !((a >> 5) & 1u)) return false;  // AVX512_BF16
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512vl"))
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
  if (want == Bf16Isa::kAuto) {
    if (const char* env = std::getenv("RIPVEC_CPU_BF16")) {
      const std::string s = env;
      if (s == "emulated")
        want = Bf16Isa::kEmulated;
      else if (s == "amx")
        want = Bf16Isa::kAmx;
      else if (!s.empty() && s != "auto")
        throw InvalidArgument("RIPVEC_CPU_BF16: unknown value '" + s +
                              "' (expected emulated, amx or auto)");
    }
  }
  // Not yet run on an AMX CPU: kAuto stays on the emulated kernel until bf16_gemm_test has
  // passed there ($RIPVEC_CPU_BF16=amx asks for it).
  if (want == Bf16Isa::kAuto) return Bf16Isa::kEmulated;
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
    q.rounded.resize(static_cast<size_t>(n * k));
    parallel_for(0, n, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo * k; i < hi * k; ++i) q.rounded[i] = bf16_round(w[i]);
    });
    if (kern.gemm_block != nullptr) {
      q.emulated = pack_weight(q.rounded.data(), n, k, kern.gemm_nr);
      q.rounded = {};
    }
    return q;
  }
  q.kp = (k + kStep - 1) / kStep * kStep;
  q.n_pad = (n + kPanel - 1) / kPanel * kPanel;
  q.packed.assign(static_cast<size_t>(q.n_pad * q.kp), 0);
  const int64_t kp = q.kp;
  parallel_for(0, q.n_pad / kPanel, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      uint16_t* panel = q.packed.data() + p * kp * kPanel;
      for (int64_t jj = 0; jj < kPanel && p * kPanel + jj < n; ++jj) {
        const float* row = w + (p * kPanel + jj) * k;
        // Tile (jj / 16) of each step; within it pair row kk, column jj % 16, element e.
        for (int64_t c = 0; c < k; ++c) {
          const int64_t s = c / kStep, kk = (c % kStep) / 2, e = c % 2;
          panel[s * 1024 + (jj / 16) * 512 + kk * 32 + (jj % 16) * 2 + e] = bf16_bits(row[c]);
        }
      }
    }
  });
  return q;
}

void bf16_linear(const CpuKernels& kern, const Bf16Weight& w, const float* x, int64_t lda, float* y,
                 int64_t ldc, int64_t m, const float* bias, bool gelu, Bf16Scratch& s) {
  if (m <= 0 || w.n <= 0) return;
  const int64_t k = w.k, n = w.n;
  const int64_t threads = ThreadPool::global().size();
  if (w.isa == Bf16Isa::kEmulated) {
    if (s.act_f32.size() < static_cast<size_t>(m * k)) s.act_f32.resize(static_cast<size_t>(m * k));
    float* a = s.act_f32.data();
    parallel_for(0, m, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r)
        for (int64_t c = 0; c < k; ++c) a[r * k + c] = bf16_round(x[r * lda + c]);
    });
    if (w.emulated) {
      packed_gemm(kern, w.emulated.get(), n, k, a, k, y, ldc, m, bias, false, gelu);
      return;
    }
    // Scalar kernel build: plain sums in k order.
    parallel_for(0, m, 4, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        for (int64_t j = 0; j < n; ++j) {
          float acc = 0.0f;
          for (int64_t c = 0; c < k; ++c) acc += a[r * k + c] * w.rounded[j * k + c];
          y[r * ldc + j] = acc + (bias ? bias[j] : 0.0f);
        }
        if (gelu) kern.gelu(y + r * ldc, n);
      }
    });
    return;
  }
#if defined(__x86_64__)
  const int64_t kp = w.kp, m_pad = (m + 31) / 32 * 32;
  if (s.act.size() < static_cast<size_t>(m_pad * kp)) s.act.resize(static_cast<size_t>(m_pad * kp));
  uint16_t* act = s.act.data();
  std::memset(act + m * kp, 0, static_cast<size_t>((m_pad - m) * kp) * sizeof(uint16_t));
  auto convert = [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) convert_row_amx(x + r * lda, k, kp, act + r * kp);
  };
  if (threads == 1 || m * k < 32768)
    convert(0, m);
  else
    parallel_for(0, m, 16, convert);
  const GemmTasks split(m, kRowBlock, w.n_pad / kPanel, threads);
  auto run = [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t r0 = split.row_block(t) * kRowBlock;
      AmxBlock b{&w,
                 act + r0 * kp,
                 y + r0 * ldc,
                 ldc,
                 std::min(kRowBlock, m - r0),
                 split.panel0(t),
                 split.panel1(t),
                 bias,
                 gelu ? kern.gelu : nullptr};
      block_amx(b);
    }
  };
  const double flops = 2.0 * double(m) * double(n) * double(k);
  if (threads == 1 || split.count == 1 || flops < 2e6)
    run(0, split.count);
  else
    parallel_for(0, split.count, 1, run);
#else
  throw UnsupportedError("cpu driver: AMX-BF16 needs an x86-64 build");
#endif
}

}  // namespace ripvec::cpu
