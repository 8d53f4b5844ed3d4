// Norm: the normalization registry entry chosen by config.normalization
// (RMSNorm | LayerNorm, with apply_layernorm_1p), over rows of `dim` values.
#pragma once

#include <cstdint>

#include "primus/config/train_config.hpp"
#include "primus/model/parameter_ref.hpp"
#include "primus/tensor/activation_allocator.hpp"

namespace primus::model {

struct NormParameters {
  ParameterRef weight;
  ParameterRef bias;  // LayerNorm only
};

// Saved for backward, one value per row.
struct NormActivations {
  float* mean = nullptr;  // LayerNorm only
  float* rstd = nullptr;
};

class Norm {
 public:
  Norm(const config::ModelConfig& config, std::int64_t dim);
  NormActivations allocate(tensor::ActivationAllocator& allocator, std::int64_t rows) const;
  void forward(float* out, const NormActivations& saved, const float* in, const NormParameters& params,
               std::int64_t rows) const;
  // din: written; parameter gradients accumulated.
  void backward(float* din, const float* dout, const float* in, const NormParameters& params,
                const NormActivations& saved, std::int64_t rows) const;
  bool has_bias() const { return normalization_ == config::Normalization::LayerNorm; }

 private:
  config::Normalization normalization_;
  std::int64_t dim_;
  float eps_;
  bool apply_layernorm_1p_;
};

}  // namespace primus::model
