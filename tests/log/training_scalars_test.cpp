// Megatron's TensorBoard tag set for one iteration.
#include <gtest/gtest.h>

#include "primus/log/training_scalars.hpp"

namespace primus::log {
namespace {

TEST(TrainingScalars, MegatronTagsAndSteps) {
  IterationLogLine line;
  line.iteration = 20;
  line.consumed_train_samples = 640;
  line.learning_rate = 2e-4;
  line.global_batch_size = 32;
  line.loss_scale = 1.0;
  line.grad_norm = 0.75;
  line.elapsed_ms_per_iteration = 1500.0;
  line.tflops_per_gpu = 321.0;
  const std::vector<std::pair<std::string, double>> losses = {{"lm loss", 6.5}};
  const auto points = megatron_training_scalars(line, losses, /*log_timers_to_tensorboard=*/true);
  std::vector<std::string> tags;
  for (const auto& point : points) tags.push_back(point.tag + "@" + std::to_string(point.step));
  EXPECT_EQ(tags, (std::vector<std::string>{"learning-rate@20", "learning-rate vs samples@640", "batch-size@20",
                                            "batch-size vs samples@640", "lm loss@20", "lm loss vs samples@640",
                                            "loss-scale@20", "loss-scale vs samples@640", "grad-norm@20",
                                            "grad-norm vs samples@640", "iteration-time@20", "throughput@20"}));
  EXPECT_DOUBLE_EQ(points[4].value, 6.5);
  EXPECT_DOUBLE_EQ(points[10].value, 1.5);  // seconds, as Megatron writes elapsed_time_per_iteration
  EXPECT_EQ(megatron_training_scalars(line, losses, false).size(), 10u);
}

}  // namespace
}  // namespace primus::log
