// CudnnGraph: descriptor plumbing for cuDNN 9 backend operation graphs.
#include "primus/ops/cuda/cudnn_graph.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <stdexcept>

namespace primus::ops::cuda {

namespace {

std::string status_text(cudnnStatus_t status) {
  char detail[1024] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  return std::string(cudnnGetErrorString(status)) + (detail[0] ? std::string(" (") + detail + ")" : "");
}

void throw_if_failed(cudnnStatus_t status, const std::string& what) {
  if (status != CUDNN_STATUS_SUCCESS) throw std::runtime_error("cuDNN: " + what + " failed: " + status_text(status));
}

std::string join(const std::vector<int64_t>& values) {
  std::string text;
  for (int64_t value : values) text += (text.empty() ? "" : ",") + std::to_string(value);
  return "[" + text + "]";
}

// A knob and its value, as an engine config holds it.
struct KnobValue {
  cudnnBackendKnobType_t type;
  int64_t value;
};

std::string knob_text(const std::vector<KnobValue>& knobs) {
  std::string text;
  for (const KnobValue& knob : knobs) {
    if (!text.empty()) text += ',';
    text += std::to_string(static_cast<int>(knob.type));
    text += '=';
    text += std::to_string(knob.value);
  }
  return "knobs {" + text + "}";
}

// The sub-descriptors an attribute holds (knob choices of a config, knob infos of an engine).
std::deque<BackendDescriptor> get_descriptors(cudnnBackendDescriptor_t owner, cudnnBackendAttributeName_t attribute,
                                              cudnnBackendDescriptorType_t type, const std::string& what) {
  constexpr int64_t kMax = 64;
  std::deque<BackendDescriptor> held;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < kMax; ++i) raw.push_back(held.emplace_back(type, what).get());
  int64_t count = 0;
  throw_if_failed(cudnnBackendGetAttribute(owner, attribute, CUDNN_TYPE_BACKEND_DESCRIPTOR, kMax, &count, raw.data()),
                  what);
  while (static_cast<int64_t>(held.size()) > count) held.pop_back();
  return held;
}

int64_t get_int64(cudnnBackendDescriptor_t descriptor, cudnnBackendAttributeName_t attribute, const std::string& what) {
  int64_t value = 0, count = 0;
  throw_if_failed(cudnnBackendGetAttribute(descriptor, attribute, CUDNN_TYPE_INT64, 1, &count, &value), what);
  return value;
}

cudnnBackendKnobType_t get_knob_type(cudnnBackendDescriptor_t descriptor, cudnnBackendAttributeName_t attribute,
                                     const std::string& what) {
  cudnnBackendKnobType_t value{};
  int64_t count = 0;
  throw_if_failed(cudnnBackendGetAttribute(descriptor, attribute, CUDNN_TYPE_KNOB_TYPE, 1, &count, &value), what);
  return value;
}

// The knob values an engine config holds.
std::vector<KnobValue> knob_values(const BackendDescriptor& config, const std::string& what) {
  std::vector<KnobValue> values;
  for (const BackendDescriptor& choice :
       get_descriptors(config.get(), CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, what))
    values.push_back({get_knob_type(choice.get(), CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, what),
                      get_int64(choice.get(), CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, what)});
  return values;
}

// `knobs` with knob `type` set to `value` (added when absent); nullopt when it holds that value already.
std::optional<std::vector<KnobValue>> with_knob(std::vector<KnobValue> knobs, cudnnBackendKnobType_t type,
                                                int64_t value) {
  auto it = std::find_if(knobs.begin(), knobs.end(), [&](const KnobValue& k) { return k.type == type; });
  if (it == knobs.end()) {
    knobs.push_back({type, value});
  } else if (it->value == value) {
    return std::nullopt;
  } else {
    it->value = value;
  }
  return knobs;
}

// An engine config of `engine` with these knob values, its knob-choice descriptors kept alive
// in `keep` (the config refers to them); nullopt when cuDNN rejects the combination.
std::optional<BackendDescriptor> knob_config(const BackendDescriptor& engine, const std::vector<KnobValue>& knobs,
                                             std::deque<BackendDescriptor>& keep, const std::string& what) {
  std::vector<cudnnBackendDescriptor_t> raw_choices;
  for (const KnobValue& knob : knobs) {
    BackendDescriptor& choice = keep.emplace_back(CUDNN_BACKEND_KNOB_CHOICE_DESCRIPTOR, what + " choice");
    choice.set(CUDNN_ATTR_KNOB_CHOICE_KNOB_TYPE, CUDNN_TYPE_KNOB_TYPE, 1, &knob.type);
    choice.set(CUDNN_ATTR_KNOB_CHOICE_KNOB_VALUE, CUDNN_TYPE_INT64, 1, &knob.value);
    choice.finalize();
    raw_choices.push_back(choice.get());
  }
  BackendDescriptor config(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, what + " variant");
  config.set_descriptor(CUDNN_ATTR_ENGINECFG_ENGINE, engine.get());
  config.set(CUDNN_ATTR_ENGINECFG_KNOB_CHOICES, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(raw_choices.size()),
             raw_choices.data());
  if (cudnnBackendFinalize(config.get()) != CUDNN_STATUS_SUCCESS) return std::nullopt;
  return std::optional<BackendDescriptor>(std::move(config));
}

}  // namespace

