// What the 8B step's kinds of work cost in energy, with PRIMUS_CUDA_BENCH=1: at the 700 W
// limit the step's time is its energy over the limit (docs/performance.md: the SM clock falls
// and rises with the power the work draws), so a kernel's joules, not its milliseconds alone,
// say what it costs the step. Each op runs back to back for ~0.5 s to reach the limit, then for
// ~2 s between two readings of the driver's energy counter (NVML, loaded at run time: the
// build needs no NVML headers). Prints per op: ms per call, mean watts, joules per call, and
// joules per TFLOP (matrix work) or millijoules per GB (memory work). Not a pass/fail timing.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernel_benchmark_support.hpp"
#include "optimizer_tail_support.hpp"
#include "primus/ops/cuda/attention.hpp"
#include "primus/ops/cuda/device_info.hpp"
#include "primus/ops/cuda/gemm.hpp"
#include "primus/ops/cuda/grad_norm.hpp"

namespace primus::ops::cuda::test {
namespace {

// The total energy the GPU has used since the driver loaded (NVML, millijoules).
class EnergyCounter {
 public:
  EnergyCounter() {
    library_ = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    if (library_ == nullptr) return;
    init_ = reinterpret_cast<int (*)()>(dlsym(library_, "nvmlInit_v2"));
    by_bus_id_ = reinterpret_cast<int (*)(const char*, void**)>(dlsym(library_, "nvmlDeviceGetHandleByPciBusId_v2"));
    energy_ = reinterpret_cast<int (*)(void*, unsigned long long*)>(
        dlsym(library_, "nvmlDeviceGetTotalEnergyConsumption"));
    clock_ = reinterpret_cast<int (*)(void*, int, unsigned int*)>(dlsym(library_, "nvmlDeviceGetClockInfo"));
    if (init_ == nullptr || by_bus_id_ == nullptr || energy_ == nullptr || clock_ == nullptr || init_() != 0) return;
    int device = 0;
    char bus_id[32] = {};
    PRIMUS_KERNEL_CHECK(cudaGetDevice(&device));
    PRIMUS_KERNEL_CHECK(cudaDeviceGetPCIBusId(bus_id, sizeof(bus_id), device));
    unsigned long long probe = 0;  // some GPUs have no energy counter: then the test skips
    ready_ = by_bus_id_(bus_id, &device_) == 0 && energy_(device_, &probe) == 0 && probe > 0;
  }
  bool ready() const { return ready_; }
  // Both throw on an NVML error: a zero reading would turn the energy difference into garbage.
  unsigned long long millijoules() const {
    unsigned long long value = 0;
    if (const int status = energy_(device_, &value); status != 0)
      throw std::runtime_error("nvmlDeviceGetTotalEnergyConsumption failed: NVML status " + std::to_string(status));
    return value;
  }
  unsigned sm_clock_mhz() const {
    unsigned value = 0;
    if (const int status = clock_(device_, /*NVML_CLOCK_SM=*/1, &value); status != 0)
      throw std::runtime_error("nvmlDeviceGetClockInfo failed: NVML status " + std::to_string(status));
    return value;
  }

