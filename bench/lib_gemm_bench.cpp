// The GEMM libraries issue 13 names as candidates (oneDNN, BLIS) against the CPU driver's own
// kernels, on the linear layers of MiniLM / bge-small (H 384, FFN 1536) and bge-base (768, 3072):
// y[m, n] = x[m, k] · W[n, k]ᵀ, weights prepared once outside the timed call (as every engine
// does at load), at the thread count of ripvec's pool. Columns (GFLOP/s = 2·m·n·k / time, for
// every precision):
//   ours-f32   CpuDriver::linear, packed FP32 kernel (the engine's default at f32)
//   ours-int8  CpuDriver::linear with INT8 on: quantizing x per token, VNNI/AVX2 kernel,
//              outlier correction and dequantization to FP32 all inside the timed call
//   ours-bf16  CpuDriver::linear with BF16 on ($RIPVEC_CPU_BF16 picks the kernel; rounding x
//              to BF16 inside the timed call)
//   dnnl-f32   oneDNN matmul, f32, weights reordered once into the layout it asks for (tag any)
//   dnnl-int8  oneDNN matmul s8 x s8 -> f32 with per-channel output scales, plus the f32 -> s8
//              reorder of x with one per-tensor scale (ONNX Runtime's granularity), but a fixed
//              scale (x lies in [-1, 1)): no pass over x for its range and no zero point, which
//              ORT's dynamic quantization pays, so this column is a lower bound on that cost
//   dnnl-bf16  oneDNN matmul bf16 x bf16 -> f32, plus the f32 -> bf16 reorder of x
//   blis-f32   BLIS bli_sgemm (its own threads, as many as the pool)
// oneDNN here is Debian's libdnnl (OpenMP runtime: its threads are a second pool beside ours,
// set to the same count; ours idle while it runs). Built only where CMake finds oneDNN and BLIS
// (Debian libdnnl-dev, libblis-dev); nothing of the engine links them.
//
// Usage: lib_gemm_bench [--reps R] [--m 1024,8192]   (RIPVEC_THREADS sets the thread count)
#include <blis.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "driver/cpu/cpu_driver.hpp"
#include "gemm_shapes.hpp"
#include "util/thread_pool.hpp"

namespace {

using dnnl::memory;

const char* isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

// One oneDNN matmul y[m, n] (f32) = x[m, k] · W: x of type xt (converted from f32 by a reorder
// that is part of the timed call unless xt is f32), W of type wt prepared once.
struct DnnlLinear {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  memory x_f32, x_in, w_in, y;
  dnnl::reorder quantize;
  dnnl::matmul mm;
  memory scales;
  bool convert = false;

