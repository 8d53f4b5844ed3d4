// Error checks for CUDA runtime, cuBLAS(Lt) and cuDNN calls: each failing call
// throws std::runtime_error naming the call, file:line and the library's status string.
#pragma once

#include <cublasLt.h>
#include <cublas_api.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <stdexcept>
#include <string>

namespace primus::ops::cuda {

[[noreturn]] inline void throw_cuda_error(const char* what, const char* status, const char* file, int line) {
  throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + " failed: " + status);
}

inline void check_cuda(cudaError_t status, const char* what, const char* file, int line) {
  if (status != cudaSuccess) throw_cuda_error(what, cudaGetErrorString(status), file, line);
}

inline void check_cublas(cublasStatus_t status, const char* what, const char* file, int line) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    const std::string text = std::string(cublasGetStatusName(status)) + " (" + cublasGetStatusString(status) + ")";
    throw_cuda_error(what, text.c_str(), file, line);
  }
}

inline void check_cudnn(cudnnStatus_t status, const char* what, const char* file, int line) {
  if (status != CUDNN_STATUS_SUCCESS) {
    // cuDNN keeps a longer explanation of the last failure on this thread.
    char detail[1024] = {0};
    cudnnGetLastErrorString(detail, sizeof(detail));
    const std::string text = std::string(cudnnGetErrorString(status)) + (detail[0] ? std::string(": ") + detail : "");
    throw_cuda_error(what, text.c_str(), file, line);
  }
}

}  // namespace primus::ops::cuda

#define PRIMUS_CUDA_CHECK(call) ::primus::ops::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define PRIMUS_CUBLAS_CHECK(call) ::primus::ops::cuda::check_cublas((call), #call, __FILE__, __LINE__)
#define PRIMUS_CUDNN_CHECK(call) ::primus::ops::cuda::check_cudnn((call), #call, __FILE__, __LINE__)