 private:
  void* library_ = nullptr;
  void* device_ = nullptr;
  bool ready_ = false;
  int (*init_)() = nullptr;
  int (*by_bus_id_)(const char*, void**) = nullptr;
  int (*energy_)(void*, unsigned long long*) = nullptr;
  int (*clock_)(void*, int, unsigned int*) = nullptr;
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Energy {
  double ms_per_call, watts, joules_per_call, sm_mhz;
};

// `launch` enqueues one call (on any streams) and returns; `sync` waits for all of them.
Energy measure(const EnergyCounter& counter, const std::function<void()>& launch, const std::function<void()>& sync,
               double warm_s = 0.5, double measured_s = 2.0) {
  const auto warm_start = Clock::now();
  while (seconds_since(warm_start) < warm_s) {
    launch();
    sync();
  }
  const unsigned long long before = counter.millijoules();
  const auto start = Clock::now();
  long calls = 0;
  double clock_sum = 0.0;  // one SM clock sample after each call
  while (seconds_since(start) < measured_s) {
    launch();
    sync();
    ++calls;
    clock_sum += counter.sm_clock_mhz();
  }
  const double seconds = seconds_since(start);
  const double joules = static_cast<double>(counter.millijoules() - before) / 1e3;
  return {seconds * 1e3 / calls, joules / seconds, joules / calls, clock_sum / calls};
}

void print(const char* name, const Energy& e, double tflop, double gigabytes) {
  char per_work[96] = "";
  if (tflop > 0)
    std::snprintf(per_work, sizeof(per_work), " %.3f J/TFLOP (%.1f TFLOP/s)", e.joules_per_call / tflop,
                  tflop / (e.ms_per_call * 1e-3));
  else if (gigabytes > 0)
    std::snprintf(per_work, sizeof(per_work), " %.1f mJ/GB (%.0f GB/s)", 1e3 * e.joules_per_call / gigabytes,
                  gigabytes / (e.ms_per_call * 1e-3));
  std::printf("BENCH energy %-44s %8.3f ms %6.1f W %8.4f J/call SM %5.0f MHz%s\n", name, e.ms_per_call, e.watts,
              e.joules_per_call, e.sm_mhz, per_work);
  std::fflush(stdout);
  EXPECT_GT(e.joules_per_call, 0.0);
}

// One 8B layer's causal attention (seq 8192, 32 query heads of 128) on random inputs, with
// `kv_heads` K/V heads, its outputs and gradients: the forward and backward the energy
// benchmarks run back to back.
struct AttentionLayer8B {
  static constexpr std::size_t kQ = 8192 * 32 * 128;
  static constexpr double kForwardTflop = 4.0 * 8192.0 * 8192.0 * 32 * 128 / 2.0 / 1e12;  // causal
  static constexpr double kBackwardTflop = 2.5 * kForwardTflop;
  AttentionLayer8B(cudaStream_t stream, std::int64_t kv_heads, bool autotune)
      : kv(8192 * static_cast<std::size_t>(kv_heads) * 128),
        q(random_bf16_buffer(kQ, 4)),
        k(random_bf16_buffer(kv, 5)),
        v(random_bf16_buffer(kv, 6)),
        d_out(random_bf16_buffer(kQ, 7, 1e-3f)),
        out(kQ), d_q(kQ), d_k(kv), d_v(kv), lse(32 * 8192),
        attention(stream, autotune) {
    shape.batch = 1, shape.seq_len = 8192, shape.num_q_heads = 32, shape.num_kv_heads = kv_heads, shape.head_dim = 128;
  }
  void forward() { attention.forward(shape, q.get(), k.get(), v.get(), out.get(), lse.get()); }
  void backward() {
    attention.backward(shape, q.get(), k.get(), v.get(), out.get(), d_out.get(), lse.get(), d_q.get(), d_k.get(),
                       d_v.get());
  }
  std::size_t kv;
  AttentionShape shape;
  DeviceBuffer<bf16> q, k, v, d_out, out, d_q, d_k, d_v;
  DeviceBuffer<float> lse;
  FlashAttention attention;
};

TEST(Benchmark, EnergyPerOp) {
  PRIMUS_SKIP_UNLESS_BENCH();
  EnergyCounter counter;
  if (!counter.ready()) GTEST_SKIP() << "NVML's energy counter is not available (libnvidia-ml.so.1)";
  const int sms = device_sm_count(), tail_sms = OptimizerTail::kEngineSms;
  BenchStream stream;
  auto sync = [&] { PRIMUS_KERNEL_CHECK(cudaDeviceSynchronize()); };

  // Idle: what the GPU draws doing nothing (static power at this temperature).
  print("idle (1 s)", measure(counter, [] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); }, [] {}, 0.0, 1.0),
        0, 0);

