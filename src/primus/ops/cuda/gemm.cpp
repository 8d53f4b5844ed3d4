// GemmRunner: cuBLASLt plans cached per GemmKey; the row-major linear-layer GEMMs
// are expressed as column-major cuBLASLt products (row-major X[r,c] is column-major Xᵀ).
#include "primus/ops/cuda/gemm.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "primus/ops/cuda/cuda_check.hpp"

namespace primus::ops::cuda {

namespace {

int pointer_alignment(const void* pointer) {
  const auto address = reinterpret_cast<std::uintptr_t>(pointer);
  int alignment = 256;
  while (alignment > 1 && address % alignment != 0) alignment /= 2;
  return alignment;
}

std::string describe(const GemmKey& key) {
  return "m=" + std::to_string(key.m) + " n=" + std::to_string(key.n) + " k=" + std::to_string(key.k) +
         " transa=" + std::to_string(key.transpose_a) + " transb=" + std::to_string(key.transpose_b) +
         " epilogue=" + std::to_string(static_cast<int>(key.epilogue)) +
         " beta_nonzero=" + std::to_string(key.beta_nonzero);
}

void check_dims(int64_t rows, int64_t in_features, int64_t out_features, const char* what) {
  if (rows <= 0 || in_features <= 0 || out_features <= 0)
    throw std::invalid_argument(std::string(what) + ": rows, in_features and out_features must be positive, got " +
                                std::to_string(rows) + ", " + std::to_string(in_features) + ", " +
                                std::to_string(out_features));
}

// outputᵀ[out,rows] = W[out,in] · inputᵀ[in,rows] (+ C); W's storage is Wᵀ column-major, hence transa.
// c is D itself for plain forward, the residual for the residual forward (same layout, own alignment).
GemmKey linear_forward_key(const void* input, const void* weight, const void* bias, const void* c, const void* d,
                           int64_t rows, int64_t in_features, int64_t out_features) {
  GemmKey key;
  key.m = out_features, key.n = rows, key.k = in_features;
  key.transpose_a = true, key.transpose_b = false;
  key.lda = in_features, key.ldb = in_features, key.ldc = out_features;
  key.epilogue = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
  key.alignment_a = pointer_alignment(weight), key.alignment_b = pointer_alignment(input);
  key.alignment_c = pointer_alignment(c), key.alignment_d = pointer_alignment(d);
  return key;
}

}  // namespace

struct GemmRunner::Plan {
  cublasLtMatmulDesc_t operation = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};

  ~Plan() {
    // Destroy calls only fail on invalid handles; nothing useful to do about it in a destructor.
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (operation) cublasLtMatmulDescDestroy(operation);
  }
};

GemmRunner::GemmRunner(cudaStream_t stream, std::size_t workspace_bytes)
    : stream_(stream), workspace_bytes_(workspace_bytes) {
  PRIMUS_CUBLAS_CHECK(cublasLtCreate(&handle_));
  try {
    PRIMUS_CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
  } catch (...) {
    cublasLtDestroy(handle_);
    throw;
  }
}

GemmRunner::~GemmRunner() {
  plans_.clear();
  if (ones_) cudaFree(ones_);
  if (workspace_) cudaFree(workspace_);
  if (handle_) cublasLtDestroy(handle_);
}

