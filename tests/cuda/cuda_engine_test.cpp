// The CUDA engine against the CPU reference engine from the same init: identical
// parameters after init (split master weights are exact), logits and every parameter's
// gradient within bf16 tolerance, one optimizer step, full and selective recompute giving
// the same gradients as keeping activations, and clear errors for unsupported settings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda_test_support.hpp"
#include "primus/config/build.hpp"
#include "primus/train/cpu_engine.hpp"
#include "primus/train/cuda/cuda_engine.hpp"

namespace primus::train::cuda {
namespace {

config::TrainConfig small_config(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--num_layers",        "2",  "--hidden_size",       "64",  "--ffn_hidden_size", "128",
                                   "--num_attention_heads", "4", "--num_query_groups",  "2",   "--kv_channels",     "16",
                                   "--seq_length",        "32", "--max_position_embeddings", "32", "--micro_batch_size", "2",
                                   "--global_batch_size", "4",  "--vocab_size",        "250"};
  args.insert(args.end(), extra.begin(), extra.end());
  return config::load_train_config(std::string(PRIMUS_SOURCE_DIR) + "/examples/megatron/configs/tiny_llama-pretrain.yaml",
                                   args, config::BuildOptions{false, 1});
}

model::MicroBatch random_batch(const config::TrainConfig& c, unsigned seed, bool partial_mask) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> token(0, c.model.vocab_size - 1);
  model::MicroBatch b;
  b.micro_batch_size = c.training.micro_batch_size;
  b.seq_length = c.model.seq_length;
  const std::size_t rows = static_cast<std::size_t>(b.micro_batch_size) * b.seq_length;
  for (std::size_t i = 0; i < rows; ++i) {
    b.tokens.push_back(token(rng));
    b.labels.push_back(token(rng));
    b.loss_mask.push_back(partial_mask && i % 5 == 0 ? 0.0f : 1.0f);
  }
  return b;
}

// An engine built with these PRIMUS_* settings (read at construction), the environment restored after.
std::unique_ptr<CudaEngine> engine_with(const config::TrainConfig& c,
                                        const std::vector<std::pair<std::string, std::string>>& settings) {
  const ops::cuda::testing::ScopedEnvironment environment(settings);
  return std::make_unique<CudaEngine>(c);
}

// ||a - b|| / ||b||; infinite when a holds NaN/Inf.
double relative_error(const float* a, const float* b, std::int64_t n) {
  double diff = 0.0, ref = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    ref += double(b[i]) * b[i];
  }
  return std::sqrt(diff / std::max(ref, 1e-30));
}