BackendDescriptor::BackendDescriptor(cudnnBackendDescriptorType_t type, std::string name) : name_(std::move(name)) {
  throw_if_failed(cudnnBackendCreateDescriptor(type, &descriptor_), "create descriptor " + name_);
}

BackendDescriptor::~BackendDescriptor() {
  if (descriptor_) cudnnBackendDestroyDescriptor(descriptor_);
}

BackendDescriptor::BackendDescriptor(BackendDescriptor&& other) noexcept
    : descriptor_(std::exchange(other.descriptor_, nullptr)), name_(std::move(other.name_)) {}

void BackendDescriptor::set(cudnnBackendAttributeName_t attribute, cudnnBackendAttributeType_t type, int64_t count,
                            const void* values) {
  throw_if_failed(cudnnBackendSetAttribute(descriptor_, attribute, type, count, values),
                  name_ + ": set attribute " + std::to_string(static_cast<int>(attribute)));
}

void BackendDescriptor::set_descriptor(cudnnBackendAttributeName_t attribute, cudnnBackendDescriptor_t value) {
  set(attribute, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &value);
}

void BackendDescriptor::finalize() { throw_if_failed(cudnnBackendFinalize(descriptor_), "finalize " + name_); }

GraphTensor CudnnGraph::make_tensor(int64_t uid, cudnnDataType_t type, const std::vector<int64_t>& dims,
                                    const std::vector<int64_t>& strides, bool is_virtual, bool by_value) {
  if (dims.size() != strides.size())
    throw std::invalid_argument(name_ + ": tensor uid " + std::to_string(uid) + " has dims " + join(dims) +
                                " but strides " + join(strides));
  BackendDescriptor& tensor = descriptors_.emplace_back(
      CUDNN_BACKEND_TENSOR_DESCRIPTOR,
      name_ + " tensor uid " + std::to_string(uid) + " dims " + join(dims) + " strides " + join(strides));
  const int64_t alignment = 16;
  tensor.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
  tensor.set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, static_cast<int64_t>(dims.size()), dims.data());
  tensor.set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, static_cast<int64_t>(strides.size()), strides.data());
  tensor.set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
  tensor.set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
  tensor.set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
  if (by_value) tensor.set(CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value);
  tensor.finalize();
  return {uid, tensor.get()};
}

GraphTensor CudnnGraph::tensor(int64_t uid, cudnnDataType_t type, std::vector<int64_t> dims,
                               std::vector<int64_t> strides) {
  if (uid <= 0 || uid >= kFirstInternalUid)
    throw std::invalid_argument(name_ + ": tensor uid " + std::to_string(uid) + " outside (0, " +
                                std::to_string(kFirstInternalUid) + ")");
  return make_tensor(uid, type, dims, strides, false, false);
}

GraphTensor CudnnGraph::virtual_tensor(cudnnDataType_t type, std::vector<int64_t> dims, std::vector<int64_t> strides) {
  return make_tensor(next_uid_++, type, dims, strides, true, false);
}

