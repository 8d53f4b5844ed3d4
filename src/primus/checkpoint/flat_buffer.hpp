// Bridges flat fp32 buffers (parameters, exp_avg, exp_avg_sq in one layout,
// described by ParameterRanges) and named checkpoint tensors.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "primus/checkpoint/checkpoint.hpp"
#include "primus/optim/parameter_range.hpp"

namespace primus::checkpoint {

// One CheckpointTensor per range, named <prefix><range.name>, viewing `buffer` (no copy: keep the buffer alive).
std::vector<CheckpointTensor> tensors_from_flat_buffer(std::span<const optim::ParameterRange> ranges,
                                                       std::span<const float> buffer, const std::string& prefix = "");

// Model tensors then optimizer tensors for AdamW state: exp_avg.<name> and exp_avg_sq.<name>.
std::vector<CheckpointTensor> optimizer_tensors_from_flat_buffers(std::span<const optim::ParameterRange> ranges,
                                                                  std::span<const float> exp_avg,
                                                                  std::span<const float> exp_avg_sq);

// Fills `params` from the checkpoint's model tensors (names and shapes must match the ranges exactly).
void read_model_into_flat_buffer(const LoadedCheckpoint& checkpoint, std::span<const optim::ParameterRange> ranges,
                                 std::span<float> params);

// Fills exp_avg / exp_avg_sq from the checkpoint's optimizer tensors; throws when it has none.
void read_optimizer_into_flat_buffers(const LoadedCheckpoint& checkpoint,
                                      std::span<const optim::ParameterRange> ranges, std::span<float> exp_avg,
                                      std::span<float> exp_avg_sq);

}  // namespace primus::checkpoint