void compare_engines(const config::TrainConfig& c) {
  CpuEngine cpu(c);
  CudaEngine gpu(c);
  cpu.init_parameters(42);
  gpu.init_parameters(42);
  const std::int64_t n = cpu.num_parameters();
  ASSERT_EQ(n, gpu.num_parameters());
  std::vector<float> p_cpu(n), p_gpu(n);
  cpu.read_parameters(p_cpu);
  gpu.read_parameters(p_gpu);
  ASSERT_EQ(p_cpu, p_gpu) << "split master weights must round-trip the init exactly";

  const auto batch0 = random_batch(c, 1, true), batch1 = random_batch(c, 2, false);
  // Logits (the CPU engine's GPTModel is reachable only through a fresh model; compare losses instead).
  const double loss_cpu = cpu.evaluate_loss(batch0), loss_gpu = gpu.evaluate_loss(batch0);
  EXPECT_NEAR(loss_gpu, loss_cpu, 2e-2 * std::abs(loss_cpu)) << "evaluate_loss";
  {
    model::GPTModel reference(c.model, c.training.micro_batch_size);
    reference.init_parameters(42);
    const std::size_t count = static_cast<std::size_t>(batch0.tokens.size()) * c.model.padded_vocab_size;
    std::vector<float> l_cpu(count), l_gpu(count);
    reference.forward_logits(batch0, l_cpu);
    gpu.forward_logits(batch0, l_gpu);
    const double err = relative_error(l_gpu.data(), l_cpu.data(), static_cast<std::int64_t>(count));
    std::printf("[ logits ] relative error %.3e\n", err);
    EXPECT_LT(err, 2e-2) << "logits";
  }
  // Gradients of a two-micro-batch global batch.
  std::vector<float> g_cpu(n), g_gpu(n);
  cpu.set_gradient_hook([&](std::span<float> g) { std::copy(g.begin(), g.end(), g_cpu.begin()); });
  cpu.forward_backward(batch0, 0, 2);
  cpu.forward_backward(batch1, 1, 2);
  gpu.forward_backward(batch0, 0, 2);
  gpu.forward_backward(batch1, 1, 2);
  const StepResult r_cpu = cpu.optimizer_step(1e-3, 0.1, 1.0);
  gpu.read_gradients(g_gpu);
  const StepResult r_gpu = gpu.optimizer_step(1e-3, 0.1, 1.0);
  EXPECT_FALSE(r_gpu.skipped);
  EXPECT_NEAR(r_gpu.loss, r_cpu.loss, 2e-2 * std::abs(r_cpu.loss));
  EXPECT_NEAR(r_gpu.grad_norm, r_cpu.grad_norm, 5e-2 * r_cpu.grad_norm);
  double worst = 0.0;
  std::string worst_name;
  for (const auto& p : cpu.parameters()) {
    const double err = relative_error(g_gpu.data() + p.offset, g_cpu.data() + p.offset, p.numel);
    if (err > worst) worst = err, worst_name = p.name;
    EXPECT_LT(err, 5e-2) << "gradient of " << p.name;
  }
  std::printf("[ grads ] worst relative error %.3e (%s); loss cpu %.5f cuda %.5f; norm cpu %.5f cuda %.5f\n", worst,
              worst_name.c_str(), r_cpu.loss, r_gpu.loss, r_cpu.grad_norm, r_gpu.grad_norm);
  // After one AdamW step the parameters still agree (updates are lr-sized and sign-like).
  cpu.read_parameters(p_cpu);
  gpu.read_parameters(p_gpu);
  EXPECT_LT(relative_error(p_gpu.data(), p_cpu.data(), n), 1e-2) << "parameters after one step";
  EXPECT_EQ(gpu.optimizer_step_count(), 1);
}

TEST(CudaEngine, LlamaMatchesCpuEngine) {
  PRIMUS_SKIP_WITHOUT_GPU();
  compare_engines(small_config());
}

TEST(CudaEngine, TiedLayerNormGeluBiasQkNormMatchesCpuEngine) {
  PRIMUS_SKIP_WITHOUT_GPU();
  auto c = small_config({"--untie_embeddings_and_output_weights", "false", "--normalization", "LayerNorm", "--swiglu",
                         "false", "--add_bias_linear", "true", "--qk_layernorm", "true", "--rotary_interleaved",
                         "true", "--rotary_percent", "0.5"});
  compare_engines(c);
}

TEST(CudaEngine, FullRecomputeGivesTheSameGradients) {
  PRIMUS_SKIP_WITHOUT_GPU();
  const auto plain = small_config();
  const auto recompute = small_config({"--recompute_granularity", "full", "--recompute_method", "block",
                                       "--recompute_num_layers", "1"});
  const auto uniform = small_config({"--recompute_granularity", "full", "--recompute_method", "uniform",
                                     "--recompute_num_layers", "1"});
  std::vector<std::vector<float>> grads;
  for (const auto* c : {&plain, &recompute, &uniform}) {
    CudaEngine engine(*c);
    engine.init_parameters(7);
    engine.forward_backward(random_batch(*c, 3, true), 0, 1);
    grads.emplace_back(engine.num_parameters());
    engine.read_gradients(grads.back());
  }
  EXPECT_EQ(grads[0], grads[1]) << "block recompute";
  EXPECT_EQ(grads[0], grads[2]) << "uniform recompute";
}

