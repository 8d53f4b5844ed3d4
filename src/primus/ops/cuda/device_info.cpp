// device_sm_count: one cached query for every launch shape that depends on the SM count.
#include "primus/ops/cuda/device_info.hpp"

#include <cuda_runtime.h>

#include "primus/ops/cuda/cuda_check.hpp"

namespace primus::ops::cuda {

int device_sm_count() {
  static const int count = [] {
    int device = 0, sms = 0;
    PRIMUS_CUDA_CHECK(cudaGetDevice(&device));
    PRIMUS_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return sms;
  }();
  return count;
}

}  // namespace primus::ops::cuda
