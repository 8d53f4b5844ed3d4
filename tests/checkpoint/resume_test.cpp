// Save AdamW state mid-run, reload it into fresh buffers, and require the next
// updates to be bit-identical to an uninterrupted run (llm.c's resume check).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "primus/checkpoint/flat_buffer.hpp"
#include "primus/optim/adamw.hpp"
#include "primus/optim/lr_scheduler.hpp"
#include "test_directory.hpp"

namespace primus::checkpoint {
namespace {

using optim::ParameterRange;

std::vector<ParameterRange> ranges() {
  return {{"embedding.word_embeddings.weight", {16, 8}, 0, 128, true},
          {"decoder.final_layernorm.weight", {8}, 128, 8, false},
          {"output_layer.weight", {16, 8}, 136, 128, true}};
}

std::vector<float> gradient(int step) {
  std::vector<float> grads(264);
  for (std::size_t i = 0; i < grads.size(); ++i)
    grads[i] = std::sin(0.37f * static_cast<float>(i) + 1.3f * static_cast<float>(step)) * 0.05f;
  return grads;
}

config::OptimizerConfig optimizer_config() {
  config::OptimizerConfig config;
  config.lr = 1e-2;
  config.min_lr = 1e-3;
  config.lr_warmup_iters = 2;
  config.lr_decay_iters = 10;
  config.lr_decay_style = config::LrDecayStyle::cosine;
  config.adam_beta2 = 0.95;
  return config;
}

void run_steps(optim::AdamW& adam, std::vector<float>& params, int first, int last) {
  const optim::LearningRateScheduler scheduler(optimizer_config());
  for (int iteration = first; iteration < last; ++iteration) {
    const auto grads = gradient(iteration);
    adam.step(params, grads, scheduler.lr_at(iteration), scheduler.weight_decay_at(iteration));
  }
}

TEST(Resume, ReloadedOptimizerContinuesBitIdentically) {
  testing::ScratchDirectory scratch;
  const auto parameter_ranges = ranges();
  std::vector<float> initial(264);
  for (std::size_t i = 0; i < initial.size(); ++i) initial[i] = 0.01f * static_cast<float>(i % 17) - 0.08f;

  // Uninterrupted: 6 steps.
  optim::AdamW reference(parameter_ranges, 264, optimizer_config());
  std::vector<float> reference_params = initial;
  run_steps(reference, reference_params, 0, 6);

  // Interrupted: 3 steps, save, reload into fresh objects, 3 more steps.
  {
    optim::AdamW adam(parameter_ranges, 264, optimizer_config());
    std::vector<float> params = initial;
    run_steps(adam, params, 0, 3);
    CheckpointContents contents;
    contents.iteration = 3;
    contents.optimizer_step = adam.step_count();
    contents.scheduler_state = optim::LearningRateScheduler(optimizer_config()).state(3);
    contents.model = tensors_from_flat_buffer(parameter_ranges, params);
    contents.optimizer = optimizer_tensors_from_flat_buffers(parameter_ranges, adam.exp_avg(), adam.exp_avg_sq());
    save_checkpoint(scratch.path(), contents);
  }
  const LoadedCheckpoint loaded = load_checkpoint(scratch.path());
  optim::AdamW resumed(parameter_ranges, 264, optimizer_config());
  std::vector<float> params(264, 0.0f);
  read_model_into_flat_buffer(loaded, parameter_ranges, params);
  read_optimizer_into_flat_buffers(loaded, parameter_ranges, resumed.exp_avg(), resumed.exp_avg_sq());
  resumed.set_step_count(loaded.optimizer_step());
  EXPECT_NO_THROW(optim::LearningRateScheduler(optimizer_config()).check_state(loaded.scheduler_state()));
  run_steps(resumed, params, static_cast<int>(loaded.iteration()), 6);

  EXPECT_EQ(std::memcmp(params.data(), reference_params.data(), params.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(resumed.exp_avg().data(), reference.exp_avg().data(), 264 * sizeof(float)), 0);
  EXPECT_EQ(resumed.step_count(), 6);
}

TEST(Resume, ModelWithDifferentParametersIsRejected) {
  testing::ScratchDirectory scratch;
  const auto parameter_ranges = ranges();
  std::vector<float> params(264, 1.0f);
  CheckpointContents contents;
  contents.model = tensors_from_flat_buffer(parameter_ranges, params);
  save_checkpoint(scratch.path(), contents);
  auto renamed = parameter_ranges;
  renamed[2].name = "output_layer.bias";
  try {
    read_model_into_flat_buffer(load_checkpoint(scratch.path()), renamed, params);
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("missing tensors [output_layer.bias]"), std::string::npos) << message;
    EXPECT_NE(message.find("unexpected tensors [output_layer.weight]"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace primus::checkpoint
