// Typed build: ResolvedConfig -> TrainConfig, with derived fields resolved
// (ffn_hidden_size, num_query_groups, kv_channels, padded_vocab_size,
// data_parallel_size, num_micro_batches, lr_decay_iters, lr_warmup_iters,
// train_iters from train_samples, precision, log levels) and every schema and
// cross-key problem reported together in one ConfigError.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "primus/config/config_error.hpp"
#include "primus/config/experiment.hpp"
#include "primus/config/train_config.hpp"

namespace primus::config {

struct BuildOptions {
  bool strict = false;  // unimplemented keys set to non-default values are errors, not a warning
  int world_size = 0;   // 0: from WORLD_SIZE, else OMPI_COMM_WORLD_SIZE, else 1 (or see below)
  // For checking a config away from its cluster (primus config ...): with no world size given
  // and no launcher environment, assume the smallest world the layout allows
  // (tensor x pipeline x context parallel, data-parallel size 1).
  bool assume_minimal_world = false;
};

// The launcher's world size (WORLD_SIZE, OMPI_COMM_WORLD_SIZE), 1 when neither is set.
int world_size_from_env();
// Whether a launcher set WORLD_SIZE or OMPI_COMM_WORLD_SIZE.
bool launcher_world_size_set();

TrainConfig build_train_config(const ResolvedConfig& resolved, const BuildOptions& options,
                               std::vector<std::string>* warnings = nullptr);

// resolve_experiment + build_train_config: what `primus train` and `primus benchmark` run.
TrainConfig load_train_config(const std::filesystem::path& config_file, const std::vector<std::string>& cli_args,
                              const BuildOptions& options, std::vector<std::string>* warnings = nullptr);

// Megatron's vocabulary padding: up to a multiple of make_vocab_size_divisible_by * tp.
int padded_vocab_size(int vocab_size, int make_vocab_size_divisible_by, int tensor_model_parallel_size);

}  // namespace primus::config
