// Parameter init on the device (model/cuda/device_init) against the host's init_parameters,
// bit for bit: normal tensors of several sizes (odd, several chunks, a partial chunk) and
// scales, norm weights (1, or 0 with apply_layernorm_1p) and zeros. Outputs NaN-poisoned first.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernel_test_support.hpp"
#include "primus/model/cuda/device_init.hpp"
#include "primus/model/parameter_init.hpp"

namespace primus::ops::cuda::test {
namespace {

TEST(DeviceInit, MatchesTheHostInitBitForBit) {
  PRIMUS_SKIP_WITHOUT_CUDA_DEVICE();
  model::ParameterLayout layout;
  auto add = [&](const char* name, std::int64_t numel, model::ParameterInit init) {
    layout.parameters.push_back({name, {numel}, layout.total_numel, numel, true});
    layout.init.push_back(init);
    layout.total_numel += numel;
  };
  add("a.weight", 3 * 65536 + 12345, model::ParameterInit::normal);   // partial last chunk
  add("b.weight", 200001, model::ParameterInit::scaled_normal);      // odd: a lone last sample
  add("c.weight", 1, model::ParameterInit::normal);
  add("norm.weight", 777, model::ParameterInit::norm_weight);
  add("bias", 1000, model::ParameterInit::zero);
  add("d.weight", 65536, model::ParameterInit::normal);
  for (const bool one_p : {false, true}) {
    config::ModelConfig config;
    config.init_method_std = 0.02;
    config.num_layers = 3;
    config.apply_layernorm_1p = one_p;
    std::vector<float> host(static_cast<std::size_t>(layout.total_numel));
    model::init_parameters(layout, config, 1234, host);
    DeviceBuffer<float> device(static_cast<std::size_t>(layout.total_numel));
    device.poison();
    for (const model::ParameterFill& fill : model::parameter_fills(layout, config, 1234)) {
      if (fill.normal)
        model::cuda::fill_normal_on_device(device.get() + fill.offset, fill.count, fill.stddev, fill.tensor_seed, nullptr);
      else
        model::cuda::fill_value_on_device(device.get() + fill.offset, fill.count, fill.value, nullptr);
    }
    const auto got = device.download();
    ASSERT_EQ(got.size(), host.size());
    std::int64_t differ = 0, first = -1;
    for (std::size_t i = 0; i < host.size(); ++i)
      if (std::memcmp(&got[i], &host[i], sizeof(float)) != 0 && differ++ == 0) first = static_cast<std::int64_t>(i);
    EXPECT_EQ(differ, 0) << "first difference at " << first << " (apply_layernorm_1p " << one_p << ")";
  }
}

TEST(DeviceInit, RejectsANegativeCount) {
  EXPECT_THROW(model::cuda::fill_value_on_device(nullptr, -1, 0.0f, nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace primus::ops::cuda::test
