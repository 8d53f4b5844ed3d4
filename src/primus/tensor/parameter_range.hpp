// ParameterRange: where one named parameter lives inside a flat buffer. The
// parameter, gradient and optimizer-state buffers share one layout, so a
// data-parallel shard is a range of offsets and AdamW is one loop. Shared by
// model/ (which lays parameters out), optim/ and checkpoint/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace primus::tensor {

struct ParameterRange {
  std::string name;  // Megatron-Core local-spec name, e.g. decoder.layers.0.self_attention.linear_qkv.weight
  std::vector<std::int64_t> shape;
  std::int64_t offset = 0;  // first element in the flat buffer
  std::int64_t numel = 0;
  bool weight_decay = true;  // false for norms and biases
};

}  // namespace primus::tensor