// recompute_modules: recomputing the norm outputs ("layernorm") or the activation output
// ("mlp") in backward runs the same arithmetic on the same inputs as the forward that kept
// them: the gradients are bit-identical to keeping everything (granularity null). Both
// normalizations, the second with biases (the proj GEMM's BIAS epilogue beside the residual as C).
TEST(CudaEngine, SelectiveRecomputeGivesTheSameGradients) {
  PRIMUS_SKIP_WITHOUT_GPU();
  for (const std::vector<std::string>& model : {std::vector<std::string>{},
                                               std::vector<std::string>{"--normalization", "LayerNorm", "--swiglu",
                                                                        "false", "--add_bias_linear", "true"}}) {
    auto with = [&](std::vector<std::string> recompute) {
      recompute.insert(recompute.end(), model.begin(), model.end());
      return small_config(recompute);
    };
    const std::vector<std::pair<std::string, config::TrainConfig>> configs = {
        {"none", with({})},
        {"selective [core_attn]", with({"--recompute_granularity", "selective"})},
        {"selective [layernorm]", with({"--recompute_granularity", "selective", "--recompute_modules", "[layernorm]"})},
        {"selective [mlp]", with({"--recompute_granularity", "selective", "--recompute_modules", "[mlp]"})},
        {"selective [layernorm, mlp]",
         with({"--recompute_granularity", "selective", "--recompute_modules", "[core_attn, layernorm, mlp]"})},
    };
    std::vector<std::vector<float>> grads;
    std::vector<std::size_t> arena_bytes;
    for (const auto& [name, c] : configs) {
      CudaEngine engine(c);
      engine.init_parameters(7);
      engine.forward_backward(random_batch(c, 3, true), 0, 1);
      grads.emplace_back(engine.num_parameters());
      engine.read_gradients(grads.back());
      arena_bytes.push_back(engine.arena_bytes());
    }
    // A check that could not fail if nothing were computed: the gradients are not all zero.
    EXPECT_NE(std::count(grads[0].begin(), grads[0].end(), 0.0f), static_cast<std::ptrdiff_t>(grads[0].size()));
    for (std::size_t i = 1; i < configs.size(); ++i) EXPECT_EQ(grads[0], grads[i]) << configs[i].first;
    // Each kept layer holds two norm outputs [rows, hidden] and the activation [rows, ffn] in bf16;
    // recomputing them drops exactly those buffers (all multiples of the arena's 256-byte alignment).
    const auto& m = configs[0].second.model;
    const std::size_t rows = static_cast<std::size_t>(configs[0].second.training.micro_batch_size) * m.seq_length;
    const std::size_t layers = static_cast<std::size_t>(m.num_layers);
    const std::size_t norms = layers * rows * 2 * static_cast<std::size_t>(m.hidden_size) * 2;
    const std::size_t activation = layers * rows * static_cast<std::size_t>(m.ffn_hidden_size) * 2;
    EXPECT_EQ(arena_bytes[0], arena_bytes[1]);
    EXPECT_EQ(arena_bytes[0] - arena_bytes[2], norms);
    EXPECT_EQ(arena_bytes[0] - arena_bytes[3], activation);
    EXPECT_EQ(arena_bytes[0] - arena_bytes[4], norms + activation);
  }
}

TEST(CudaEngine, RejectsRecomputeModulesOfOtherArchitectures) {
  PRIMUS_SKIP_WITHOUT_GPU();
  for (const char* module : {"moe", "moe_act", "mla_up_proj", "shared_experts"}) {
    const auto c = small_config({"--recompute_granularity", "selective", "--recompute_modules",
                                 std::string("[layernorm, ") + module + "]"});
    try {
      CudaEngine engine(c);
      ADD_FAILURE() << module << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + module + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("no such submodule"), std::string::npos) << e.what();
    }
  }
  // Megatron ignores recompute_modules without selective recompute, and so does the engine.
  EXPECT_NO_THROW(CudaEngine(small_config({"--recompute_modules", "[moe]"})));
}

