// Host-side checks for the fused CUDA kernels: PRIMUS_KERNEL_CHECK turns a failing
// CUDA runtime call (or a failed launch) into std::runtime_error with file:line and
// cudaGetErrorString; require_kernel_argument rejects bad shapes and alignments
// with std::invalid_argument naming the op and the value.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace primus::ops::cuda {

inline void check_kernel_call(cudaError_t status, const char* what, const char* file, int line) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what +
                             " failed: " + cudaGetErrorString(status));
}

// Throws std::invalid_argument("<op>: <message>") unless `condition` holds.
inline void require_kernel_argument(bool condition, const char* op, const std::string& message) {
  if (!condition) throw std::invalid_argument(std::string(op) + ": " + message);
}

// True when `pointer` may be read or written with `bytes`-wide vector accesses.
inline bool is_aligned(const void* pointer, std::uintptr_t bytes) {
  return reinterpret_cast<std::uintptr_t>(pointer) % bytes == 0;
}

}  // namespace primus::ops::cuda

#define PRIMUS_KERNEL_CHECK(call) ::primus::ops::cuda::check_kernel_call((call), #call, __FILE__, __LINE__)
// After a <<<>>> launch: reports a bad configuration now (asynchronous faults surface at the next sync).
#define PRIMUS_KERNEL_LAUNCH_CHECK() PRIMUS_KERNEL_CHECK(cudaGetLastError())