  // Matrix work: the 8B step's biggest GEMMs and its attention.
  const std::int64_t rows = 8192;
  GemmRunner gemm(stream);
  // The forward GEMMs planned for all SMs and for the 108 that the overlapped optimizer leaves
  // them (fewer SMs at the power limit run at a higher clock and voltage: more joules a FLOP).
  struct Linear {
    const char* name;
    std::int64_t in, out;
  };
  for (const Linear& linear : {Linear{"qkv", 4096, 6144}, Linear{"fc1", 4096, 28672}, Linear{"fc2", 14336, 4096}}) {
    DeviceBuffer<bf16> x = random_bf16_buffer(rows * linear.in, 1), w = random_bf16_buffer(linear.out * linear.in, 2, 0.02f),
                       y(rows * linear.out);
    const double tflop = 2.0 * rows * linear.in * linear.out / 1e12;
    const int batch = std::max(1, static_cast<int>(20.0 / tflop));  // ~30 ms a call
    for (const int target : {0, sms - tail_sms}) {
      gemm.set_sm_count_target(target);
      char name[96];
      std::snprintf(name, sizeof(name), "%s forward, %d SMs (x%d)", linear.name, target == 0 ? sms : target, batch);
      print(name, measure(counter, [&] {
              for (int i = 0; i < batch; ++i)
                gemm.linear_forward(x.get(), w.get(), nullptr, y.get(), rows, linear.in, linear.out);
            }, sync), batch * tflop, 0);
    }
    gemm.set_sm_count_target(0);
  }
  {
    DeviceBuffer<bf16> x = random_bf16_buffer(rows * 4096, 1), w = random_bf16_buffer(28672 * 4096, 2, 0.02f),
                       dy = random_bf16_buffer(rows * 28672, 3, 1e-3f), y(rows * 28672);
    DeviceBuffer<float> dw(28672 * 4096);
    const double tflop = 2.0 * rows * 4096 * 28672 / 1e12;
    print("fc1 d_weight into fp32 (x10)", measure(counter, [&] {
            for (int i = 0; i < 10; ++i) gemm.linear_backward_weight(dy.get(), x.get(), dw.get(), rows, 4096, 28672, false);
          }, sync), 10 * tflop, 0);
    // One pass of the optimizer's tail (1.5e9 parameters, 42 GB) with enough fc1 GEMMs to
    // outlast it: beside them on 24 SMs (the GEMMs planned for 108), as the engine runs it,
    // and before them on the whole GPU (the GEMMs planned for all SMs).
    const auto fc1 = [&] { gemm.linear_forward(x.get(), w.get(), nullptr, y.get(), rows, 4096, 28672); };
    const int gemms = 14;
    {
      OptimizerTail tail(tail_sms);
      gemm.set_sm_count_target(sms - tail_sms);
      print("tail on 24 SMs beside 14 fc1 on 108 SMs", measure(counter, [&] {
              tail.start();
              for (int i = 0; i < gemms; ++i) fc1();
            }, sync), gemms * tflop, 0);
      gemm.set_sm_count_target(0);
      print("tail pass alone, 24 SMs (1.5e9 params, zeros)", measure(counter, [&] { tail.start(); }, sync), 0,
            1.5e9 * 28 / 1e9);
    }
    {
      OptimizerTail tail(0);
      print("tail on all SMs, then 14 fc1 on all SMs", measure(counter, [&] {
              tail.start();
              sync();
              for (int i = 0; i < gemms; ++i) fc1();
            }, sync), gemms * tflop, 0);
    }
  }
  {
    AttentionLayer8B layer(stream, 8, /*autotune=*/false);
    print("attention forward 8B layer (x10)", measure(counter, [&] {
            for (int i = 0; i < 10; ++i) layer.forward();
          }, sync), 10 * AttentionLayer8B::kForwardTflop, 0);
    print("attention backward 8B layer (x10)", measure(counter, [&] {
            for (int i = 0; i < 10; ++i) layer.backward();
          }, sync), 10 * AttentionLayer8B::kBackwardTflop, 0);
  }

