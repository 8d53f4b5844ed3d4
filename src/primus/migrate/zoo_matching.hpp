// Which zoo model a migrated script trains: the architecture keys that must agree,
// their canonical form (derived defaults filled in as Megatron-LM derives them),
// and the choice of the most specific matching preset.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "primus/migrate/arg_value.hpp"
#include "primus/migrate/zoo_catalog.hpp"

namespace primus::migrate {

// Keys that define the network's shape and math: a preset matches only when all of
// these that both sides have are equal.
const std::vector<std::string>& architecture_keys();

// Keys a generated model file holds besides the architecture keys.
const std::vector<std::string>& model_file_keys();

// Fills what Megatron-LM derives when left unset: ffn_hidden_size (4h, or 2/3 of it
// rounded down to 64 with swiglu), kv_channels, num_query_groups without GQA,
// moe_ffn_hidden_size, rope from --use-rotary-position-embeddings.
KeyValues canonical_architecture(KeyValues keys);

struct ArchitectureDifference {
  std::string key;
  ArgValue script, model;
};

struct ZooCandidate {
  std::string name;
  size_t keys_compared = 0;
  std::vector<ArchitectureDifference> differences;  // empty: a match
  size_t settings_differing = 0;                    // settings the experiment would override
  bool is_base = false;                             // extended by other presets
};

struct ZooMatch {
  std::optional<std::string> model;  // the chosen preset
  std::string explanation;           // one line for the report
  std::vector<ZooCandidate> candidates;  // best first
};

// `architecture`: the script's canonical architecture; `settings`: the keys it sets
// (for ties: fewer overrides wins). `forced`: the user's --model choice.
ZooMatch match_zoo_model(const KeyValues& architecture, const KeyValues& settings,
                         const std::vector<ZooModel>& catalog, const std::optional<std::string>& forced);

}  // namespace primus::migrate
