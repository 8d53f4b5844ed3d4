// Megatron-LM command-line arguments -> YAML keys, the way Megatron's argparse
// would store them (dest names, store_false flags, lists); what cannot be mapped
// is kept with the reason.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "primus/migrate/arg_value.hpp"

namespace primus::migrate {

struct UnmappedArgument {
  std::string text;    // the argument as written, with its values: "--my-flag 3"
  std::string reason;  // why it was not mapped
};

struct MappedArguments {
  std::map<std::string, ArgValue> keys;  // dest -> value; a repeated flag keeps its last value, as argparse does
  std::vector<UnmappedArgument> unmapped;
};

// `arguments` are the training script's arguments (after pretrain_gpt.py).
MappedArguments map_megatron_arguments(const std::vector<std::string>& arguments);

}  // namespace primus::migrate
