// Mlp: linear_fc1 -> activation (the registry entry chosen by config.swiglu:
// SwiGLU on the fused [gate, up] output, or GELU) -> linear_fc2.
#pragma once

#include <cstdint>

#include "primus/config/train_config.hpp"
#include "primus/model/parameter_ref.hpp"
#include "primus/tensor/activation_allocator.hpp"

namespace primus::model {

struct MlpParameters {
  ParameterRef fc1_weight, fc1_bias, fc2_weight, fc2_bias;
};

struct MlpActivations {
  float* fc1_out = nullptr;         // [rows, fc1_width]
  float* activation_out = nullptr;  // [rows, ffn_hidden_size]
};

// Backward temporaries, shared by all layers.
struct MlpScratch {
  float* d_activation_out = nullptr;
  float* d_fc1_out = nullptr;
};

class Mlp {
 public:
  explicit Mlp(const config::ModelConfig& config);
  MlpActivations allocate(tensor::ActivationAllocator& allocator, std::int64_t rows) const;
  MlpScratch allocate_scratch(tensor::ActivationAllocator& allocator, std::int64_t rows) const;
  void forward(float* out, const MlpActivations& saved, const float* in, const MlpParameters& params,
               std::int64_t rows) const;
  // din: written; parameter gradients accumulated.
  void backward(float* din, const float* dout, const float* in, const MlpParameters& params,
                const MlpActivations& saved, const MlpScratch& scratch, std::int64_t rows) const;

 private:
  bool swiglu_;
  std::int64_t hidden_, ffn_, fc1_width_;
};

}  // namespace primus::model