GemmRunner::Plan& GemmRunner::plan_for(const GemmKey& requested) {
  GemmKey key = requested;
  key.sm_count_target = sm_count_target_;
  key.algorithm_index = algorithm_index_;
  if (auto found = plans_.find(key); found != plans_.end()) return *found->second;

  auto plan = std::make_unique<Plan>();
  PRIMUS_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan->operation, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t op_a = key.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = key.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  PRIMUS_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(plan->operation, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)));
  PRIMUS_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(plan->operation, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)));
  PRIMUS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->operation, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                                     &key.epilogue, sizeof(key.epilogue)));
  if (key.sm_count_target > 0) {
    const int32_t sms = key.sm_count_target;
    PRIMUS_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan->operation, CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, &sms,
                                                       sizeof(sms)));
  }

  // Stored shapes (column-major): op(A) is m×k, op(B) is k×n, C and D are m×n.
  PRIMUS_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->a, key.a_type, key.transpose_a ? key.k : key.m,
                                                 key.transpose_a ? key.m : key.k, key.lda));
  PRIMUS_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->b, key.b_type, key.transpose_b ? key.n : key.k,
                                                 key.transpose_b ? key.k : key.n, key.ldb));
  PRIMUS_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan->c, key.c_type, key.m, key.n, key.ldc));

  cublasLtMatmulPreference_t preference = nullptr;
  PRIMUS_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<std::size_t>(key.algorithm_index) + 1);
  int returned = 0;
  try {
    const uint64_t workspace_limit = workspace_bytes_;
    PRIMUS_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_limit, sizeof(workspace_limit)));
    const uint32_t alignments[4] = {static_cast<uint32_t>(key.alignment_a), static_cast<uint32_t>(key.alignment_b),
                                    static_cast<uint32_t>(key.alignment_c), static_cast<uint32_t>(key.alignment_d)};
    const cublasLtMatmulPreferenceAttributes_t alignment_attributes[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4; ++i)
      PRIMUS_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference, alignment_attributes[i], &alignments[i],
                                                               sizeof(alignments[i])));
    PRIMUS_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle_, plan->operation, plan->a, plan->b, plan->c,
                                                       plan->c, preference, static_cast<int>(results.size()),
                                                       results.data(), &returned));
  } catch (...) {
    cublasLtMatmulPreferenceDestroy(preference);
    throw;
  }
  cublasLtMatmulPreferenceDestroy(preference);
  if (returned == 0)
    throw std::runtime_error("cuBLASLt heuristic found no algorithm for GEMM " + describe(key));
  if (returned <= key.algorithm_index)
    throw std::out_of_range("cuBLASLt heuristic proposed " + std::to_string(returned) + " algorithms for GEMM " +
                            describe(key) + ", asked for proposal " + std::to_string(key.algorithm_index));
  plan->algo = results[static_cast<std::size_t>(key.algorithm_index)].algo;
  return *plans_.emplace(key, std::move(plan)).first->second;
}

