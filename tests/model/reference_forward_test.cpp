// The model's logits against a naive, double-precision forward written directly
// from the Megatron-Core definitions (pre-norm layers, fused per-group QKV, RoPE
// rotate_half / interleaved, causal GQA, SwiGLU [gate, up] / exact GELU), reading
// the parameters by name. Catches wiring errors that gradient checks cannot see.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "../ops/gradcheck.hpp"
#include "primus/model/gpt_model.hpp"
#include "tiny_model.hpp"

namespace primus::testing {
namespace {

using Matrix = std::vector<std::vector<double>>;  // [rows][columns]

class NaiveGpt {
 public:
  NaiveGpt(const config::ModelConfig& c, model::GPTModel& model) : c_(c) {
    for (const model::ParameterInfo& p : model.parameters()) {
      auto data = model.parameter_data().subspan(p.offset, p.numel);
      tensors_[p.name] = std::vector<double>(data.begin(), data.end());
    }
  }

  Matrix logits(const model::MicroBatch& batch) const {
    const int b = batch.micro_batch_size, s = batch.seq_length, hidden = c_.hidden_size;
    Matrix x(b * s, std::vector<double>(hidden));
    const auto& embedding = at("embedding.word_embeddings.weight");
    for (int r = 0; r < b * s; ++r) {
      for (int i = 0; i < hidden; ++i) {
        x[r][i] = embedding[batch.tokens[r] * hidden + i];
        if (c_.position_embedding_type == config::PositionEmbeddingType::learned_absolute) {
          x[r][i] += at("embedding.position_embeddings.weight")[(r % s) * hidden + i];
        }
      }
    }
    for (int l = 0; l < c_.num_layers; ++l) {
      const std::string prefix = "decoder.layers." + std::to_string(l) + ".";
      Matrix attention = self_attention(norm(x, prefix + "input_layernorm"), prefix + "self_attention.", b, s);
      add(x, attention);
      Matrix mlp = this->mlp(norm(x, prefix + "pre_mlp_layernorm"), prefix + "mlp.");
      add(x, mlp);
    }
    const std::string output =
        c_.untie_embeddings_and_output_weights ? "output_layer.weight" : "embedding.word_embeddings.weight";
    return linear(norm(x, "decoder.final_layernorm"), output, "");
  }

 private:
  const std::vector<double>& at(const std::string& name) const { return tensors_.at(name); }
  bool has(const std::string& name) const { return tensors_.count(name) > 0; }

  static void add(Matrix& x, const Matrix& y) {
    for (std::size_t r = 0; r < x.size(); ++r) {
      for (std::size_t i = 0; i < x[r].size(); ++i) x[r][i] += y[r][i];
    }
  }

  std::vector<double> norm_vector(const std::vector<double>& v, const std::string& prefix) const {
    const double n = static_cast<double>(v.size()), offset = c_.apply_layernorm_1p ? 1.0 : 0.0;
    double mean = 0.0, second = 0.0;
    const bool layernorm = c_.normalization == config::Normalization::LayerNorm;
    if (layernorm) {
      for (double e : v) mean += e / n;
    }
    for (double e : v) second += (e - mean) * (e - mean) / n;
    std::vector<double> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
      out[i] = (v[i] - mean) / std::sqrt(second + c_.norm_epsilon) * (at(prefix + ".weight")[i] + offset);
      if (layernorm) out[i] += at(prefix + ".bias")[i];
    }
    return out;
  }

  Matrix norm(const Matrix& x, const std::string& prefix) const {
    Matrix out;
    for (const auto& row : x) out.push_back(norm_vector(row, prefix));
    return out;
  }

  // y = x W^T + b, W [out, in] (bias_name "" or absent: none).
  Matrix linear(const Matrix& x, const std::string& weight_name, const std::string& bias_name) const {
    const auto& w = at(weight_name);
    const std::size_t in = x[0].size(), out = w.size() / in;
    Matrix y(x.size(), std::vector<double>(out, 0.0));
    for (std::size_t r = 0; r < x.size(); ++r) {
      for (std::size_t o = 0; o < out; ++o) {
        double sum = has(bias_name) ? at(bias_name)[o] : 0.0;
        for (std::size_t i = 0; i < in; ++i) sum += x[r][i] * w[o * in + i];
        y[r][o] = sum;
      }
    }
    return y;
  }

  void rope(std::vector<double>& head, int position) const {
    if (c_.position_embedding_type != config::PositionEmbeddingType::rope) return;
    const int rotary_dim = static_cast<int>(c_.kv_channels * c_.rotary_percent), half = rotary_dim / 2;
    std::vector<double> original = head;
    for (int i = 0; i < half; ++i) {
      const double angle = position * std::pow(c_.rotary_base, -2.0 * i / rotary_dim);
      const int a = c_.rotary_interleaved ? 2 * i : i, b = c_.rotary_interleaved ? 2 * i + 1 : i + half;
      head[a] = original[a] * std::cos(angle) - original[b] * std::sin(angle);
      head[b] = original[b] * std::cos(angle) + original[a] * std::sin(angle);
    }
  }

