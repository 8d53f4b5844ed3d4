// CudnnGraph: a small builder over the cuDNN 9 backend API (no cudnn-frontend).
// It owns the tensor and operation descriptors of one operation graph, finalizes the
// graph, keeps an execution plan for every engine config the heuristics offer that
// finalizes (the first is used until autotune() times them all); execute() binds device
// pointers by tensor uid through a variant pack.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace primus::ops::cuda {

// Owns one cudnnBackendDescriptor_t; every failing call throws naming `name`.
class BackendDescriptor {
 public:
  BackendDescriptor(cudnnBackendDescriptorType_t type, std::string name);
  ~BackendDescriptor();
  BackendDescriptor(BackendDescriptor&& other) noexcept;
  BackendDescriptor& operator=(BackendDescriptor&&) = delete;
  BackendDescriptor(const BackendDescriptor&) = delete;
  BackendDescriptor& operator=(const BackendDescriptor&) = delete;

  cudnnBackendDescriptor_t get() const { return descriptor_; }
  const std::string& name() const { return name_; }
  void set(cudnnBackendAttributeName_t attribute, cudnnBackendAttributeType_t type, int64_t count,
           const void* values);
  void set_descriptor(cudnnBackendAttributeName_t attribute, cudnnBackendDescriptor_t value);
  void finalize();

 private:
  cudnnBackendDescriptor_t descriptor_ = nullptr;
  std::string name_;
};

// A tensor of the graph: its uid (the variant-pack key) and descriptor.
struct GraphTensor {
  int64_t uid = 0;
  cudnnBackendDescriptor_t descriptor = nullptr;
};

class CudnnGraph {
 public:
  explicit CudnnGraph(std::string name) : name_(std::move(name)) {}

  // A tensor bound to memory at execute() time under `uid` (uids below kFirstInternalUid).
  GraphTensor tensor(int64_t uid, cudnnDataType_t type, std::vector<int64_t> dims, std::vector<int64_t> strides);
  // An intermediate that never reaches memory.
  GraphTensor virtual_tensor(cudnnDataType_t type, std::vector<int64_t> dims, std::vector<int64_t> strides);
  // A float scalar passed by value, broadcast over rank-`rank` operands.
  GraphTensor scalar(float value, int rank = 4);

  // y = mode(x [, b [, t]]); `compute` is the math precision; axis only for GEN_INDEX.
  void pointwise(cudnnPointwiseMode_t mode, cudnnDataType_t compute, GraphTensor x, GraphTensor y,
                 std::optional<GraphTensor> b = std::nullopt, std::optional<GraphTensor> t = std::nullopt,
                 std::optional<int64_t> axis = std::nullopt);
  void matmul(GraphTensor a, GraphTensor b, GraphTensor c);
  void reduction(cudnnReduceTensorOp_t mode, GraphTensor x, GraphTensor y);
  void reshape(GraphTensor x, GraphTensor y);

  // Finalizes the operation graph and an execution plan for each engine config of heuristic
  // mode A (FALLBACK when A offers none that finalizes); throws listing every status otherwise.
  void build(cudnnHandle_t handle);
  // Before build(): also offer, for each heuristic config, the configs that change one of its
  // engine's knobs (tile sizes, kernel configs, ...) to another allowed value, up to
  // `max_variants` in all, for autotune() to time (a diagnostic: are the heuristics' knobs
  // the fastest on this GPU?). Labels name each config's knob values.
  void set_explore_knobs(int max_variants) { explore_knobs_ = max_variants; }
  // Enough for any candidate plan, so that autotune() can run each of them.
  int64_t workspace_bytes() const { return workspace_bytes_; }
  std::string engine_description() const;

  // Runs the selected plan; `bindings` pairs each non-virtual uid with its device pointer.
  void execute(cudnnHandle_t handle, const std::vector<std::pair<int64_t, void*>>& bindings, void* workspace) const;
  // Times every candidate plan on these bindings (outputs are overwritten, inputs only read)
  // and selects the fastest; synchronizes `stream`. Does nothing with one candidate.
  void autotune(cudnnHandle_t handle, const std::vector<std::pair<int64_t, void*>>& bindings, void* workspace,
                cudaStream_t stream);
  bool autotuned() const { return autotuned_; }

  static constexpr int64_t kFirstInternalUid = 1000;

 private:
  GraphTensor make_tensor(int64_t uid, cudnnDataType_t type, const std::vector<int64_t>& dims,
                          const std::vector<int64_t>& strides, bool is_virtual, bool by_value);
  void add_operation(BackendDescriptor&& operation);
  // Adds the plan of engine config `config` when it finalizes; false when it does not.
  bool add_candidate(cudnnHandle_t handle, BackendDescriptor&& config, std::string label);
  void add_knob_variants(cudnnHandle_t handle);
  BackendDescriptor variant_pack(const std::vector<std::pair<int64_t, void*>>& bindings, void* workspace) const;

  struct Candidate {
    BackendDescriptor config;  // kept alive with the plan built from it
    BackendDescriptor plan;
    std::string label;  // heuristic mode, config rank, engine global index, workspace
    int64_t engine_index = -1;
    float milliseconds = -1.0f;  // from autotune(); -1 until timed, +inf when it failed to run
  };

  std::string name_;
  std::deque<BackendDescriptor> descriptors_;  // tensors and op sub-descriptors, alive as long as the plan
  std::vector<cudnnBackendDescriptor_t> operations_;
  std::deque<float> scalar_values_;  // by-value scalars: host addresses handed to the variant pack
  std::vector<int64_t> scalar_uids_;
  int64_t next_uid_ = kFirstInternalUid;
  std::optional<BackendDescriptor> graph_;
  std::deque<Candidate> candidates_;
  std::size_t selected_ = 0;
  bool autotuned_ = false;
  int64_t workspace_bytes_ = 0;
  int explore_knobs_ = 0;
  cudnnStatus_t last_plan_status_ = CUDNN_STATUS_SUCCESS;  // add_candidate's, for build()'s error text
};

}  // namespace primus::ops::cuda
