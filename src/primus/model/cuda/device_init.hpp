// Parameter init on the device: the fills of model::parameter_fills (parameter_init.hpp)
// computed by kernels, bit-identical to the host's init_parameters (normal_sampler.hpp's
// operations are correctly rounded on both sides), so the CUDA engine neither generates
// ~3e9 values on the host nor copies them over. (C++17: included by .cu files.)
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace primus::model::cuda {

// out[i] for i in [0, count): the tensor's normal(0, stddev) samples, as the host's fill.
void fill_normal_on_device(float* out, std::int64_t count, double stddev, std::uint64_t tensor_seed,
                           cudaStream_t stream);
// out[i] = value for i in [0, count).
void fill_value_on_device(float* out, std::int64_t count, float value, cudaStream_t stream);

}  // namespace primus::model::cuda