  // Memory work: the optimizer's update on the split master weights (28 B a parameter) on
  // random data, at 24 SMs (beside the forward) and on the whole GPU, each kernel; the
  // gradient norm's read; a plain copy.
  {
    const std::int64_t n = 1'000'000'000;
    DeviceBuffer<bf16> high = random_bf16_buffer(n, 8, 0.02f);
    DeviceBuffer<std::uint16_t> low(n);
    PRIMUS_KERNEL_CHECK(cudaMemset(low.get(), 0x5a, n * sizeof(std::uint16_t)));
    DeviceBuffer<float> m = random_float_buffer(n, 9, 1e-4f), v = random_float_buffer(n, 10, 1e-8f, true),
                        g = random_float_buffer(n, 11, 1e-3f);
    train::cuda::SplitAdamWLaunch launch;
    launch.segment_end[launch.segment_count++] = n;
    launch.decay_mask = 1;
    const double gigabytes = n * 28.0 / 1e9;
    for (const auto kernel : {train::cuda::SplitAdamWKernel::kAsync, train::cuda::SplitAdamWKernel::kReference}) {
      for (const int on : {tail_sms, sms}) {
        const AdamWHyperparameters hyper{1e-12, 0.9, 0.95, 1e-8, 0.0, 10};  // tiny steps: the data stays put
        const std::string name = std::string("split AdamW ") + train::cuda::split_adamw_kernel_name(kernel) + " on " +
                                 std::to_string(on) + " SMs (1e9 params)";
        print(name.c_str(), measure(counter, [&] {
                train::cuda::split_adamw_launch_with(kernel, launch, high.get(), low.get(), m.get(), v.get(), g.get(),
                                                     nullptr, nullptr, nullptr, hyper, on, stream, {});
              }, sync), 0, gigabytes);
      }
    }
    DeviceBuffer<double> sum(1), scratch(static_cast<std::size_t>(grad_sum_of_squares_scratch_doubles(n)));
    print("grad sum of squares (1e9 fp32)", measure(counter, [&] {
            grad_sum_of_squares(sum.get(), g.get(), n, scratch.get(), stream);
          }, sync), 0, n * 4.0 / 1e9);
    print("copy 4 GB device to device", measure(counter, [&] {
            PRIMUS_KERNEL_CHECK(cudaMemcpyAsync(m.get(), g.get(), n * sizeof(float), cudaMemcpyDeviceToDevice, stream));
          }, sync), 0, n * 8.0 / 1e9);
  }
}

// cuDNN's attention on the 8B layer's shape as the step runs it (GQA, 8 K/V heads) and with
// K/V repeated to the 32 query heads (MHA): if the MHA backward costs clearly fewer joules,
// repeating K/V before the backward (and summing dK/dV back) would pay.
TEST(Benchmark, AttentionEnergyGqaVsMha) {
  PRIMUS_SKIP_UNLESS_BENCH();
  EnergyCounter counter;
  if (!counter.ready()) GTEST_SKIP() << "NVML's energy counter is not available (libnvidia-ml.so.1)";
  BenchStream stream;
  auto sync = [&] { PRIMUS_KERNEL_CHECK(cudaDeviceSynchronize()); };
  for (const std::int64_t kv_heads : {8, 32}) {
    AttentionLayer8B layer(stream, kv_heads, /*autotune=*/true);
    const std::string tag = " hkv" + std::to_string(kv_heads) + " (x10)";
    print(("attention forward" + tag).c_str(), measure(counter, [&] {
            for (int i = 0; i < 10; ++i) layer.forward();
          }, sync), 10 * AttentionLayer8B::kForwardTflop, 0);
    print(("attention backward" + tag).c_str(), measure(counter, [&] {
            for (int i = 0; i < 10; ++i) layer.backward();
          }, sync), 10 * AttentionLayer8B::kBackwardTflop, 0);
    std::printf("BENCH attention plans hkv%lld: %s\n", static_cast<long long>(kv_heads),
                layer.attention.describe_plans(layer.shape).c_str());
  }
}

// Can the grad norm's read ride beside the backward's matrix work? One 8B layer's gradient
// (218M fp32, 0.87 GB) summed on a second stream while cuDNN's attention backward (or fc1's
// d_weight GEMM) runs on the first, by the engine's kernel (1024-thread blocks, one per SM). If
// a pair takes about as long as its matrix work alone, the norm is nearly free there. Call Q6
// (docs/performance.md): beside attention it cost about half its time alone, beside the GEMM
// nearly all of it; 128-thread blocks, small enough to share an SM, did no better. Taking the
// step's norm beside its attention backward this way (branch exp/grad-norm-beside-attention, call
// Q7) was bit-identical and no faster, so the engine still reads the gradients after backward.
TEST(Benchmark, NormBesideMatrixWork) {
  PRIMUS_SKIP_UNLESS_BENCH();
  EnergyCounter counter;
  if (!counter.ready()) GTEST_SKIP() << "NVML's energy counter is not available (libnvidia-ml.so.1)";
  BenchStream stream, side;
  auto sync = [&] { PRIMUS_KERNEL_CHECK(cudaDeviceSynchronize()); };
  const std::int64_t n = 218'103'808;
  const double gigabytes = n * 4.0 / 1e9;
  DeviceBuffer<float> g = random_float_buffer(n, 11, 1e-3f);
  const std::int64_t chunks = grad_sum_of_squares_scratch_doubles(n);
  DeviceBuffer<double> sum(1), partials(static_cast<std::size_t>(chunks));
  const auto norm = [&] { grad_sum_of_squares(sum.get(), g.get(), n, partials.get(), side); };
  print("norm 0.87 GB alone (x10)", measure(counter, [&] {
          for (int i = 0; i < 10; ++i) norm();
        }, sync), 0, 10 * gigabytes);

  AttentionLayer8B layer(stream, 8, /*autotune=*/false);
  layer.forward();
  const auto backward = [&] { layer.backward(); };
  const std::int64_t rows = 8192;
  GemmRunner gemm(stream);
  DeviceBuffer<bf16> x = random_bf16_buffer(rows * 4096, 1), dy = random_bf16_buffer(rows * 28672, 3, 1e-3f);
  DeviceBuffer<float> dw(28672 * 4096);
  const double gemm_tflop = 2.0 * rows * 4096 * 28672 / 1e12;
  const auto d_weight = [&] { gemm.linear_backward_weight(dy.get(), x.get(), dw.get(), rows, 4096, 28672, false); };
  struct Work {
    const char* name;
    std::function<void()> call;
    double tflop;
  };
  for (const Work& work : {Work{"attention backward", backward, AttentionLayer8B::kBackwardTflop},
                           Work{"fc1 d_weight", d_weight, gemm_tflop}}) {
    print((std::string(work.name) + " alone (x10)").c_str(), measure(counter, [&] {
            for (int i = 0; i < 10; ++i) work.call();
          }, sync), 10 * work.tflop, 0);
    print((std::string(work.name) + " + norm beside (x10)").c_str(), measure(counter, [&] {
            for (int i = 0; i < 10; ++i) {
              work.call();
              norm();
            }
          }, sync), 10 * work.tflop, 0);
  }
}

// Does cuDNN's attention backward cost less beside the layer's weight gradients than before
// them? In the backward of one 8B layer, fc2's, fc1's and proj's d_weight GEMMs (3.16 TFLOP)
// need nothing the attention backward makes, so they could run on a second stream while it
// runs. Alone at the 700 W limit the attention backward runs at a higher SM clock than the
// GEMMs (~1650 against ~1330 MHz) and at ~1.5 J/TFLOP against ~1.05: if that is the price of
// its clock rather than of its work, sharing the chip with GEMMs (one clock for both) lowers
// it. Per call: the attention backward and the three GEMMs, serial on one stream or as a pair
// (the GEMMs on a high-priority stream, planned for all SMs or fewer), joined at the end as
// the engine would join each layer. Call R1 (docs/performance.md): no. Serial 77.2 ms and
// 53.8 J per call, the pair on all SMs the same (the persistent GEMMs leave no SMs free),
// planned for 108 / 66 / 44 SMs 80.0 / 96.0 / 110.0 ms: the attention's joules are its work's,
// so the engine keeps its one stream.
TEST(Benchmark, AttentionBesideWeightGradients) {
  PRIMUS_SKIP_UNLESS_BENCH();
  EnergyCounter counter;
  if (!counter.ready()) GTEST_SKIP() << "NVML's energy counter is not available (libnvidia-ml.so.1)";
  BenchStream stream, side(/*highest=*/true);
  BenchEvent start, attention_done, gemms_done;
  auto sync = [&] { PRIMUS_KERNEL_CHECK(cudaDeviceSynchronize()); };
  AttentionLayer8B layer(stream, 8, /*autotune=*/false);
  layer.forward();
  const std::int64_t rows = 8192, hidden = 4096, ffn = 14336;
  GemmRunner gemm(side);
  DeviceBuffer<bf16> activation = random_bf16_buffer(rows * ffn, 21), norm_out = random_bf16_buffer(rows * hidden, 22),
                     context = random_bf16_buffer(rows * hidden, 23),
                     d_hidden = random_bf16_buffer(rows * hidden, 24, 1e-3f),
                     d_fc1 = random_bf16_buffer(rows * 2 * ffn, 25, 1e-3f);
  DeviceBuffer<float> fc2_grad(hidden * ffn), fc1_grad(2 * ffn * hidden), proj_grad(hidden * hidden);
  const double gemm_tflop = 2.0 * rows * (ffn * hidden + hidden * 2 * ffn + hidden * hidden) / 1e12;
  const double tflop = gemm_tflop + AttentionLayer8B::kBackwardTflop;
  const auto d_weights = [&] {
    gemm.linear_backward_weight(d_hidden.get(), activation.get(), fc2_grad.get(), rows, ffn, hidden, false);
    gemm.linear_backward_weight(d_fc1.get(), norm_out.get(), fc1_grad.get(), rows, hidden, 2 * ffn, false);
    gemm.linear_backward_weight(d_hidden.get(), context.get(), proj_grad.get(), rows, hidden, hidden, false);
  };
  const auto join_gemms = [&] {  // the attention's stream waits for the GEMMs, as the engine would per layer
    PRIMUS_KERNEL_CHECK(cudaEventRecord(gemms_done, side));
    PRIMUS_KERNEL_CHECK(cudaStreamWaitEvent(stream, gemms_done));
  };
  const auto serial = [&] {  // the GEMMs on `side`, after the attention backward
    layer.backward();
    PRIMUS_KERNEL_CHECK(cudaEventRecord(attention_done, stream));
    PRIMUS_KERNEL_CHECK(cudaStreamWaitEvent(side, attention_done));
    d_weights();
    join_gemms();
  };
  const auto pair = [&] {  // both start together
    PRIMUS_KERNEL_CHECK(cudaEventRecord(start, stream));
    PRIMUS_KERNEL_CHECK(cudaStreamWaitEvent(side, start));
    d_weights();
    layer.backward();
    join_gemms();
  };
  print("attention backward alone (x10)", measure(counter, [&] {
          for (int i = 0; i < 10; ++i) layer.backward();
        }, sync), 10 * AttentionLayer8B::kBackwardTflop, 0);
  print("fc2+fc1+proj d_weight alone (x10)", measure(counter, [&] {
          for (int i = 0; i < 10; ++i) d_weights();
        }, sync), 10 * gemm_tflop, 0);
  print("serial: attention bwd, then d_weights (x10)", measure(counter, [&] {
          for (int i = 0; i < 10; ++i) serial();
        }, sync), 10 * tflop, 0);
  const int sms = device_sm_count();
  for (const int target : {0, sms - 24, sms / 2, sms / 3}) {
    gemm.set_sm_count_target(target);
    const std::string name = "pair, d_weights planned for " + std::to_string(target == 0 ? sms : target) + " SMs (x10)";
    print(name.c_str(), measure(counter, [&] {
            for (int i = 0; i < 10; ++i) pair();
          }, sync), 10 * tflop, 0);
  }
  gemm.set_sm_count_target(0);
}

}  // namespace
}  // namespace primus::ops::cuda::test
