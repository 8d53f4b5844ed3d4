// Whole-model gradient check: forward_backward's gradient against central finite
// differences of forward_loss, on sampled elements of every parameter tensor, for
// each architecture variant the config can select.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "../ops/gradcheck.hpp"
#include "primus/model/gpt_model.hpp"
#include "tiny_model.hpp"

namespace primus::testing {
namespace {

using config::ModelConfig;

struct Variant {
  std::string name;
  ModelConfig config;
};
void PrintTo(const Variant& variant, std::ostream* os) { *os << variant.name; }

std::vector<Variant> variants() {
  std::vector<Variant> v;
  ModelConfig base = tiny_config();
  base.init_method_std = 0.3;  // larger than Megatron's 0.02 so gradients stand well above fp32 noise
  v.push_back({"base", base});
  ModelConfig c = base;
  c.qk_layernorm = true;
  v.push_back({"qk_layernorm", c});
  c = base;
  c.add_qkv_bias = true;
  c.add_bias_linear = true;
  v.push_back({"biases", c});
  c = base;
  c.untie_embeddings_and_output_weights = false;
  v.push_back({"tied", c});
  c = base;
  c.normalization = config::Normalization::LayerNorm;
  c.swiglu = false;
  c.add_bias_linear = true;
  c.position_embedding_type = config::PositionEmbeddingType::learned_absolute;
  v.push_back({"layernorm_gelu_learned_absolute", c});
  c = base;
  c.apply_layernorm_1p = true;
  c.qk_layernorm = true;
  v.push_back({"apply_layernorm_1p", c});
  c = base;
  c.kv_channels = 8;  // rotary_dim 4 of 8
  c.rotary_percent = 0.5;
  v.push_back({"rotary_percent_0.5", c});
  c = base;
  c.rotary_interleaved = true;
  v.push_back({"rotary_interleaved", c});
  c = base;
  c.use_rope_scaling = true;
  c.original_max_position_embeddings = 64;  // so that the tiny head's low frequency is rescaled
  c.rotary_seq_len_interpolation_factor = 2.0;
  v.push_back({"rope_scaling", c});
  c = base;
  c.position_embedding_type = config::PositionEmbeddingType::none;
  c.num_query_groups = 1;
  v.push_back({"no_position_multi_query", c});
  return v;
}

class ModelGradient : public ::testing::TestWithParam<Variant> {};

TEST_P(ModelGradient, MatchesFiniteDifferencesInEveryTensor) {
  const ModelConfig& c = GetParam().config;
  model::GPTModel model(c, kTinyMicroBatchSize);
  model.init_parameters(42);
  // Move away from the special init point (norms 1, biases 0) so every term matters.
  std::span<float> params = model.parameter_data();
  std::vector<float> noise = random_vector(params.size(), 7, 0.2f);
  for (std::size_t i = 0; i < params.size(); ++i) params[i] += noise[i];
  const model::MicroBatch batch = random_micro_batch(c, kTinyMicroBatchSize, 3);

  model.zero_grad();
  const float grad_scale = 1.0f;
  model.forward_backward(batch, grad_scale);
  std::vector<float> analytic(model.gradient_data().begin(), model.gradient_data().end());
  auto objective = [&] { return static_cast<double>(model.forward_loss(batch)); };

  std::set<std::int32_t> used_tokens(batch.tokens.begin(), batch.tokens.end());
  std::mt19937_64 engine(11);
  for (const model::ParameterInfo& p : model.parameters()) {
    GradcheckOptions options{.eps = 1e-2f, .tolerance = 1e-2};
    const bool is_embedding = p.name == "embedding.word_embeddings.weight";
    const std::int64_t row_width = p.shape.size() == 2 ? p.shape[1] : p.numel;
    for (int n = 0; n < 6; ++n) {
      std::int64_t row = 0;
      if (is_embedding && c.untie_embeddings_and_output_weights) {  // rows of tokens in the batch
        std::vector<std::int32_t> tokens(used_tokens.begin(), used_tokens.end());
        row = tokens[engine() % tokens.size()];
      } else if (p.shape.size() == 2) {
        row = static_cast<std::int64_t>(engine() % p.shape[0]);
      }
      std::int64_t column = static_cast<std::int64_t>(engine() % row_width);
      options.indices.push_back(static_cast<std::size_t>(p.offset + row * row_width + column));
    }
    GradcheckReport report = gradcheck(objective, params, analytic, options);
    EXPECT_TRUE(report.passed) << p.name << ": " << report.describe();
    EXPECT_GT(report.scale, 1e-4) << p.name << ": gradient too small to test";
  }
}

TEST_P(ModelGradient, GradScaleScalesAndAccumulates) {
  const ModelConfig& c = GetParam().config;
  model::GPTModel model(c, kTinyMicroBatchSize);
  model.init_parameters(5);
  const model::MicroBatch batch = random_micro_batch(c, kTinyMicroBatchSize, 9);
  model.zero_grad();
  const float loss = model.forward_backward(batch, 1.0f);
  std::vector<float> once(model.gradient_data().begin(), model.gradient_data().end());
  EXPECT_FLOAT_EQ(model.forward_backward(batch, 0.5f), loss);  // loss is returned unscaled
  EXPECT_FLOAT_EQ(model.forward_loss(batch), loss);
  std::span<float> accumulated = model.gradient_data();
  for (std::size_t i = 0; i < once.size(); ++i) {
    ASSERT_NEAR(accumulated[i], 1.5f * once[i], 1e-6f + 1e-4f * std::abs(once[i])) << "element " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, ModelGradient, ::testing::ValuesIn(variants()),
                         [](const ::testing::TestParamInfo<Variant>& info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

}  // namespace
}  // namespace primus::testing
