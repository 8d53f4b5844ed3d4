// ParameterRef: where one parameter tensor's values and gradients live in the
// model's flat buffers (null when the config has no such tensor, e.g. a bias).
#pragma once

namespace primus::model {

struct ParameterRef {
  float* value = nullptr;
  float* grad = nullptr;
  explicit operator bool() const { return value != nullptr; }
};

}  // namespace primus::model
