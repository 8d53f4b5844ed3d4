// FlashAttention: causal scaled-dot-product attention with GQA on cuDNN's fused
// flash-attention engines, reached through cuDNN 9 backend operation graphs that
// follow cudnn-frontend's SDPA forward/backward patterns (our own descriptor calls).
// Layout: q, out, d_out, d_q [batch, seq_len, num_q_heads, head_dim];
//         k, v, d_k, d_v     [batch, seq_len, num_kv_heads, head_dim];  all bf16;
//         softmax_lse        [batch, num_q_heads, seq_len] fp32, natural-log log-sum-exp of the scaled scores.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

namespace primus::ops::cuda {

using bf16 = __nv_bfloat16;
class CudnnGraph;

struct AttentionShape {
  int64_t batch = 1;
  int64_t seq_len = 1;
  int64_t num_q_heads = 1;
  int64_t num_kv_heads = 1;  // num_q_heads must be a multiple (GQA); K/V are never repeated in memory
  int64_t head_dim = 128;
  float softmax_scale = 0.0f;  // 0 means 1/sqrt(head_dim)

  auto tie() const { return std::tie(batch, seq_len, num_q_heads, num_kv_heads, head_dim, softmax_scale); }
  bool operator<(const AttentionShape& other) const { return tie() < other.tie(); }
};

class FlashAttention {
 public:
  // One per device and stream. Graphs are built on first use of a shape and cached;
  // the workspace grows only when a newly built plan needs more, never per call. With
  // autotune, a shape's first call also times each engine config the heuristics offer
  // (a few extra runs of that call, writing only its outputs) and keeps the fastest.
  explicit FlashAttention(cudaStream_t stream, bool autotune = true);
  ~FlashAttention();
  FlashAttention(const FlashAttention&) = delete;
  FlashAttention& operator=(const FlashAttention&) = delete;

  void forward(const AttentionShape& shape, const bf16* q, const bf16* k, const bf16* v, bf16* out,
               float* softmax_lse);

  // Gradients of the causal attention above; out and softmax_lse are forward's outputs.
  void backward(const AttentionShape& shape, const bf16* q, const bf16* k, const bf16* v, const bf16* out,
                const bf16* d_out, const float* softmax_lse, bf16* d_q, bf16* d_k, bf16* d_v);

  // "forward: <engine>" / "backward: <engine>" for the plan a shape uses (builds it if needed).
  std::string describe_plans(const AttentionShape& shape);
  // Before a shape's first call, with autotune: also time up to `max_variants` engine configs
  // that change one of the heuristics' knob values (CudnnGraph::set_explore_knobs).
  void set_explore_knobs(int max_variants) { explore_knobs_ = max_variants; }
  std::size_t cached_graph_count() const { return forward_graphs_.size() + backward_graphs_.size(); }

 private:
  struct BackwardGraph;
  CudnnGraph& forward_graph(const AttentionShape& shape);
  BackwardGraph& backward_graph(const AttentionShape& shape);
  void* reserve_workspace(std::size_t bytes);

  cudaStream_t stream_;
  bool autotune_;
  int explore_knobs_ = 0;
  cudnnHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  std::size_t workspace_bytes_ = 0;
  std::map<AttentionShape, std::unique_ptr<CudnnGraph>> forward_graphs_;
  std::map<AttentionShape, std::unique_ptr<BackwardGraph>> backward_graphs_;
};

}  // namespace primus::ops::cuda
