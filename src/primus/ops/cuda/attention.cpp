// FlashAttention: the SDPA forward and backward operation graphs (matmul, pointwise,
// reduction and reshape nodes with virtual intermediates) that cuDNN's fused
// flash-attention engines recognise, built once per shape and executed from a cache.
#include "primus/ops/cuda/attention.hpp"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <vector>

#include "primus/ops/cuda/cuda_check.hpp"
#include "primus/ops/cuda/cudnn_graph.hpp"

namespace primus::ops::cuda {

namespace {

// Variant-pack uids of the tensors bound to memory.
enum AttentionUid : int64_t {
  kUidQ = 1,
  kUidK,
  kUidV,
  kUidOut,
  kUidSoftmaxLse,
  kUidDOut,
  kUidDQ,
  kUidDK,
  kUidDV,
  kUidSoftmaxSum,  // backward scratch: rowsum(d_out ∘ out), fp32 [b, h_q, s, 1]
  kUidDQAccum,     // backward scratch: fp32 dQ accumulator [b, h_q, s, d]
};

using Dims = std::vector<int64_t>;

// Strides and dims in cuDNN's (batch, head, seq, dim) order for our [batch, seq, head, dim] memory.
struct Layout {
  int64_t b, h_q, h_kv, s, d;
  Dims q_dims() const { return {b, h_q, s, d}; }
  Dims q_strides() const { return {s * h_q * d, d, h_q * d, 1}; }
  Dims kv_dims() const { return {b, h_kv, s, d}; }
  Dims kv_strides() const { return {s * h_kv * d, d, h_kv * d, 1}; }
  Dims kv_transposed_dims() const { return {b, h_kv, d, s}; }
  Dims kv_transposed_strides() const { return {s * h_kv * d, d, 1, h_kv * d}; }
  Dims scores_dims() const { return {b, h_q, s, s}; }
  Dims scores_strides() const { return {h_q * s * s, s * s, s, 1}; }
  Dims scores_transposed_strides() const { return {h_q * s * s, s * s, 1, s}; }
  Dims row_dims() const { return {b, h_q, s, 1}; }
  Dims row_strides() const { return {h_q * s, s, 1, 1}; }
  Dims full_head_strides() const { return {h_q * s * d, s * d, d, 1}; }
};

Layout layout_of(const AttentionShape& shape) {
  if (shape.batch <= 0 || shape.seq_len <= 0 || shape.num_q_heads <= 0 || shape.num_kv_heads <= 0 ||
      shape.head_dim <= 0)
    throw std::invalid_argument("attention: batch, seq_len, num_q_heads, num_kv_heads and head_dim must be positive");
  if (shape.num_q_heads % shape.num_kv_heads != 0)
    throw std::invalid_argument("attention: num_q_heads (" + std::to_string(shape.num_q_heads) +
                                ") must be a multiple of num_kv_heads (" + std::to_string(shape.num_kv_heads) + ")");
  return {shape.batch, shape.num_q_heads, shape.num_kv_heads, shape.seq_len, shape.head_dim};
}

// Every tensor descriptor promises 16-byte alignment to the engine.
void check_aligned(std::initializer_list<const void*> pointers, const char* what) {
  for (const void* pointer : pointers)
    if (reinterpret_cast<std::uintptr_t>(pointer) % 16 != 0)
      throw std::invalid_argument(std::string("attention ") + what +
                                  ": every tensor must start on a 16-byte boundary (cuDNN descriptors promise it)");
}

float scale_of(const AttentionShape& shape) {
  return shape.softmax_scale != 0.0f ? shape.softmax_scale : 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
}

std::string shape_name(const char* what, const AttentionShape& shape) {
  return std::string(what) + " b" + std::to_string(shape.batch) + " s" + std::to_string(shape.seq_len) + " hq" +
         std::to_string(shape.num_q_heads) + " hkv" + std::to_string(shape.num_kv_heads) + " d" +
         std::to_string(shape.head_dim);
}

// Causal mask on top-left-aligned scores: keep row ≥ column, else -inf.
GraphTensor causal_mask(CudnnGraph& graph, const Layout& layout, GraphTensor scores) {
  const GraphTensor row = graph.virtual_tensor(CUDNN_DATA_INT32, layout.scores_dims(), layout.scores_strides());
  const GraphTensor column = graph.virtual_tensor(CUDNN_DATA_INT32, layout.scores_dims(), layout.scores_strides());
  graph.pointwise(CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_FLOAT, scores, row, std::nullopt, std::nullopt, 2);
  graph.pointwise(CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_FLOAT, scores, column, std::nullopt, std::nullopt, 3);
  const GraphTensor keep = graph.virtual_tensor(CUDNN_DATA_BOOLEAN, layout.scores_dims(), layout.scores_strides());
  graph.pointwise(CUDNN_POINTWISE_CMP_GE, CUDNN_DATA_BOOLEAN, row, keep, column);
  const GraphTensor masked = graph.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
  const GraphTensor negative_infinity = graph.scalar(-std::numeric_limits<float>::infinity());
  graph.pointwise(CUDNN_POINTWISE_BINARY_SELECT, CUDNN_DATA_FLOAT, scores, masked, negative_infinity, keep);
  return masked;
}

// Scaled causal scores S = mask(scale · Q·Kᵀ), fp32 virtual [b, h_q, s, s]; GQA broadcasts K's heads.
GraphTensor causal_scores(CudnnGraph& graph, const Layout& layout, GraphTensor q, GraphTensor k_transposed,
                          GraphTensor scale, bool subtract_lse_first, std::optional<GraphTensor> lse) {
  const GraphTensor raw = graph.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
  graph.matmul(q, k_transposed, raw);
  GraphTensor scaled = graph.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
  graph.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, raw, scaled, scale);
  if (subtract_lse_first) {
    // Backward recomputes P = exp(S - lse); the frontend subtracts before masking.
    const GraphTensor shifted = graph.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
    graph.pointwise(CUDNN_POINTWISE_SUB, CUDNN_DATA_FLOAT, scaled, shifted, *lse);
    scaled = shifted;
  }
  return causal_mask(graph, layout, scaled);
}

// Sum of a full-head gradient over each group of h_q/h_kv heads (GQA), or direct when MHA.
void head_group_output(CudnnGraph& graph, const Layout& layout, GraphTensor a, GraphTensor b, GraphTensor out) {
  if (layout.h_q == layout.h_kv) {
    graph.matmul(a, b, out);
    return;
  }
  const GraphTensor full_head =
      graph.virtual_tensor(CUDNN_DATA_BFLOAT16, {layout.b, layout.h_q, layout.s, layout.d}, layout.full_head_strides());
  graph.matmul(a, b, full_head);
  graph.reduction(CUDNN_REDUCE_TENSOR_ADD, full_head, out);
}

std::unique_ptr<CudnnGraph> build_forward_graph(cudnnHandle_t handle, const AttentionShape& shape, int explore_knobs) {
  const Layout layout = layout_of(shape);
  auto graph = std::make_unique<CudnnGraph>(shape_name("sdpa forward", shape));
  CudnnGraph& g = *graph;
  const GraphTensor q = g.tensor(kUidQ, CUDNN_DATA_BFLOAT16, layout.q_dims(), layout.q_strides());
  const GraphTensor k_t = g.tensor(kUidK, CUDNN_DATA_BFLOAT16, layout.kv_transposed_dims(),
                                   layout.kv_transposed_strides());
  const GraphTensor v = g.tensor(kUidV, CUDNN_DATA_BFLOAT16, layout.kv_dims(), layout.kv_strides());
  const GraphTensor out = g.tensor(kUidOut, CUDNN_DATA_BFLOAT16, layout.q_dims(), layout.q_strides());
  const GraphTensor lse = g.tensor(kUidSoftmaxLse, CUDNN_DATA_FLOAT, layout.row_dims(), layout.row_strides());
  const GraphTensor scale = g.scalar(scale_of(shape));

  const GraphTensor scores = causal_scores(g, layout, q, k_t, scale, false, std::nullopt);

  // Softmax with its statistics: lse = max + log(Σ exp(S - max)).
  const GraphTensor row_max = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.row_dims(), layout.row_strides());
  g.reduction(CUDNN_REDUCE_TENSOR_MAX, scores, row_max);
  const GraphTensor centered = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
  g.pointwise(CUDNN_POINTWISE_SUB, CUDNN_DATA_FLOAT, scores, centered, row_max);
  const GraphTensor exponent = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
  g.pointwise(CUDNN_POINTWISE_EXP, CUDNN_DATA_FLOAT, centered, exponent);
  const GraphTensor row_sum = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.row_dims(), layout.row_strides());
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, exponent, row_sum);
  const GraphTensor log_sum = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.row_dims(), layout.row_strides());
  g.pointwise(CUDNN_POINTWISE_LOG, CUDNN_DATA_FLOAT, row_sum, log_sum);
  g.pointwise(CUDNN_POINTWISE_ADD, CUDNN_DATA_FLOAT, row_max, lse, log_sum);
  // P enters the second matmul in the I/O type, as the engine requires.
  const GraphTensor probabilities =
      g.virtual_tensor(CUDNN_DATA_BFLOAT16, layout.scores_dims(), layout.scores_strides());
  g.pointwise(CUDNN_POINTWISE_DIV, CUDNN_DATA_FLOAT, exponent, probabilities, row_sum);

  g.matmul(probabilities, v, out);
  g.set_explore_knobs(explore_knobs);
  g.build(handle);
  return graph;
}

}  // namespace