// The overlapped optimizer (AdamW groups on a side stream, the next forward waiting per
// parameter; the word embeddings' update deferred behind the forward's gather, kept lazily per
// row or not) must change nothing: parameters, moments and losses of seven steps (two
// micro-batches each, an evaluation between steps, the learning rate changing every step, the
// fifth step skipped for a non-finite loss) are bit-identical to the serial optimizer's. Lazy
// rows run with the default ring of 8 steps and with a ring of 3 (rows replay up to 3 missed
// steps; the table read by the host after the third step, which stores every row, and training
// goes on). With the forward's GEMMs planned for fewer SMs as well, cuBLASLt may pick other
// kernels (other summation orders): equal within bf16 rounding. The deferred table's update and
// gather, which skip the untouched rows' zero gradients, equal reading the whole dense gradient
// (PRIMUS_SPARSE_EMBEDDING_GRAD=0, which also turns lazy rows off) bit for bit.
TEST(CudaEngine, OverlappedOptimizerIsBitIdenticalToSerial) {
  PRIMUS_SKIP_WITHOUT_GPU();
  // Two layers of width 1024 so that several groups (>= 1M elements) exist; untied embeddings.
  const auto c = small_config({"--hidden_size", "1024", "--ffn_hidden_size", "1024", "--num_attention_heads", "8",
                               "--num_query_groups", "2", "--kv_channels", "128", "--vocab_size", "1200",
                               "--untie_embeddings_and_output_weights", "true"});
  struct Run {
    std::vector<float> params, exp_avg, exp_avg_sq;
    std::vector<float> losses;  // -1 for a skipped step
  };
  constexpr int kSteps = 7, kSkippedStep = 4, kReadAfterStep = 2;
  auto run = [&](std::vector<std::pair<std::string, std::string>> settings, bool read_midway = false) {
    const auto engine_ptr = engine_with(c, settings);
    CudaEngine& engine = *engine_ptr;
    engine.init_parameters(11);
    Run r;
    for (int step = 0; step < kSteps; ++step) {
      auto second = random_batch(c, 101 + 2 * step, false);
      if (step == kSkippedStep) second.labels[3] = c.model.padded_vocab_size + 5;  // NaN loss: the step is skipped
      engine.forward_backward(random_batch(c, 100 + 2 * step, true), 0, 2);
      engine.forward_backward(second, 1, 2);
      const StepResult s = engine.optimizer_step(1e-2 * (1.0 + 0.25 * step), 0.1, 1.0);
      EXPECT_EQ(s.skipped, step == kSkippedStep) << "step " << step;
      r.losses.push_back(s.skipped ? -1.0f : s.loss);
      r.losses.push_back(static_cast<float>(engine.evaluate_loss(random_batch(c, 50 + step, false))));
      if (read_midway && step == kReadAfterStep) {
        std::vector<float> midway(engine.num_parameters());
        engine.read_parameters(midway);
      }
    }
    EXPECT_EQ(engine.optimizer_step_count(), kSteps - 1);
    const std::int64_t n = engine.num_parameters();
    r.params.resize(n), r.exp_avg.resize(n), r.exp_avg_sq.resize(n);
    engine.read_parameters(r.params);
    engine.read_optimizer_state(r.exp_avg, r.exp_avg_sq);
    return std::make_pair(engine.optimizer_overlap_sms(), r);
  };
  auto expect_identical = [](const Run& a, const Run& b, const char* what) {
    EXPECT_EQ(a.losses, b.losses) << what;
    EXPECT_EQ(a.params, b.params) << what;
    EXPECT_EQ(a.exp_avg, b.exp_avg) << what;
    EXPECT_EQ(a.exp_avg_sq, b.exp_avg_sq) << what;
  };
  const auto [serial_sms, serial] = run({{"PRIMUS_OPTIMIZER_OVERLAP_SMS", "0"}});
  const std::pair<std::string, std::string> wide = {"PRIMUS_OPTIMIZER_OVERLAP_SMS", "8"},
                                            all_layers = {"PRIMUS_OPTIMIZER_OVERLAP_LAYERS", "0"};
  const auto [overlap_sms, lazy] = run({wide, all_layers});  // word embeddings lazy behind the gather
  const auto [midway_sms, lazy_midway] = run({wide, all_layers}, true);
  const auto [ring3_sms, lazy_ring3] = run({wide, all_layers, {"PRIMUS_LAZY_EMBEDDING_RING", "3"}}, true);
  const auto [eager_sms, eager] = run({wide, all_layers, {"PRIMUS_LAZY_EMBEDDING_ROWS", "0"}});
  const auto [undeferred_sms, undeferred] = run({wide, all_layers, {"PRIMUS_OPTIMIZER_DEFER_EMBEDDINGS", "0"}});
  const auto [narrow_sms, narrow] = run({wide, {"PRIMUS_OPTIMIZER_OVERLAP_LAYERS", "2"}});
  const auto [dense_sms, dense] = run({wide, all_layers, {"PRIMUS_SPARSE_EMBEDDING_GRAD", "0"}});
  EXPECT_EQ(serial_sms, 0);
  for (const int sms : {overlap_sms, midway_sms, ring3_sms, eager_sms, undeferred_sms, narrow_sms, dense_sms})
    EXPECT_EQ(sms, 8);
  expect_identical(lazy, serial, "lazy rows, ring of 8");
  expect_identical(lazy_midway, serial, "lazy rows, ring of 8, read midway");
  expect_identical(lazy_ring3, serial, "lazy rows, ring of 3, read midway");
  expect_identical(eager, serial, "deferred, every row every step");
  expect_identical(undeferred, serial, "not deferred");
  expect_identical(dense, serial, "deferred, every gradient row read");
  ASSERT_EQ(narrow.losses.size(), serial.losses.size());
  for (std::size_t i = 0; i < serial.losses.size(); ++i)
    EXPECT_NEAR(narrow.losses[i], serial.losses[i], 1e-2 * std::abs(serial.losses[i])) << "loss " << i;
  EXPECT_LT(relative_error(narrow.params.data(), serial.params.data(), static_cast<std::int64_t>(serial.params.size())),
            1e-2);
  // The steps did move the parameters, the untouched embedding rows too (moment and weight
  // decay): a broken update in every run would also be "identical".
  CudaEngine fresh(c);
  fresh.init_parameters(11);
  std::vector<float> init(fresh.num_parameters());
  fresh.read_parameters(init);
  std::size_t unchanged = 0;
  for (std::size_t i = 0; i < init.size(); ++i) unchanged += init[i] == lazy.params[i];
  EXPECT_LT(unchanged, init.size() / 100) << "parameters the steps left unchanged";
}

