// RoPE frequency tables: Megatron's base^(-2i/d), rotary_percent, Llama 3.x scaling
// regions (HF _compute_llama3_parameters) and sequence interpolation.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "primus/model/rotary_embedding.hpp"

namespace primus::testing {
namespace {

config::ModelConfig llama31_rope() {
  config::ModelConfig c;
  c.kv_channels = 128;
  c.rotary_base = 500000.0;
  c.use_rope_scaling = true;
  c.rope_scaling_factor = 8.0;
  return c;
}

TEST(RotaryEmbedding, InverseFrequencies) {
  config::ModelConfig c;
  c.kv_channels = 8;
  c.rotary_base = 10000.0;
  std::vector<double> f = model::rope_inverse_frequencies(c);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_DOUBLE_EQ(f[0], 1.0);
  EXPECT_NEAR(f[1], 0.1, 1e-12);  // 10000^(-2/8)
  EXPECT_NEAR(f[3], 0.001, 1e-12);
  c.rotary_percent = 0.5;
  EXPECT_EQ(model::rope_inverse_frequencies(c).size(), 2u);
}

TEST(RotaryEmbedding, Llama3ScalingRegions) {
  config::ModelConfig plain = llama31_rope();
  plain.use_rope_scaling = false;
  std::vector<double> original = model::rope_inverse_frequencies(plain);
  std::vector<double> scaled = model::rope_inverse_frequencies(llama31_rope());
  ASSERT_EQ(scaled.size(), 64u);
  int kept = 0, divided = 0, blended = 0;
  for (std::size_t i = 0; i < scaled.size(); ++i) {
    const double wavelength = 2.0 * std::numbers::pi / original[i];
    if (wavelength < 8192.0 / 4.0) {  // high frequency: unchanged
      EXPECT_DOUBLE_EQ(scaled[i], original[i]);
      ++kept;
    } else if (wavelength > 8192.0) {  // low frequency: divided by the factor
      EXPECT_DOUBLE_EQ(scaled[i], original[i] / 8.0);
      ++divided;
    } else {  // between: strictly between the two
      EXPECT_LT(scaled[i], original[i]);
      EXPECT_GT(scaled[i], original[i] / 8.0);
      ++blended;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(blended, 0);
}

TEST(RotaryEmbedding, TablesUseInterpolatedPositions) {
  config::ModelConfig c;
  c.kv_channels = 4;
  c.rotary_seq_len_interpolation_factor = 4.0;
  model::RotaryTables t = model::make_rotary_tables(c, 3);
  ASSERT_EQ(t.cos.size(), 6u);
  EXPECT_NEAR(t.cos[2 * 2 + 0], std::cos(2.0 / 4.0), 1e-7);  // position 2, frequency 1
  EXPECT_NEAR(t.sin[2 * 2 + 1], std::sin(0.5 * 0.01), 1e-7);  // frequency 10000^(-1/2)
}

}  // namespace
}  // namespace primus::testing
