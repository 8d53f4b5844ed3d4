// Cross-key validation of a built TrainConfig: divisibility of heads, groups,
// layers, ranks and batches; sequence vs position limits; positive sizes; lr >= min_lr.
#pragma once

#include "primus/config/diagnostics.hpp"
#include "primus/config/train_config.hpp"

namespace primus::config {

void check_cross_key_rules(const TrainConfig& config, Diagnostics& diagnostics);

}  // namespace primus::config