// Untied word embeddings: only the rows of the batch's tokens are zeroed at a step's start and
// read by the grad norm (the rest are known to be zero). Against zeroing and reading the whole
// table: gradients, norms and parameters of three steps (two micro-batches each, different
// tokens every time, so stale rows from an earlier step would show) bit-identical.
TEST(CudaEngine, TouchedEmbeddingRowsGiveTheDenseGradients) {
  PRIMUS_SKIP_WITHOUT_GPU();
  const auto c = small_config({"--vocab_size", "1200", "--untie_embeddings_and_output_weights", "true"});
  struct Run {
    std::vector<std::vector<float>> grads;
    std::vector<double> norms;
    std::vector<float> params;
  };
  auto run = [&](const char* sparse) {
    const auto engine_ptr = engine_with(c, {{"PRIMUS_SPARSE_EMBEDDING_GRAD", sparse}});
    CudaEngine& engine = *engine_ptr;
    engine.init_parameters(13);
    Run r;
    for (int step = 0; step < 3; ++step) {
      engine.forward_backward(random_batch(c, 300 + 2 * step, true), 0, 2);
      engine.forward_backward(random_batch(c, 301 + 2 * step, false), 1, 2);
      const StepResult s = engine.optimizer_step(1e-2, 0.1, 1.0);
      EXPECT_FALSE(s.skipped);
      r.norms.push_back(s.grad_norm);
      r.grads.emplace_back(engine.num_parameters());
      engine.read_gradients(r.grads.back());
    }
    r.params.resize(engine.num_parameters());
    engine.read_parameters(r.params);
    return r;
  };
  const Run dense = run("0"), sparse = run("1");
  ASSERT_EQ(dense.grads.size(), sparse.grads.size());
  for (std::size_t step = 0; step < dense.grads.size(); ++step) {
    EXPECT_EQ(dense.grads[step], sparse.grads[step]) << "step " << step;
    EXPECT_EQ(dense.norms[step], sparse.norms[step]) << "step " << step;
  }
  EXPECT_EQ(dense.params, sparse.params);
  // The word embeddings' gradient (the layout's first parameter) is sparse: some rows are zero.
  const std::int64_t hidden = c.model.hidden_size, vocab = c.model.padded_vocab_size;
  int zero_rows = 0;
  for (std::int64_t row = 0; row < vocab; ++row) {
    const auto begin = sparse.grads.back().begin() + row * hidden;
    zero_rows += std::all_of(begin, begin + hidden, [](float g) { return g == 0.0f; });
  }
  EXPECT_GT(zero_rows, 0);
  EXPECT_LT(zero_rows, vocab);
}