struct FlashAttention::BackwardGraph {
  std::unique_ptr<CudnnGraph> graph;
  std::size_t softmax_sum_offset = 0;  // scratch inside the workspace, after the plan's own
  std::size_t dq_accum_offset = 0;
  std::size_t total_workspace = 0;
};

namespace {

std::size_t align_up(std::size_t bytes) { return (bytes + 255) / 256 * 256; }

std::unique_ptr<CudnnGraph> build_backward_graph(cudnnHandle_t handle, const AttentionShape& shape, int explore_knobs) {
  const Layout layout = layout_of(shape);
  auto graph = std::make_unique<CudnnGraph>(shape_name("sdpa backward", shape));
  CudnnGraph& g = *graph;
  const GraphTensor q = g.tensor(kUidQ, CUDNN_DATA_BFLOAT16, layout.q_dims(), layout.q_strides());
  const GraphTensor k_t = g.tensor(kUidK, CUDNN_DATA_BFLOAT16, layout.kv_transposed_dims(),
                                   layout.kv_transposed_strides());
  const GraphTensor v_t = g.tensor(kUidV, CUDNN_DATA_BFLOAT16, layout.kv_transposed_dims(),
                                   layout.kv_transposed_strides());
  const GraphTensor out = g.tensor(kUidOut, CUDNN_DATA_BFLOAT16, layout.q_dims(), layout.q_strides());
  const GraphTensor d_out = g.tensor(kUidDOut, CUDNN_DATA_BFLOAT16, layout.q_dims(), layout.q_strides());
  const GraphTensor lse = g.tensor(kUidSoftmaxLse, CUDNN_DATA_FLOAT, layout.row_dims(), layout.row_strides());
  const GraphTensor d_q = g.tensor(kUidDQ, CUDNN_DATA_BFLOAT16, layout.q_dims(), layout.q_strides());
  const GraphTensor d_k = g.tensor(kUidDK, CUDNN_DATA_BFLOAT16, layout.kv_dims(), layout.kv_strides());
  const GraphTensor d_v = g.tensor(kUidDV, CUDNN_DATA_BFLOAT16, layout.kv_dims(), layout.kv_strides());
  const GraphTensor softmax_sum =
      g.tensor(kUidSoftmaxSum, CUDNN_DATA_FLOAT, layout.row_dims(), layout.row_strides());
  const GraphTensor dq_accum =
      g.tensor(kUidDQAccum, CUDNN_DATA_FLOAT, {layout.b, layout.h_q, layout.s, layout.d}, layout.full_head_strides());
  const GraphTensor scale = g.scalar(scale_of(shape));
  const GraphTensor one = g.scalar(1.0f);

  // softmax_sum = Σ_d d_out ∘ out (the softmax backward's row term).
  const GraphTensor product =
      g.virtual_tensor(CUDNN_DATA_FLOAT, layout.q_dims(), {layout.h_q * layout.s * layout.d, layout.s * layout.d,
                                                           layout.h_q * layout.d, 1});
  g.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, d_out, product, out);
  const GraphTensor row_dot = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.row_dims(), layout.row_strides());
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, product, row_dot);
  g.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, row_dot, softmax_sum, one);

  // P = exp(mask(scale·Q·Kᵀ - lse)), recomputed.
  const GraphTensor masked = causal_scores(g, layout, q, k_t, scale, true, lse);
  const GraphTensor probabilities = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
  g.pointwise(CUDNN_POINTWISE_EXP, CUDNN_DATA_FLOAT, masked, probabilities);

  // dV = Pᵀ · dO (summed over each head group).
  const GraphTensor probabilities_t =
      g.virtual_tensor(CUDNN_DATA_BFLOAT16, layout.scores_dims(), layout.scores_transposed_strides());
  g.reshape(probabilities, probabilities_t);
  head_group_output(g, layout, probabilities_t, d_out, d_v);

  // dS = P ∘ (dO·Vᵀ - softmax_sum) · scale.
  const GraphTensor d_p = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
  g.matmul(d_out, v_t, d_p);
  const GraphTensor d_p_centered = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
  g.pointwise(CUDNN_POINTWISE_SUB, CUDNN_DATA_FLOAT, d_p, d_p_centered, softmax_sum);
  const GraphTensor d_s_unscaled = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
  g.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, d_p_centered, d_s_unscaled, probabilities);
  const GraphTensor d_s = g.virtual_tensor(CUDNN_DATA_FLOAT, layout.scores_dims(), layout.scores_strides());
  g.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, d_s_unscaled, d_s, scale);

  // dK = dSᵀ · Q (summed over each head group).
  const GraphTensor d_s_t =
      g.virtual_tensor(CUDNN_DATA_BFLOAT16, layout.scores_dims(), layout.scores_transposed_strides());
  g.reshape(d_s, d_s_t);
  head_group_output(g, layout, d_s_t, q, d_k);

  // dQ = dS · K, accumulated in fp32 scratch and converted to bf16.
  const GraphTensor k = g.virtual_tensor(CUDNN_DATA_BFLOAT16, layout.kv_dims(), layout.kv_strides());
  g.reshape(k_t, k);
  g.matmul(d_s, k, dq_accum);
  g.pointwise(CUDNN_POINTWISE_IDENTITY, CUDNN_DATA_FLOAT, dq_accum, d_q);

  g.set_explore_knobs(explore_knobs);
  g.build(handle);
  return graph;
}

}  // namespace

