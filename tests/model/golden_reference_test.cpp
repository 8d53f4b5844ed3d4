// The CPU engine against an independent implementation: tests/golden/llama_small.*
// were written by tools/reference/llama_reference.py (PyTorch, float64) — a Llama
// with GQA, RoPE, RMSNorm, SwiGLU, an untied output layer and a padded vocabulary.
// Loading its weights by Megatron name, our fp32 forward/backward must reproduce
// its loss and every gradient to a relative error below 1e-4.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "primus/checkpoint/safetensors.hpp"
#include "primus/model/gpt_model.hpp"

namespace primus {
namespace {

const std::string kGoldenDir = std::string(PRIMUS_TEST_DATA_DIR) + "/golden/";

config::ModelConfig golden_config(const nlohmann::json& j) {
  config::ModelConfig c;
  c.num_layers = j.at("num_layers");
  c.hidden_size = j.at("hidden_size");
  c.ffn_hidden_size = j.at("ffn_hidden_size");
  c.num_attention_heads = j.at("num_attention_heads");
  c.num_query_groups = j.at("num_query_groups");
  c.kv_channels = j.at("kv_channels");
  c.vocab_size = j.at("vocab_size");
  c.padded_vocab_size = j.at("padded_vocab_size");
  c.seq_length = j.at("seq_length");
  c.max_position_embeddings = j.at("seq_length");
  c.norm_epsilon = j.at("norm_epsilon");
  c.rotary_base = j.at("rotary_base");
  c.init_method_std = j.at("init_method_std");
  // The architecture the reference implements.
  c.normalization = config::Normalization::RMSNorm;
  c.swiglu = true;
  c.add_bias_linear = false;
  c.untie_embeddings_and_output_weights = true;
  c.position_embedding_type = config::PositionEmbeddingType::rope;
  return c;
}

std::vector<std::int32_t> read_int32(const checkpoint::SafetensorsFile& file, const std::string& name) {
  const auto bytes = file.bytes(name);
  EXPECT_EQ(file.tensor(name).dtype, checkpoint::SafetensorsDtype::I32) << name;
  std::vector<std::int32_t> out(bytes.size() / sizeof(std::int32_t));
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

std::vector<float> read_float(const checkpoint::SafetensorsFile& file, const std::string& name,
                              const std::vector<std::int64_t>& shape) {
  std::int64_t numel = 1;
  for (auto d : shape) numel *= d;
  std::vector<float> out(static_cast<std::size_t>(numel));
  file.read_as_float(name, shape, out);
  return out;
}

double relative_error(std::span<const float> got, std::span<const float> want) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = static_cast<double>(got[i]) - want[i];
    diff += d * d;
    norm += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
}

TEST(GoldenReference, LossAndEveryGradientMatchPyTorch) {
  std::ifstream json_file(kGoldenDir + "llama_small.json");
  ASSERT_TRUE(json_file) << "missing " << kGoldenDir << "llama_small.json";
  const auto meta = nlohmann::json::parse(json_file);
  const checkpoint::SafetensorsFile golden(kGoldenDir + "llama_small.safetensors");
  const auto config = golden_config(meta);
  const int micro_batch_size = meta.at("micro_batch_size");

  model::GPTModel model(config, micro_batch_size);
  // Every parameter comes from the reference, by Megatron name and shape; nothing is left over.
  int loaded = 0;
  for (const auto& p : model.parameters()) {
    ASSERT_TRUE(golden.contains(p.name)) << "reference lacks " << p.name;
    golden.read_as_float(p.name, p.shape, model.parameter_data().subspan(p.offset, p.numel));
    ++loaded;
  }
  int reference_parameters = 0;
  for (const auto& t : golden.tensors()) {
    if (t.name.find('.') != std::string::npos && t.name.rfind("grad.", 0) != 0 && t.name.rfind("input.", 0) != 0)
      ++reference_parameters;
  }
  EXPECT_EQ(loaded, reference_parameters);

  model::MicroBatch batch;
  batch.micro_batch_size = micro_batch_size;
  batch.seq_length = config.seq_length;
  batch.tokens = read_int32(golden, "input.tokens");
  batch.labels = read_int32(golden, "input.labels");
  const std::vector<std::int64_t> input_shape{micro_batch_size, config.seq_length};
  batch.loss_mask = read_float(golden, "input.loss_mask", input_shape);
  ASSERT_EQ(batch.tokens.size(), static_cast<std::size_t>(micro_batch_size * config.seq_length));

  model.zero_grad();
  const float loss = model.forward_backward(batch, 1.0f);
  const float reference_loss = read_float(golden, "loss", {1})[0];
  EXPECT_LT(std::abs(loss - reference_loss) / std::abs(reference_loss), 1e-4)
      << "loss " << loss << " vs reference " << reference_loss;

  for (const auto& p : model.parameters()) {
    const auto want = read_float(golden, "grad." + p.name, p.shape);
    const auto got = model.gradient_data().subspan(p.offset, p.numel);
    for (float g : got) ASSERT_TRUE(std::isfinite(g)) << p.name;
    EXPECT_LT(relative_error(got, want), 1e-4) << "gradient of " << p.name;
  }
}

}  // namespace
}  // namespace primus
