// The error-check macros: a failing status becomes std::runtime_error naming the call,
// file:line and the library's status string. Needs no GPU (status values only).
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "primus/ops/cuda/cuda_check.hpp"

namespace primus::ops::cuda {
namespace {

template <typename Call>
std::string error_message(Call call) {
  try {
    call();
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "";
}

TEST(CudaCheck, CudaFailureNamesCallLocationAndStatus) {
  const std::string message = error_message([] { PRIMUS_CUDA_CHECK(cudaErrorInvalidValue); });
  EXPECT_NE(message.find("cuda_check_test.cpp:"), std::string::npos) << message;
  EXPECT_NE(message.find("cudaErrorInvalidValue"), std::string::npos) << message;
  EXPECT_NE(message.find(cudaGetErrorString(cudaErrorInvalidValue)), std::string::npos) << message;
}

TEST(CudaCheck, CublasFailureNamesStatus) {
  const std::string message = error_message([] { PRIMUS_CUBLAS_CHECK(CUBLAS_STATUS_NOT_SUPPORTED); });
  EXPECT_NE(message.find("CUBLAS_STATUS_NOT_SUPPORTED"), std::string::npos) << message;
  EXPECT_NE(message.find("cuda_check_test.cpp:"), std::string::npos) << message;
}

TEST(CudaCheck, CudnnFailureNamesStatus) {
  const std::string message = error_message([] { PRIMUS_CUDNN_CHECK(CUDNN_STATUS_NOT_SUPPORTED); });
  EXPECT_NE(message.find("CUDNN_STATUS_NOT_SUPPORTED"), std::string::npos) << message;
}

TEST(CudaCheck, SuccessDoesNotThrow) {
  EXPECT_NO_THROW(PRIMUS_CUDA_CHECK(cudaSuccess));
  EXPECT_NO_THROW(PRIMUS_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
  EXPECT_NO_THROW(PRIMUS_CUDNN_CHECK(CUDNN_STATUS_SUCCESS));
}

}  // namespace
}  // namespace primus::ops::cuda