FlashAttention::FlashAttention(cudaStream_t stream, bool autotune) : stream_(stream), autotune_(autotune) {
  PRIMUS_CUDNN_CHECK(cudnnCreate(&handle_));
  try {
    PRIMUS_CUDNN_CHECK(cudnnSetStream(handle_, stream_));
  } catch (...) {
    cudnnDestroy(handle_);
    throw;
  }
}

FlashAttention::~FlashAttention() {
  forward_graphs_.clear();
  backward_graphs_.clear();
  if (workspace_) cudaFree(workspace_);
  if (handle_) cudnnDestroy(handle_);
}

void* FlashAttention::reserve_workspace(std::size_t bytes) {
  if (bytes > workspace_bytes_) {
    // Only when a newly built plan needs more; cudaFree waits for work still using the old buffer.
    if (workspace_) PRIMUS_CUDA_CHECK(cudaFree(workspace_));
    workspace_ = nullptr;
    workspace_bytes_ = 0;
    PRIMUS_CUDA_CHECK(cudaMalloc(&workspace_, bytes));
    workspace_bytes_ = bytes;
  }
  return workspace_;
}

CudnnGraph& FlashAttention::forward_graph(const AttentionShape& shape) {
  auto found = forward_graphs_.find(shape);
  if (found == forward_graphs_.end()) {
    auto graph = build_forward_graph(handle_, shape, explore_knobs_);
    reserve_workspace(static_cast<std::size_t>(graph->workspace_bytes()));
    found = forward_graphs_.emplace(shape, std::move(graph)).first;
  }
  return *found->second;
}