void GemmRunner::matmul(const GemmKey& key, const void* a, const void* b, const void* c, void* d, float beta,
                        const void* bias) {
  Plan& plan = plan_for(key);  // keyed with the current SM target and proposal index
  last_plan_ = &plan;
  if (key.epilogue == CUBLASLT_EPILOGUE_BIAS)
    PRIMUS_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(plan.operation, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  const float alpha = 1.0f;
  PRIMUS_CUBLAS_CHECK(cublasLtMatmul(handle_, plan.operation, &alpha, a, plan.a, b, plan.b, &beta, c, plan.c, d,
                                     plan.c, &plan.algo, workspace_, workspace_bytes_, stream_));
}

void GemmRunner::linear_forward(const bf16* input, const bf16* weight, const bf16* bias, bf16* output, int64_t rows,
                                int64_t in_features, int64_t out_features) {
  check_dims(rows, in_features, out_features, "linear_forward");
  const GemmKey key = linear_forward_key(input, weight, bias, output, output, rows, in_features, out_features);
  matmul(key, weight, input, output, output, 0.0f, bias);
}

void GemmRunner::linear_forward_residual(const bf16* input, const bf16* weight, const bf16* bias,
                                         const bf16* residual, bf16* output, int64_t rows, int64_t in_features,
                                         int64_t out_features) {
  check_dims(rows, in_features, out_features, "linear_forward_residual");
  if (residual == nullptr) throw std::invalid_argument("linear_forward_residual: residual is null");
  GemmKey key = linear_forward_key(input, weight, bias, residual, output, rows, in_features, out_features);
  key.beta_nonzero = true;  // its own plan, apart from the plain forward's (beta 0, C == D)
  matmul(key, weight, input, residual, output, 1.0f, bias);
}

void GemmRunner::linear_backward_input(const bf16* d_output, const bf16* weight, bf16* d_input, int64_t rows,
                                       int64_t in_features, int64_t out_features) {
  check_dims(rows, in_features, out_features, "linear_backward_input");
  // d_inputᵀ[in,rows] = Wᵀ[in,out] · d_outputᵀ[out,rows]; both are their storage read column-major.
  GemmKey key;
  key.m = in_features, key.n = rows, key.k = out_features;
  key.lda = in_features, key.ldb = out_features, key.ldc = in_features;
  key.alignment_a = pointer_alignment(weight), key.alignment_b = pointer_alignment(d_output);
  key.alignment_c = key.alignment_d = pointer_alignment(d_input);
  matmul(key, weight, d_output, d_input, d_input, 0.0f, nullptr);
}

void GemmRunner::linear_backward_weight(const bf16* d_output, const bf16* input, float* weight_main_grad,
                                        int64_t rows, int64_t in_features, int64_t out_features, bool accumulate) {
  check_dims(rows, in_features, out_features, "linear_backward_weight");
  // main_gradᵀ[in,out] (+)= inputᵀ[in,rows] · d_output[rows,out]; fp32 C/D so accumulation needs no extra pass.
  GemmKey key;
  key.m = in_features, key.n = out_features, key.k = rows;
  key.transpose_a = false, key.transpose_b = true;
  key.lda = in_features, key.ldb = out_features, key.ldc = in_features;
  key.c_type = CUDA_R_32F;
  key.beta_nonzero = accumulate;
  key.alignment_a = pointer_alignment(input), key.alignment_b = pointer_alignment(d_output);
  key.alignment_c = key.alignment_d = pointer_alignment(weight_main_grad);
  matmul(key, input, d_output, weight_main_grad, weight_main_grad, accumulate ? 1.0f : 0.0f, nullptr);
}

void GemmRunner::linear_backward_bias(const bf16* d_output, float* bias_main_grad, int64_t rows,
                                      int64_t out_features, bool accumulate) {
  check_dims(rows, 1, out_features, "linear_backward_bias");
  // bias_main_grad[out,1] (+)= d_outputᵀ[out,rows] · ones[rows,1]: a column sum in fp32 with fused accumulation.
  const bf16* ones_vector = ones(rows);
  GemmKey key;
  key.m = out_features, key.n = 1, key.k = rows;
  key.lda = out_features, key.ldb = rows, key.ldc = out_features;
  key.c_type = CUDA_R_32F;
  key.beta_nonzero = accumulate;
  key.alignment_a = pointer_alignment(d_output), key.alignment_b = pointer_alignment(ones_vector);
  key.alignment_c = key.alignment_d = pointer_alignment(bias_main_grad);
  matmul(key, d_output, ones_vector, bias_main_grad, bias_main_grad, accumulate ? 1.0f : 0.0f, nullptr);
}

std::string GemmRunner::last_algorithm_description() const {
  if (last_plan_ == nullptr) return "none";
  struct Field {
    const char* name;
    cublasLtMatmulAlgoConfigAttributes_t attribute;
  };
  const Field fields[] = {{"algo", CUBLASLT_ALGO_CONFIG_ID},           {"tile", CUBLASLT_ALGO_CONFIG_TILE_ID},
                          {"stages", CUBLASLT_ALGO_CONFIG_STAGES_ID},  {"cluster", CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID},
                          {"splitk", CUBLASLT_ALGO_CONFIG_SPLITK_NUM}, {"swizzle", CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING}};
  std::string text;
  for (const Field& field : fields) {
    // Each attribute has its own width (the call insists on it exactly); all fit 64 bits, little-endian.
    std::size_t width = 0;
    PRIMUS_CUBLAS_CHECK(cublasLtMatmulAlgoConfigGetAttribute(&last_plan_->algo, field.attribute, nullptr, 0, &width));
    uint64_t value = 0;
    std::size_t written = 0;
    if (width > sizeof(value)) throw std::runtime_error("cuBLASLt algorithm attribute wider than 64 bits");
    PRIMUS_CUBLAS_CHECK(
        cublasLtMatmulAlgoConfigGetAttribute(&last_plan_->algo, field.attribute, &value, width, &written));
    if (!text.empty()) text += ' ';
    text += field.name;
    text += '=';
    text += std::to_string(value);
  }
  return text;
}

const bf16* GemmRunner::ones(int64_t count) {
  if (count > ones_count_) {
    // Growth waits for in-flight GEMMs (cudaFree synchronizes) and copies synchronously: it happens once per size.
    if (ones_) PRIMUS_CUDA_CHECK(cudaFree(ones_));
    ones_ = nullptr;
    ones_count_ = 0;
    PRIMUS_CUDA_CHECK(cudaMalloc(&ones_, static_cast<std::size_t>(count) * sizeof(bf16)));
    const std::vector<bf16> host(static_cast<std::size_t>(count), __float2bfloat16(1.0f));
    PRIMUS_CUDA_CHECK(cudaMemcpy(ones_, host.data(), host.size() * sizeof(bf16), cudaMemcpyHostToDevice));
    ones_count_ = count;
  }
  return ones_;
}

}  // namespace primus::ops::cuda