  Matrix self_attention(const Matrix& x, const std::string& prefix, int b, int s) const {
    const int heads = c_.num_attention_heads, groups = c_.num_query_groups, d = c_.kv_channels;
    const int per_group = heads / groups;
    Matrix qkv = linear(x, prefix + "linear_qkv.weight", prefix + "linear_qkv.bias");
    // q[r][h], k[r][g], v[r][g]: head vectors cut from Megatron's [group: q.., k, v] row.
    auto slice = [&](int r, int offset) {
      return std::vector<double>(qkv[r].begin() + offset, qkv[r].begin() + offset + d);
    };
    std::vector<std::vector<std::vector<double>>> q(b * s), k(b * s), v(b * s);
    for (int r = 0; r < b * s; ++r) {
      for (int g = 0; g < groups; ++g) {
        const int base = g * (per_group + 2) * d;
        for (int j = 0; j < per_group; ++j) q[r].push_back(slice(r, base + j * d));
        k[r].push_back(slice(r, base + per_group * d));
        v[r].push_back(slice(r, base + (per_group + 1) * d));
      }
      for (auto& head : q[r]) {
        if (c_.qk_layernorm) head = norm_vector(head, prefix + "q_layernorm");
        rope(head, r % s);
      }
      for (auto& head : k[r]) {
        if (c_.qk_layernorm) head = norm_vector(head, prefix + "k_layernorm");
        rope(head, r % s);
      }
    }
    Matrix context(b * s, std::vector<double>(heads * d, 0.0));
    for (int sample = 0; sample < b; ++sample) {
      for (int h = 0; h < heads; ++h) {
        const int g = h / per_group;
        for (int i = 0; i < s; ++i) {
          const int qi = sample * s + i;
          std::vector<double> weights;
          double total = 0.0;
          for (int j = 0; j <= i; ++j) {
            double dot = 0.0;
            for (int e = 0; e < d; ++e) dot += q[qi][h][e] * k[sample * s + j][g][e];
            weights.push_back(std::exp(dot / std::sqrt(static_cast<double>(d))));
            total += weights.back();
          }
          for (int j = 0; j <= i; ++j) {
            for (int e = 0; e < d; ++e) context[qi][h * d + e] += weights[j] / total * v[sample * s + j][g][e];
          }
        }
      }
    }
    return linear(context, prefix + "linear_proj.weight", prefix + "linear_proj.bias");
  }

  Matrix mlp(const Matrix& x, const std::string& prefix) const {
    Matrix fc1 = linear(x, prefix + "linear_fc1.weight", prefix + "linear_fc1.bias");
    const int ffn = c_.ffn_hidden_size;
    Matrix activated(x.size(), std::vector<double>(ffn));
    for (std::size_t r = 0; r < x.size(); ++r) {
      for (int i = 0; i < ffn; ++i) {
        if (c_.swiglu) {
          const double gate = fc1[r][i], up = fc1[r][ffn + i];
          activated[r][i] = gate / (1.0 + std::exp(-gate)) * up;
        } else {
          activated[r][i] = 0.5 * fc1[r][i] * (1.0 + std::erf(fc1[r][i] / std::sqrt(2.0)));
        }
      }
    }
    return linear(activated, prefix + "linear_fc2.weight", prefix + "linear_fc2.bias");
  }

  config::ModelConfig c_;
  std::map<std::string, std::vector<double>> tensors_;
};

struct Variant {
  std::string name;
  config::ModelConfig config;
};
void PrintTo(const Variant& variant, std::ostream* os) { *os << variant.name; }

std::vector<Variant> variants() {
  config::ModelConfig base = tiny_config();
  base.init_method_std = 0.3;
  std::vector<Variant> v{{"llama_gqa", base}};
  config::ModelConfig c = base;
  c.qk_layernorm = true;
  c.add_qkv_bias = true;
  c.add_bias_linear = true;
  c.untie_embeddings_and_output_weights = false;
  c.rotary_interleaved = true;
  v.push_back({"qk_layernorm_biases_tied_interleaved", c});
  c = base;
  c.normalization = config::Normalization::LayerNorm;
  c.apply_layernorm_1p = true;
  c.swiglu = false;
  c.add_bias_linear = true;
  c.position_embedding_type = config::PositionEmbeddingType::learned_absolute;
  c.num_query_groups = 4;
  v.push_back({"gpt_layernorm_gelu_learned", c});
  c = base;
  c.kv_channels = 8;
  c.rotary_percent = 0.5;
  c.num_query_groups = 1;
  v.push_back({"partial_rotary_multi_query", c});
  return v;
}

class ReferenceForward : public ::testing::TestWithParam<Variant> {};

TEST_P(ReferenceForward, LogitsMatchNaiveDoubleForward) {
  const config::ModelConfig& c = GetParam().config;
  model::GPTModel model(c, kTinyMicroBatchSize);
  model.init_parameters(21);
  std::span<float> params = model.parameter_data();
  std::vector<float> noise = random_vector(params.size(), 5, 0.2f);
  for (std::size_t i = 0; i < params.size(); ++i) params[i] += noise[i];
  const model::MicroBatch batch = random_micro_batch(c, kTinyMicroBatchSize, 8);
  std::vector<float> logits(batch.tokens.size() * c.padded_vocab_size);
  model.forward_logits(batch, logits);
  Matrix expected = NaiveGpt(c, model).logits(batch);
  double max_error = 0.0, scale = 0.0;
  for (std::size_t r = 0; r < expected.size(); ++r) {
    for (int i = 0; i < c.padded_vocab_size; ++i) {
      max_error = std::max(max_error, std::abs(expected[r][i] - logits[r * c.padded_vocab_size + i]));
      scale = std::max(scale, std::abs(expected[r][i]));
    }
  }
  EXPECT_GT(scale, 0.1);
  EXPECT_LT(max_error, 1e-4 * scale) << "largest logit " << scale;
}

INSTANTIATE_TEST_SUITE_P(Variants, ReferenceForward, ::testing::ValuesIn(variants()),
                         [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

}  // namespace
}  // namespace primus::testing