FlashAttention::BackwardGraph& FlashAttention::backward_graph(const AttentionShape& shape) {
  auto found = backward_graphs_.find(shape);
  if (found == backward_graphs_.end()) {
    auto entry = std::make_unique<BackwardGraph>();
    entry->graph = build_backward_graph(handle_, shape, explore_knobs_);
    const Layout layout = layout_of(shape);
    const auto rows = static_cast<std::size_t>(layout.b * layout.h_q * layout.s);
    entry->softmax_sum_offset = align_up(static_cast<std::size_t>(entry->graph->workspace_bytes()));
    entry->dq_accum_offset = entry->softmax_sum_offset + align_up(rows * sizeof(float));
    entry->total_workspace = entry->dq_accum_offset + rows * static_cast<std::size_t>(layout.d) * sizeof(float);
    reserve_workspace(entry->total_workspace);
    found = backward_graphs_.emplace(shape, std::move(entry)).first;
  }
  return *found->second;
}

void FlashAttention::forward(const AttentionShape& shape, const bf16* q, const bf16* k, const bf16* v, bf16* out,
                             float* softmax_lse) {
  layout_of(shape);  // validates before anything is built
  check_aligned({q, k, v, out, softmax_lse}, "forward");
  CudnnGraph& graph = forward_graph(shape);
  const std::vector<std::pair<int64_t, void*>> bindings = {{kUidQ, const_cast<bf16*>(q)},
                                                           {kUidK, const_cast<bf16*>(k)},
                                                           {kUidV, const_cast<bf16*>(v)},
                                                           {kUidOut, out},
                                                           {kUidSoftmaxLse, softmax_lse}};
  if (autotune_ && !graph.autotuned()) graph.autotune(handle_, bindings, workspace_, stream_);
  graph.execute(handle_, bindings, workspace_);
}