GraphTensor CudnnGraph::scalar(float value, int rank) {
  const std::vector<int64_t> ones(static_cast<std::size_t>(rank), 1);
  const GraphTensor result = make_tensor(next_uid_++, CUDNN_DATA_FLOAT, ones, ones, false, true);
  scalar_values_.push_back(value);
  scalar_uids_.push_back(result.uid);
  return result;
}

void CudnnGraph::add_operation(BackendDescriptor&& operation) {
  operation.finalize();
  operations_.push_back(operation.get());
  descriptors_.push_back(std::move(operation));
}

void CudnnGraph::pointwise(cudnnPointwiseMode_t mode, cudnnDataType_t compute, GraphTensor x, GraphTensor y,
                           std::optional<GraphTensor> b, std::optional<GraphTensor> t, std::optional<int64_t> axis) {
  const std::string label = name_ + " pointwise mode " + std::to_string(static_cast<int>(mode)) + " -> uid " +
                            std::to_string(y.uid);
  BackendDescriptor& description = descriptors_.emplace_back(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, label);
  description.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
  description.set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &compute);
  if (axis) description.set(CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &*axis);
  description.finalize();

  BackendDescriptor operation(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, label + " (operation)");
  operation.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, description.get());
  operation.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x.descriptor);
  if (b) operation.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b->descriptor);
  if (t) operation.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_TDESC, t->descriptor);
  operation.set_descriptor(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y.descriptor);
  add_operation(std::move(operation));
}

void CudnnGraph::matmul(GraphTensor a, GraphTensor b, GraphTensor c) {
  const std::string label = name_ + " matmul uid " + std::to_string(a.uid) + " x uid " + std::to_string(b.uid) +
                            " -> uid " + std::to_string(c.uid);
  BackendDescriptor& description = descriptors_.emplace_back(CUDNN_BACKEND_MATMUL_DESCRIPTOR, label);
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  description.set(CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
  description.finalize();

  BackendDescriptor operation(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, label + " (operation)");
  operation.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_ADESC, a.descriptor);
  operation.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_BDESC, b.descriptor);
  operation.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_CDESC, c.descriptor);
  operation.set_descriptor(CUDNN_ATTR_OPERATION_MATMUL_DESC, description.get());
  add_operation(std::move(operation));
}

void CudnnGraph::reduction(cudnnReduceTensorOp_t mode, GraphTensor x, GraphTensor y) {
  const std::string label = name_ + " reduction mode " + std::to_string(static_cast<int>(mode)) + " -> uid " +
                            std::to_string(y.uid);
  BackendDescriptor& description = descriptors_.emplace_back(CUDNN_BACKEND_REDUCTION_DESCRIPTOR, label);
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  description.set(CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode);
  description.set(CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
  description.finalize();

  BackendDescriptor operation(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, label + " (operation)");
  operation.set_descriptor(CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x.descriptor);
  operation.set_descriptor(CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y.descriptor);
  operation.set_descriptor(CUDNN_ATTR_OPERATION_REDUCTION_DESC, description.get());
  add_operation(std::move(operation));
}

void CudnnGraph::reshape(GraphTensor x, GraphTensor y) {
  BackendDescriptor operation(CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR,
                              name_ + " reshape uid " + std::to_string(x.uid) + " -> uid " + std::to_string(y.uid));
  operation.set_descriptor(CUDNN_ATTR_OPERATION_RESHAPE_XDESC, x.descriptor);
  operation.set_descriptor(CUDNN_ATTR_OPERATION_RESHAPE_YDESC, y.descriptor);
  add_operation(std::move(operation));
}

void CudnnGraph::build(cudnnHandle_t handle) {
  graph_.emplace(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, name_ + " operation graph");
  graph_->set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
  graph_->set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<int64_t>(operations_.size()),
              operations_.data());
  graph_->finalize();

  std::string attempts;
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    const std::string mode_name = mode == CUDNN_HEUR_MODE_A ? "heuristic A" : "heuristic FALLBACK";
    BackendDescriptor heuristics(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, name_ + " " + mode_name);
    heuristics.set_descriptor(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, graph_->get());
    heuristics.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    const cudnnStatus_t heuristics_status = cudnnBackendFinalize(heuristics.get());
    if (heuristics_status != CUDNN_STATUS_SUCCESS) {
      attempts += "; " + mode_name + " finalize: " + status_text(heuristics_status);
      continue;
    }
    int64_t count = 0;
    throw_if_failed(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                             CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr),
                    mode_name + " result count");
    std::deque<BackendDescriptor> configs;
    std::vector<cudnnBackendDescriptor_t> raw_configs;
    for (int64_t i = 0; i < count; ++i)
      raw_configs.push_back(
          configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, name_ + " engine config " + std::to_string(i))
              .get());
    int64_t returned = 0;
    if (count > 0)
      throw_if_failed(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                               CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &returned, raw_configs.data()),
                      mode_name + " results");
    attempts += "; " + mode_name + " returned " + std::to_string(returned) + " configs";
    for (int64_t i = 0; i < returned; ++i) {
      const std::string label = mode_name + " config " + std::to_string(i) + " of " + std::to_string(returned);
      if (!add_candidate(handle, std::move(configs[static_cast<std::size_t>(i)]), label))
        attempts += "; config " + std::to_string(i) + " plan: " + status_text(last_plan_status_);
    }
    if (!candidates_.empty() && explore_knobs_ > 0) add_knob_variants(handle);
    if (!candidates_.empty()) return;
  }
  throw std::runtime_error("cuDNN: no engine could run graph '" + name_ + "' (" + std::to_string(operations_.size()) +
                           " operations)" + attempts);
}

