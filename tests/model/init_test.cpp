// Megatron initialisation statistics, determinism, loss at init, overfitting one
// micro-batch with plain SGD, batch validation, activation accounting.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>

#include "primus/model/gpt_model.hpp"
#include "tiny_model.hpp"

namespace primus::testing {
namespace {

struct Moments {
  double mean = 0.0, std = 0.0;
};

Moments moments(std::span<const float> values) {
  double sum = 0.0, squares = 0.0;
  for (float v : values) sum += v;
  const double mean = sum / values.size();
  for (float v : values) squares += (v - mean) * (v - mean);
  return {mean, std::sqrt(squares / values.size())};
}

std::span<const float> tensor(model::GPTModel& model, const std::string& name) {
  for (const model::ParameterInfo& p : model.parameters()) {
    if (p.name == name) return model.parameter_data().subspan(p.offset, p.numel);
  }
  throw std::out_of_range(name);
}

config::ModelConfig medium_config() {
  config::ModelConfig c = tiny_config();
  c.hidden_size = 128;
  c.ffn_hidden_size = 256;
  c.num_layers = 4;
  c.kv_channels = 32;
  c.add_bias_linear = true;
  return c;
}

TEST(Init, MegatronStatistics) {
  config::ModelConfig c = medium_config();
  model::GPTModel model(c, 1);
  model.init_parameters(1234);
  const double std = c.init_method_std, scaled = std / std::sqrt(2.0 * c.num_layers);
  for (const std::string name : {"decoder.layers.1.self_attention.linear_qkv.weight", "decoder.layers.3.mlp.linear_fc1.weight",
                                 "embedding.word_embeddings.weight", "output_layer.weight"}) {
    Moments m = moments(tensor(model, name));
    EXPECT_NEAR(m.std, std, 0.03 * std) << name;
    EXPECT_NEAR(m.mean, 0.0, 0.05 * std) << name;
  }
  for (const std::string name : {"decoder.layers.0.self_attention.linear_proj.weight", "decoder.layers.2.mlp.linear_fc2.weight"}) {
    Moments m = moments(tensor(model, name));
    EXPECT_NEAR(m.std, scaled, 0.03 * scaled) << name;
  }
  for (float v : tensor(model, "decoder.layers.0.input_layernorm.weight")) ASSERT_EQ(v, 1.0f);
  for (float v : tensor(model, "decoder.final_layernorm.weight")) ASSERT_EQ(v, 1.0f);
  for (float v : tensor(model, "decoder.layers.0.mlp.linear_fc1.bias")) ASSERT_EQ(v, 0.0f);
}

TEST(Init, LayernormOnePStoresZeros) {
  config::ModelConfig c = tiny_config();
  c.apply_layernorm_1p = true;
  model::GPTModel model(c, 1);
  model.init_parameters(3);
  for (float v : tensor(model, "decoder.layers.1.pre_mlp_layernorm.weight")) ASSERT_EQ(v, 0.0f);
}

TEST(Init, DeterministicFromSeed) {
  config::ModelConfig c = tiny_config();
  model::GPTModel a(c, 1), b(c, 1), other(c, 1);
  a.init_parameters(99);
  b.init_parameters(99);
  other.init_parameters(100);
  std::vector<float> va(a.parameter_data().begin(), a.parameter_data().end());
  std::vector<float> vb(b.parameter_data().begin(), b.parameter_data().end());
  std::vector<float> vo(other.parameter_data().begin(), other.parameter_data().end());
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vo);
  // Different tensors get different streams (not the same numbers repeated).
  auto qkv0 = tensor(a, "decoder.layers.0.self_attention.linear_qkv.weight");
  auto qkv1 = tensor(a, "decoder.layers.1.self_attention.linear_qkv.weight");
  EXPECT_FALSE(std::equal(qkv0.begin(), qkv0.end(), qkv1.begin()));
}

TEST(Init, IndependentOfThreadCount) {
  config::ModelConfig c = medium_config();
  c.ffn_hidden_size = 1024;  // linear_fc1 spans several init chunks
  model::GPTModel model(c, 1);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  model.init_parameters(77);
  std::vector<float> one_thread(model.parameter_data().begin(), model.parameter_data().end());
  omp_set_num_threads(3);
  model.init_parameters(77);
  omp_set_num_threads(threads);
  EXPECT_TRUE(std::equal(one_thread.begin(), one_thread.end(), model.parameter_data().begin()));
}

TEST(Init, LossIsLogVocabulary) {
  config::ModelConfig c = medium_config();
  model::GPTModel model(c, kTinyMicroBatchSize);
  model.init_parameters(7);
  const float loss = model.forward_loss(random_micro_batch(c, kTinyMicroBatchSize, 1));
  // Small init: near-uniform over the padded vocabulary.
  EXPECT_NEAR(loss, std::log(static_cast<double>(c.padded_vocab_size)), 0.05);
}

TEST(Training, SgdOverfitsOneMicroBatch) {
  config::ModelConfig c = tiny_config();
  model::GPTModel model(c, kTinyMicroBatchSize);
  model.init_parameters(17);
  const model::MicroBatch batch = random_micro_batch(c, kTinyMicroBatchSize, 2);
  float first = 0.0f, last = 0.0f;
  for (int step = 0; step < 50; ++step) {
    model.zero_grad();
    last = model.forward_backward(batch, 1.0f);
    if (step == 0) first = last;
    std::span<float> params = model.parameter_data();
    std::span<float> grads = model.gradient_data();
    for (std::size_t i = 0; i < params.size(); ++i) params[i] -= 0.5f * grads[i];
  }
  EXPECT_LT(last, 0.5f * first) << "first loss " << first << ", after 50 SGD steps " << last;
}

TEST(MicroBatchChecks, RejectWrongShapesAndTokens) {
  config::ModelConfig c = tiny_config();
  model::GPTModel model(c, kTinyMicroBatchSize);
  model.init_parameters(1);
  model::MicroBatch batch = random_micro_batch(c, kTinyMicroBatchSize, 4);
  model::MicroBatch wrong = batch;
  wrong.micro_batch_size = 1;
  EXPECT_THROW(model.forward_loss(wrong), std::invalid_argument);
  wrong = batch;
  wrong.labels.pop_back();
  EXPECT_THROW(model.forward_loss(wrong), std::invalid_argument);
  wrong = batch;
  wrong.tokens[3] = c.padded_vocab_size;
  EXPECT_THROW(model.forward_loss(wrong), std::out_of_range);
  // A shorter sequence than the model's seq_length is allowed.
  model::MicroBatch shorter = random_micro_batch(c, kTinyMicroBatchSize, 5);
  shorter.seq_length = 4;
  shorter.tokens.resize(8);
  shorter.labels.resize(8);
  shorter.loss_mask.resize(8);
  EXPECT_TRUE(std::isfinite(model.forward_loss(shorter)));
}

TEST(Loss, EvaluationLeavesGradientsAloneAndEmptyMaskGivesZero) {
  config::ModelConfig c = tiny_config();
  model::GPTModel model(c, kTinyMicroBatchSize);
  model.init_parameters(4);
  model::MicroBatch batch = random_micro_batch(c, kTinyMicroBatchSize, 3);
  model.zero_grad();
  EXPECT_GT(model.forward_loss(batch), 0.0f);
  for (float g : model.gradient_data()) ASSERT_EQ(g, 0.0f);
  std::fill(batch.loss_mask.begin(), batch.loss_mask.end(), 0.0f);
  EXPECT_EQ(model.forward_backward(batch, 1.0f), 0.0f);
  for (float g : model.gradient_data()) ASSERT_EQ(g, 0.0f);
}

TEST(Logits, CausalAndMaskedLossMatchesLogits) {
  config::ModelConfig c = tiny_config();
  model::GPTModel model(c, kTinyMicroBatchSize);
  model.init_parameters(8);
  model::MicroBatch batch = random_micro_batch(c, kTinyMicroBatchSize, 6);
  const std::size_t vocab = c.padded_vocab_size, rows = batch.tokens.size();
  std::vector<float> logits(rows * vocab), changed(rows * vocab);
  model.forward_logits(batch, logits);
  // The loss is the masked mean of -log softmax(logits)[label].
  double weighted = 0.0, mask = 0.0;
  for (std::size_t r = 0; r < rows; ++r) {
    double max_logit = *std::max_element(logits.begin() + r * vocab, logits.begin() + (r + 1) * vocab), sum = 0.0;
    for (std::size_t i = 0; i < vocab; ++i) sum += std::exp(logits[r * vocab + i] - max_logit);
    weighted += batch.loss_mask[r] * (max_logit + std::log(sum) - logits[r * vocab + batch.labels[r]]);
    mask += batch.loss_mask[r];
  }
  EXPECT_NEAR(model.forward_loss(batch), weighted / mask, 1e-5);
  // Changing the last token of sample 0 changes only its last position's logits.
  batch.tokens[c.seq_length - 1] = (batch.tokens[c.seq_length - 1] + 1) % c.vocab_size;
  model.forward_logits(batch, changed);
  for (std::size_t r = 0; r + 1 < static_cast<std::size_t>(c.seq_length); ++r) {
    for (std::size_t i = 0; i < vocab; ++i) ASSERT_EQ(logits[r * vocab + i], changed[r * vocab + i]) << "row " << r;
  }
  EXPECT_NE(logits[(c.seq_length - 1) * vocab], changed[(c.seq_length - 1) * vocab]);
}

TEST(Activations, HighWaterCoversSavedTensors) {
  config::ModelConfig c = tiny_config();
  model::GPTModel model(c, kTinyMicroBatchSize);
  const std::size_t rows = kTinyMicroBatchSize * c.seq_length;
  // At least the residual streams and the logits, in bytes.
  const std::size_t lower_bound = ((c.num_layers + 1) * rows * c.hidden_size + rows * c.padded_vocab_size) * sizeof(float);
  EXPECT_GE(model.activation_bytes_high_water(), lower_bound);
}

}  // namespace
}  // namespace primus::testing