  DnnlLinear(int m, int n, int k, float* x, const float* w, float* out, memory::data_type xt,
             memory::data_type wt) {
    using dt = memory::data_type;
    using tag = memory::format_tag;
    const memory::desc x_f32_d({m, k}, dt::f32, tag::ab), y_d({m, n}, dt::f32, tag::ab);
    // W[n, k] row-major is the [k, n] weights matrix with strides (1, k): tag ba.
    const memory::desc w_f32_d({k, n}, dt::f32, tag::ba);
    const memory::desc x_d({m, k}, xt, tag::ab), w_any({k, n}, wt, tag::any);
    dnnl::primitive_attr attr;
    std::vector<float> wscale(n, 1.0f);
    if (wt == dt::s8) {  // per output channel: max |w| / 127, the row's scale times x's
      for (int j = 0; j < n; ++j) {
        float mx = 0;
        for (int i = 0; i < k; ++i) mx = std::max(mx, std::abs(w[size_t(j) * k + i]));
        wscale[j] = mx > 0 ? mx / 127.0f : 1.0f;
      }
      attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(x_d, w_any, y_d), attr, eng);
    mm = dnnl::matmul(pd);
    x_f32 = memory(x_f32_d, eng, x);
    y = memory(y_d, eng, out);
    w_in = memory(pd.weights_desc(), eng);
    memory w_src(w_f32_d, eng, const_cast<float*>(w));
    if (wt == dt::s8) {  // quantize W per channel once: reorder with per-channel 1/scale
      dnnl::primitive_attr ra;
      std::vector<float> inv(n);
      for (int j = 0; j < n; ++j) inv[j] = 1.0f / wscale[j];
      ra.set_output_scales(1 << 1, inv);
      dnnl::reorder(dnnl::reorder::primitive_desc(w_src, w_in, ra)).execute(strm, w_src, w_in);
    } else {
      dnnl::reorder(w_src, w_in).execute(strm, w_src, w_in);
    }
    strm.wait();
    float xscale = 1.0f;
    convert = xt != dt::f32;
    if (convert) {
      x_in = memory(x_d, eng);
      dnnl::primitive_attr ra;
      if (xt == dt::s8) {  // per-tensor symmetric: the bench's x lies in [-1, 1)
        xscale = 1.0f / 127.0f;
        ra.set_output_scales(0, {127.0f});
      }
      quantize = dnnl::reorder(dnnl::reorder::primitive_desc(x_f32, x_in, ra));
    } else {
      x_in = x_f32;
    }
    if (wt == dt::s8) {
      scales = memory(memory::desc({n}, dt::f32, tag::a), eng);
      float* s = static_cast<float*>(scales.get_data_handle());
      for (int j = 0; j < n; ++j) s[j] = wscale[j] * xscale;
    }
  }
  void run() {
    if (convert) quantize.execute(strm, x_f32, x_in);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, x_in}, {DNNL_ARG_WEIGHTS, w_in}, {DNNL_ARG_DST, y}};
    if (scales) args.emplace(DNNL_ARG_ATTR_OUTPUT_SCALES, scales);
    mm.execute(strm, args);
    strm.wait();
  }
};

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  std::vector<int> ms = {1024, 8192};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--m" && i + 1 < argc)
      ms = ripvec::bench::parse_int_list(argv[++i]);
    else {
      std::fprintf(stderr, "usage: lib_gemm_bench [--reps R] [--m 1024,8192]\n");
      return 2;
    }
  }
  using namespace ripvec;
  using dt = memory::data_type;
  CpuDriver f32(cpu::Isa::kAuto, cpu::GemmPath::kPacked);
  CpuDriver int8(cpu::Isa::kAuto, cpu::GemmPath::kPacked);
  int8.set_int8(true);
  CpuDriver bf16(cpu::Isa::kAuto, cpu::GemmPath::kPacked);
  bf16.set_bf16(true);
  const int threads = static_cast<int>(ThreadPool::global().size());
  omp_set_num_threads(threads);
  bli_thread_set_num_threads(threads);
  const dnnl::version_t* v = dnnl::version();
  std::printf(
      "%d threads; ours: %s, int8 %s, bf16 %s; oneDNN %d.%d.%d (isa %s); BLIS %s; best of %d\n",
      threads, f32.isa_name(), int8.int8_isa_name(), bf16.bf16_isa_name(), v->major, v->minor,
      v->patch, isa_name(dnnl::get_effective_cpu_isa()), bli_info_get_version_str(), reps);
  std::printf("%-10s %6s %6s %6s %10s %10s %10s %10s %10s %10s %10s   (GFLOP/s)\n", "shape", "m",
              "n", "k", "ours-f32", "ours-int8", "ours-bf16", "dnnl-f32", "dnnl-int8", "dnnl-bf16",
              "blis-f32");
  // err: each column's (from ours-int8 on) largest |y - y_f32| over max |y_f32|: the INT8 and
  // BF16 columns differ by their rounding (1e-3 .. 1e-2); a broken path shows as O(1).
  std::mt19937 rng(1);
  for (const ripvec::bench::GemmShape& s : ripvec::bench::kGemmShapes)
    for (int m : ms) {
      ripvec::bench::GemmCase op(s, m, rng);
      auto best_of = [&](const std::function<void()>& f) {
        return ripvec::bench::best_of(reps, f);
      };
      auto ta = make_view<CpuTag>(op.x.data(), DType::F32, {m, s.k});
      auto tc = make_view<CpuTag>(op.y.data(), DType::F32, {m, s.n});
      const HostTensorRef h = op.weight();
      double t[7];
      std::vector<float> ref;
      float err_of[7] = {};  // each column's largest |y - y_f32| over max |y_f32|
      int col = 0;
      auto check = [&] {
        float mx = 0, err = 0;
        for (size_t i = 0; i < op.y.size(); ++i) {
          mx = std::max(mx, std::abs(ref[i]));
          err = std::max(err, std::abs(op.y[i] - ref[i]));
        }
        err_of[col] = err / mx;
        if (std::getenv("LIB_GEMM_DEBUG") && err / mx > 0.1) {
          for (size_t i = 0; i < op.y.size(); ++i)
            if (std::abs(op.y[i] - ref[i]) > 0.1f * mx) {
              const size_t r = i / s.n, j = i % s.n;
              double d = 0;
              for (int q = 0; q < s.k; ++q) d += double(op.x[r * s.k + q]) * op.w[j * s.k + q];
              std::fprintf(stderr, "col %d: y[%zu, %zu] = %g, ours-f32 %g, double %g\n", col, r, j,
                           op.y[i], ref[i], d);
              break;
            }
        }
      };
      {
        auto w = f32.load_weight(h, DType::F32);
        t[0] = best_of([&] { f32.linear(tc, ta, w, CpuDriver::Tensor{}); });
        ref = op.y;
      }
      {
        auto w = int8.load_weight(h, DType::F32);
        t[1] = best_of([&] { int8.linear(tc, ta, w, CpuDriver::Tensor{}); });
        col = 1;
        check();
      }
      {
        auto w = bf16.load_weight(h, DType::F32);
        t[2] = best_of([&] { bf16.linear(tc, ta, w, CpuDriver::Tensor{}); });
        col = 2;
        check();
      }
      const std::pair<dt, dt> kinds[] = {
          {dt::f32, dt::f32}, {dt::s8, dt::s8}, {dt::bf16, dt::bf16}};
      for (int i = 0; i < 3; ++i) {
        DnnlLinear d(m, s.n, s.k, op.x.data(), op.w.data(), op.y.data(), kinds[i].first,
                     kinds[i].second);
        t[3 + i] = best_of([&] { d.run(); });
        col = 3 + i;
        check();
      }
      t[6] = best_of([&] {
        float one = 1.0f, zero = 0.0f;
        bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, m, s.n, s.k, &one, op.x.data(), s.k, 1,
                  op.w.data(), s.k, 1, &zero, op.y.data(), s.n, 1);
      });
      col = 6;
      check();
      const double gflop = 2.0 * m * s.n * s.k * 1e-9;
      std::printf("%-10s %6d %6d %6d", s.what, m, s.n, s.k);
      for (double x : t) std::printf(" %10.1f", gflop / x);
      std::printf("   err");
      for (int i = 1; i < 7; ++i) std::printf(" %.0e", err_of[i]);
      std::printf("\n");
      std::fflush(stdout);
    }
  return 0;
}