bool CudnnGraph::add_candidate(cudnnHandle_t handle, BackendDescriptor&& config, std::string label) {
  BackendDescriptor plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, name_ + " execution plan");
  plan.set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle);
  plan.set_descriptor(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, config.get());
  last_plan_status_ = cudnnBackendFinalize(plan.get());
  if (last_plan_status_ != CUDNN_STATUS_SUCCESS) return false;
  const int64_t workspace = get_int64(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, "plan workspace size");
  // Name the engine (its global index) for logs and notes.
  BackendDescriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR, name_ + " engine");
  cudnnBackendDescriptor_t engine_raw = engine.get();
  int64_t engine_count = 0, engine_index = -1;
  if (cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                               &engine_count, &engine_raw) == CUDNN_STATUS_SUCCESS)
    cudnnBackendGetAttribute(engine_raw, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, nullptr, &engine_index);
  label += ", engine global index " + std::to_string(engine_index) + ", workspace " + std::to_string(workspace) + " B";
  candidates_.push_back(Candidate{std::move(config), std::move(plan), std::move(label), engine_index});
  workspace_bytes_ = std::max(workspace_bytes_, workspace);
  return true;
}

void CudnnGraph::add_knob_variants(cudnnHandle_t handle) {
  const std::size_t base_count = candidates_.size();
  int added = 0;
  for (std::size_t base = 0; base < base_count && added < explore_knobs_; ++base) {
    const std::string what = name_ + " knobs of " + candidates_[base].label;
    const std::vector<KnobValue> chosen = knob_values(candidates_[base].config, what);
    candidates_[base].label += ", " + knob_text(chosen);
    // The engine itself, rebuilt from the graph and its global index, for the new configs.
    BackendDescriptor& engine = descriptors_.emplace_back(CUDNN_BACKEND_ENGINE_DESCRIPTOR, what + " engine");
    engine.set_descriptor(CUDNN_ATTR_ENGINE_OPERATION_GRAPH, graph_->get());
    engine.set(CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &candidates_[base].engine_index);
    engine.finalize();
    for (const BackendDescriptor& info :
         get_descriptors(engine.get(), CUDNN_ATTR_ENGINE_KNOB_INFO, CUDNN_BACKEND_KNOB_INFO_DESCRIPTOR, what)) {
      const cudnnBackendKnobType_t type = get_knob_type(info.get(), CUDNN_ATTR_KNOB_INFO_TYPE, what);
      const int64_t low = get_int64(info.get(), CUDNN_ATTR_KNOB_INFO_MINIMUM_VALUE, what),
                    high = get_int64(info.get(), CUDNN_ATTR_KNOB_INFO_MAXIMUM_VALUE, what),
                    stride = std::max<int64_t>(1, get_int64(info.get(), CUDNN_ATTR_KNOB_INFO_STRIDE, what));
      if ((high - low) / stride >= 64) continue;  // a range too wide to walk (workspace sizes and such)
      for (int64_t value = low; value <= high && added < explore_knobs_; value += stride) {
        const auto knobs = with_knob(chosen, type, value);
        if (!knobs) continue;  // the base config itself
        auto config = knob_config(engine, *knobs, descriptors_, what);
        if (config && add_candidate(handle, std::move(*config),
                                    "knob variant of config " + std::to_string(base) + ", " + knob_text(*knobs)))
          ++added;
      }
    }
  }
}

