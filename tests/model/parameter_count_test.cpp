// Parameter layout and the closed-form count: tiny variants against the allocated
// buffer, published full-size models without allocating, Megatron names and flags.
#include <gtest/gtest.h>

#include <set>

#include "primus/model/gpt_model.hpp"
#include "tiny_model.hpp"

namespace primus::testing {
namespace {

using config::ModelConfig;

std::vector<std::pair<std::string, ModelConfig>> tiny_variants() {
  std::vector<std::pair<std::string, ModelConfig>> variants;
  ModelConfig base = tiny_config();
  variants.push_back({"base", base});
  ModelConfig c = base;
  c.qk_layernorm = true;
  variants.push_back({"qk_layernorm", c});
  c = base;
  c.add_qkv_bias = true;
  c.add_bias_linear = true;
  variants.push_back({"biases", c});
  c = base;
  c.add_qkv_bias = true;
  variants.push_back({"qkv_bias_only", c});
  c = base;
  c.untie_embeddings_and_output_weights = false;
  variants.push_back({"tied", c});
  c = base;
  c.normalization = config::Normalization::LayerNorm;
  c.swiglu = false;
  c.position_embedding_type = config::PositionEmbeddingType::learned_absolute;
  variants.push_back({"layernorm_gelu_learned", c});
  return variants;
}

TEST(ParameterCount, FormulaEqualsAllocatedBufferForTinyVariants) {
  for (const auto& [name, c] : tiny_variants()) {
    model::GPTModel model(c, 1);
    std::int64_t summed = 0;
    for (const model::ParameterInfo& p : model.parameters()) summed += p.numel;
    EXPECT_EQ(model::GPTModel::count_parameters(c), static_cast<std::int64_t>(model.parameter_data().size())) << name;
    EXPECT_EQ(summed, static_cast<std::int64_t>(model.parameter_data().size())) << name;
    EXPECT_EQ(model.gradient_data().size(), model.parameter_data().size()) << name;
  }
}

ModelConfig llama(int layers, int hidden, int ffn, int heads, int groups, int vocab) {
  ModelConfig c;
  c.num_layers = layers;
  c.hidden_size = hidden;
  c.ffn_hidden_size = ffn;
  c.num_attention_heads = heads;
  c.num_query_groups = groups;
  c.kv_channels = hidden / heads;
  c.seq_length = 4096;
  c.max_position_embeddings = 4096;
  c.vocab_size = vocab;
  c.padded_vocab_size = vocab;  // all divisible by 128
  return c;
}

TEST(ParameterCount, PublishedModelTotals) {
  ModelConfig llama3_8b = llama(32, 4096, 14336, 32, 8, 128256);
  ModelConfig llama2_7b = llama(32, 4096, 11008, 32, 32, 32000);
  ModelConfig llama32_1b = llama(16, 2048, 8192, 32, 8, 128256);
  llama32_1b.untie_embeddings_and_output_weights = false;
  ModelConfig qwen25_7b = llama(28, 3584, 18944, 28, 4, 152064);
  qwen25_7b.add_qkv_bias = true;
  EXPECT_EQ(model::GPTModel::count_parameters(llama3_8b), 8'030'261'248);
  EXPECT_EQ(model::GPTModel::count_parameters(llama2_7b), 6'738'415'616);
  EXPECT_EQ(model::GPTModel::count_parameters(llama32_1b), 1'235'814'400);
  EXPECT_EQ(model::GPTModel::count_parameters(qwen25_7b), 7'615'616'512);
  // The layout (names and shapes only, no buffers) agrees with the formula.
  for (const ModelConfig& c : {llama3_8b, llama2_7b, llama32_1b, qwen25_7b}) {
    EXPECT_EQ(model::build_parameter_layout(c).total_numel, model::GPTModel::count_parameters(c));
  }
}

TEST(ParameterLayout, MegatronNamesShapesAndWeightDecay) {
  ModelConfig c = tiny_config();
  c.add_qkv_bias = true;
  model::GPTModel model(c, 1);
  std::set<std::string> names;
  std::int64_t expected_offset = 0;
  for (const model::ParameterInfo& p : model.parameters()) {
    names.insert(p.name);
    EXPECT_EQ(p.offset, expected_offset) << p.name << ": tensors are packed in order";
    expected_offset += p.numel;
    EXPECT_EQ(p.weight_decay, p.shape.size() == 2) << p.name;
  }
  for (const char* expected :
       {"embedding.word_embeddings.weight", "decoder.layers.0.input_layernorm.weight",
        "decoder.layers.0.self_attention.linear_qkv.weight", "decoder.layers.0.self_attention.linear_qkv.bias",
        "decoder.layers.0.self_attention.linear_proj.weight", "decoder.layers.0.pre_mlp_layernorm.weight",
        "decoder.layers.0.mlp.linear_fc1.weight", "decoder.layers.1.mlp.linear_fc2.weight",
        "decoder.final_layernorm.weight", "output_layer.weight"}) {
    EXPECT_TRUE(names.count(expected)) << expected;
  }
  EXPECT_FALSE(names.count("decoder.layers.0.self_attention.linear_proj.bias"));
  const auto& qkv = model.parameters()[2];
  ASSERT_EQ(qkv.name, "decoder.layers.0.self_attention.linear_qkv.weight");
  EXPECT_EQ(qkv.shape, (std::vector<std::int64_t>{(4 + 2 * 2) * 4, 16}));
  EXPECT_EQ(model.parameters()[0].shape, (std::vector<std::int64_t>{40, 16}));  // padded vocabulary rows
}

TEST(ParameterLayout, RejectsInvalidConfigNamingTheKey) {
  ModelConfig c = tiny_config();
  c.num_query_groups = 3;
  try {
    model::GPTModel model(c, 1);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("num_query_groups"), std::string::npos) << e.what();
  }
  c = tiny_config();
  c.num_experts = 8;
  EXPECT_THROW(model::GPTModel(c, 1), std::invalid_argument);
  EXPECT_THROW(model::GPTModel::count_parameters(c), std::invalid_argument);
}

}  // namespace
}  // namespace primus::testing
