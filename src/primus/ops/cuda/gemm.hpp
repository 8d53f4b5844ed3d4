// GemmRunner: the linear layer's three GEMMs on cuBLASLt (bf16 in, fp32 compute),
// row-major with the weight in PyTorch layout W[out_features, in_features]:
//   forward          output[rows,out] = input[rows,in] · Wᵀ (+ bias, fused epilogue)
//                    (+ residual[rows,out] as cuBLASLt's C with beta 1: the residual add costs no pass)
//   backward input   d_input[rows,in] = d_output[rows,out] · W
//   backward weight  main_grad[out,in] (+)= d_outputᵀ · input, fp32 (gradient accumulation fusion)
//   backward bias    bias_main_grad[out] (+)= d_outputᵀ · ones[rows], fp32 (a GEMV on the same path)
// Descriptors, layouts and the heuristic's algorithm are cached per GEMM key.
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

namespace primus::ops::cuda {

using bf16 = __nv_bfloat16;

// Everything that selects a cuBLASLt plan (column-major terms, as cuBLASLt sees it).
struct GemmKey {
  int64_t m = 0, n = 0, k = 0;
  bool transpose_a = false, transpose_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;
  cudaDataType_t a_type = CUDA_R_16BF, b_type = CUDA_R_16BF, c_type = CUDA_R_16BF;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  bool beta_nonzero = false;
  // Largest power of two (≤ 256) dividing each pointer: the chosen kernel may rely on it.
  // C and D share one layout (ldc) but may be different buffers, hence two alignments.
  int alignment_a = 256, alignment_b = 256, alignment_c = 256, alignment_d = 256;
  // SMs the kernel may plan for (0: all); fewer while another stream keeps some SMs busy.
  int sm_count_target = 0;
  // Which of the heuristic's proposals the plan takes (0: its first, the default).
  int algorithm_index = 0;

  auto tie() const {
    return std::tie(m, n, k, transpose_a, transpose_b, lda, ldb, ldc, a_type, b_type, c_type, epilogue,
                    beta_nonzero, alignment_a, alignment_b, alignment_c, alignment_d, sm_count_target,
                    algorithm_index);
  }
  bool operator<(const GemmKey& other) const { return tie() < other.tie(); }
};

class GemmRunner {
 public:
  // One runner per device and stream; the workspace is allocated once here.
  explicit GemmRunner(cudaStream_t stream, std::size_t workspace_bytes = std::size_t{64} << 20);
  ~GemmRunner();
  GemmRunner(const GemmRunner&) = delete;
  GemmRunner& operator=(const GemmRunner&) = delete;

  // output[rows,out_features] = input[rows,in_features] · weightᵀ (+ bias[out_features] when bias != nullptr).
  void linear_forward(const bf16* input, const bf16* weight, const bf16* bias, bf16* output, int64_t rows,
                      int64_t in_features, int64_t out_features);

  // output[rows,out_features] = input[rows,in_features] · weightᵀ (+ bias) + residual[rows,out_features]:
  // the residual is cuBLASLt's C (beta 1), added in fp32 before the one bf16 rounding of D = output.
  // residual may equal output (in place); any other overlap is undefined.
  void linear_forward_residual(const bf16* input, const bf16* weight, const bf16* bias, const bf16* residual,
                               bf16* output, int64_t rows, int64_t in_features, int64_t out_features);

  // d_input[rows,in_features] = d_output[rows,out_features] · weight.
  void linear_backward_input(const bf16* d_output, const bf16* weight, bf16* d_input, int64_t rows,
                             int64_t in_features, int64_t out_features);

  // weight_main_grad[out,in] = (accumulate ? weight_main_grad : 0) + d_outputᵀ · input, in fp32.
  void linear_backward_weight(const bf16* d_output, const bf16* input, float* weight_main_grad, int64_t rows,
                              int64_t in_features, int64_t out_features, bool accumulate = true);

  // bias_main_grad[out] = (accumulate ? bias_main_grad : 0) + Σ_rows d_output[row, out], in fp32.
  void linear_backward_bias(const bf16* d_output, float* bias_main_grad, int64_t rows, int64_t out_features,
                            bool accumulate = true);

  // GEMMs issued from now on plan for `sms` SMs (0: the whole device). cuBLASLt's Hopper kernels
  // are persistent (one CTA per SM they plan for): while a side stream keeps some SMs busy, a GEMM
  // planned for all of them would wait for those SMs to finish its last CTAs.
  void set_sm_count_target(int sms) { sm_count_target_ = sms; }
  int sm_count_target() const { return sm_count_target_; }

  // GEMMs issued from now on take the heuristic's index-th proposal (0: its first). For
  // measuring the proposals (benchmarks); a GEMM with fewer proposals throws std::out_of_range.
  void set_algorithm_index(int index) { algorithm_index_ = index; }

  // The algorithm of the last GEMM issued: cuBLASLt's tile, stages, cluster shape, split-K and
  // swizzle ids, for benchmark reports.
  std::string last_algorithm_description() const;

  cudaStream_t stream() const { return stream_; }
  std::size_t cached_plan_count() const { return plans_.size(); }

 private:
  struct Plan;
  // D = alpha·op(A)·op(B) + beta·C (+ bias for the BIAS epilogue); C and D share the layout ldc.
  void matmul(const GemmKey& key, const void* a, const void* b, const void* c, void* d, float beta,
              const void* bias);
  Plan& plan_for(const GemmKey& key);
  const bf16* ones(int64_t count);  // device vector of bf16 ones, grown only when a longer one is asked for

  cudaStream_t stream_;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_;
  bf16* ones_ = nullptr;
  int64_t ones_count_ = 0;
  int sm_count_target_ = 0;
  int algorithm_index_ = 0;
  const Plan* last_plan_ = nullptr;
  std::map<GemmKey, std::unique_ptr<Plan>> plans_;
};

}  // namespace primus::ops::cuda