std::string CudnnGraph::engine_description() const {
  if (candidates_.empty()) return "not built";
  std::string text = candidates_[selected_].label;
  if (autotuned_) {
    text += " (autotuned:";
    for (const Candidate& candidate : candidates_) {
      // Beyond the heuristics' two or so, one line a candidate with its label.
      text += candidates_.size() > 2 ? "\n    " : " ";
      text += std::to_string(candidate.milliseconds);
      text += " ms";
      if (candidates_.size() > 2) text += "  " + candidate.label;
    }
    text += ")";
  }
  return text;
}

BackendDescriptor CudnnGraph::variant_pack(const std::vector<std::pair<int64_t, void*>>& bindings,
                                           void* workspace) const {
  std::vector<int64_t> uids;
  std::vector<void*> pointers;
  for (const auto& [uid, pointer] : bindings) {
    uids.push_back(uid);
    pointers.push_back(pointer);
  }
  auto value = scalar_values_.begin();
  for (int64_t uid : scalar_uids_) {
    uids.push_back(uid);
    pointers.push_back(const_cast<float*>(&*value++));
  }
  BackendDescriptor pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, name_ + " variant pack");
  pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, static_cast<int64_t>(uids.size()), uids.data());
  pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, static_cast<int64_t>(pointers.size()),
           pointers.data());
  pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  pack.finalize();
  return pack;
}

void CudnnGraph::execute(cudnnHandle_t handle, const std::vector<std::pair<int64_t, void*>>& bindings,
                         void* workspace) const {
  if (candidates_.empty()) throw std::logic_error("CudnnGraph::execute on '" + name_ + "' before build()");
  const BackendDescriptor pack = variant_pack(bindings, workspace);
  throw_if_failed(cudnnBackendExecute(handle, candidates_[selected_].plan.get(), pack.get()), "execute " + name_);
}

void CudnnGraph::autotune(cudnnHandle_t handle, const std::vector<std::pair<int64_t, void*>>& bindings,
                          void* workspace, cudaStream_t stream) {
  autotuned_ = true;
  if (candidates_.size() < 2) return;
  const BackendDescriptor pack = variant_pack(bindings, workspace);
  cudaEvent_t start = nullptr, stop = nullptr;
  auto check = [](cudaError_t status, const char* what) {
    if (status != cudaSuccess) throw std::runtime_error(std::string("autotune: ") + what + ": " + cudaGetErrorString(status));
  };
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  constexpr int kWarmup = 1, kRepeats = 3;
  float best = std::numeric_limits<float>::infinity();
  try {
    for (std::size_t index = 0; index < candidates_.size(); ++index) {
      Candidate& candidate = candidates_[index];
      candidate.milliseconds = std::numeric_limits<float>::infinity();
      // A candidate that refuses to run is skipped; the heuristics' choice stays valid.
      bool runs = true;
      for (int i = 0; i < kWarmup && runs; ++i)
        runs = cudnnBackendExecute(handle, candidate.plan.get(), pack.get()) == CUDNN_STATUS_SUCCESS;
      if (!runs) continue;
      check(cudaEventRecord(start, stream), "cudaEventRecord");
      for (int i = 0; i < kRepeats && runs; ++i)
        runs = cudnnBackendExecute(handle, candidate.plan.get(), pack.get()) == CUDNN_STATUS_SUCCESS;
      check(cudaEventRecord(stop, stream), "cudaEventRecord");
      check(cudaEventSynchronize(stop), "cudaEventSynchronize");
      if (!runs) continue;
      float total = 0.0f;
      check(cudaEventElapsedTime(&total, start, stop), "cudaEventElapsedTime");
      candidate.milliseconds = total / kRepeats;
      if (candidate.milliseconds < best) {
        best = candidate.milliseconds;
        selected_ = index;
      }
    }
  } catch (...) {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    throw;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

}  // namespace primus::ops::cuda