TEST(CudaEngine, RejectsBadOverlapSetting) {
  PRIMUS_SKIP_WITHOUT_GPU();
  {
    const ops::cuda::testing::ScopedEnvironment environment({{"PRIMUS_OPTIMIZER_OVERLAP_SMS", "many"}});
    EXPECT_THROW(CudaEngine{small_config()}, std::invalid_argument);
  }
  const ops::cuda::testing::ScopedEnvironment environment({{"PRIMUS_SPARSE_EMBEDDING_GRAD", "off"}});
  EXPECT_THROW(CudaEngine{small_config({"--untie_embeddings_and_output_weights", "true"})}, std::invalid_argument);
}

TEST(CudaEngine, NonFiniteLossSkipsTheStep) {
  PRIMUS_SKIP_WITHOUT_GPU();
  const auto c = small_config();
  CudaEngine engine(c);
  engine.init_parameters(1);
  auto batch = random_batch(c, 4, false);
  batch.labels[3] = c.model.padded_vocab_size + 5;  // out of range: NaN loss on the GPU
  std::vector<float> before(engine.num_parameters()), after(engine.num_parameters());
  engine.read_parameters(before);
  engine.forward_backward(batch, 0, 1);
  const StepResult r = engine.optimizer_step(1e-3, 0.1, 1.0);
  EXPECT_TRUE(r.skipped);
  engine.read_parameters(after);
  EXPECT_EQ(before, after);
  EXPECT_EQ(engine.optimizer_step_count(), 0);
}

TEST(CudaEngine, RejectsUnsupportedSettings) {
  PRIMUS_SKIP_WITHOUT_GPU();
  auto no_method = small_config();
  no_method.training.recompute_granularity = config::RecomputeGranularity::full;
  no_method.training.recompute_method = config::RecomputeMethod::none;
  EXPECT_THROW(CudaEngine{no_method}, std::invalid_argument);
  auto too_many = no_method;
  too_many.training.recompute_method = config::RecomputeMethod::block;
  too_many.training.recompute_num_layers = too_many.model.num_layers + 1;
  EXPECT_THROW(CudaEngine{too_many}, std::invalid_argument);
  EXPECT_THROW(CudaEngine(small_config({"--kv_channels", "12"})), std::invalid_argument);
}

}  // namespace
}  // namespace primus::train::cuda