void FlashAttention::backward(const AttentionShape& shape, const bf16* q, const bf16* k, const bf16* v,
                              const bf16* out, const bf16* d_out, const float* softmax_lse, bf16* d_q, bf16* d_k,
                              bf16* d_v) {
  layout_of(shape);
  check_aligned({q, k, v, out, d_out, softmax_lse, d_q, d_k, d_v}, "backward");
  BackwardGraph& entry = backward_graph(shape);
  char* workspace = static_cast<char*>(workspace_);
  const std::vector<std::pair<int64_t, void*>> bindings = {
      {kUidQ, const_cast<bf16*>(q)},
      {kUidK, const_cast<bf16*>(k)},
      {kUidV, const_cast<bf16*>(v)},
      {kUidOut, const_cast<bf16*>(out)},
      {kUidDOut, const_cast<bf16*>(d_out)},
      {kUidSoftmaxLse, const_cast<float*>(softmax_lse)},
      {kUidDQ, d_q},
      {kUidDK, d_k},
      {kUidDV, d_v},
      {kUidSoftmaxSum, workspace + entry.softmax_sum_offset},
      {kUidDQAccum, workspace + entry.dq_accum_offset}};
  if (autotune_ && !entry.graph->autotuned()) entry.graph->autotune(handle_, bindings, workspace_, stream_);
  entry.graph->execute(handle_, bindings, workspace_);
}

std::string FlashAttention::describe_plans(const AttentionShape& shape) {
  return "forward: " + forward_graph(shape).engine_description() +
         "; backward: " + backward_graph(shape).graph->engine_description();
}

}  // namespace primus::ops::cuda
