// Matches a script's architecture against the zoo (see zoo_matching.hpp).
#include "primus/migrate/zoo_matching.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace primus::migrate {
namespace {

std::optional<long long> int_of(const KeyValues& keys, const std::string& key) {
  auto it = keys.find(key);
  if (it == keys.end() || it->second.is_list || it->second.items.size() != 1) return std::nullopt;
  const Scalar& s = it->second.items.front();
  if (s.kind != ScalarKind::Int) return std::nullopt;
  return std::stoll(s.text);
}

bool is_true(const KeyValues& keys, const std::string& key) {
  auto it = keys.find(key);
  return it != keys.end() && !it->second.is_list && it->second.items.size() == 1 &&
         it->second.items.front().kind == ScalarKind::Bool && it->second.items.front().text == "true";
}

bool is_unset(const KeyValues& keys, const std::string& key) {
  auto it = keys.find(key);
  return it == keys.end() || (!it->second.is_list && it->second.items.front().kind == ScalarKind::Null);
}

constexpr std::array<const char*, 3> kCoreKeys = {"num_layers", "hidden_size", "num_attention_heads"};

ArgValue int_value(long long v) { return scalar_value({ScalarKind::Int, std::to_string(v)}); }

}  // namespace

const std::vector<std::string>& architecture_keys() {
  static const std::vector<std::string> keys = {
      "model_type", "num_layers", "hidden_size", "ffn_hidden_size", "num_attention_heads", "num_query_groups", "kv_channels",
      "normalization", "swiglu", "add_bias_linear", "add_qkv_bias", "position_embedding_type",
      "untie_embeddings_and_output_weights", "rotary_base", "qk_layernorm", "multi_latent_attention",
      "num_experts", "moe_router_topk", "moe_ffn_hidden_size", "vocab_size"};
  return keys;
}

const std::vector<std::string>& model_file_keys() {
  static const std::vector<std::string> keys = {
      "group_query_attention", "max_position_embeddings", "norm_epsilon", "apply_layernorm_1p", "rotary_percent",
      "rotary_interleaved", "init_method_std", "hidden_dropout", "attention_dropout",
      "moe_router_load_balancing_type", "moe_aux_loss_coeff", "moe_grouped_gemm", "moe_token_dispatcher_type"};
  return keys;
}

KeyValues canonical_architecture(KeyValues keys) {
  if (is_true(keys, "use_rotary_position_embeddings"))
    keys["position_embedding_type"] = scalar_value({ScalarKind::String, "rope"});
  auto hidden = int_of(keys, "hidden_size");
  auto heads = int_of(keys, "num_attention_heads");
  if (!is_true(keys, "group_query_attention") && heads) keys["num_query_groups"] = int_value(*heads);
  if (is_unset(keys, "ffn_hidden_size") && hidden)
    keys["ffn_hidden_size"] = int_value(is_true(keys, "swiglu") ? (4 * *hidden * 2 / 3) / 64 * 64 : 4 * *hidden);
  if (is_unset(keys, "kv_channels") && hidden && heads && *heads > 0) keys["kv_channels"] = int_value(*hidden / *heads);
  if (!is_unset(keys, "num_experts") && is_unset(keys, "moe_ffn_hidden_size") && keys.count("ffn_hidden_size"))
    keys["moe_ffn_hidden_size"] = keys["ffn_hidden_size"];
  return keys;
}

ZooMatch match_zoo_model(const KeyValues& architecture, const KeyValues& settings,
                         const std::vector<ZooModel>& catalog, const std::optional<std::string>& forced) {
  ZooMatch match;
  for (const auto& model : catalog) {
    if (forced && model.name != *forced && model.name + ".yaml" != *forced) continue;
    const KeyValues& values = model.keys;
    KeyValues canonical = canonical_architecture(values);
    // A preset that does not give the network's size (primus_megatron_model, a *_base) describes no model.
    bool sized = std::all_of(kCoreKeys.begin(), kCoreKeys.end(), [&](const char* key) {
      auto it = canonical.find(key);
      return it != canonical.end() && !it->second.is_list && it->second.items.front().kind == ScalarKind::Int;
    });
    if (!forced && !sized) continue;
    ZooCandidate candidate{model.name, 0, {}, 0, model.is_base};
    for (const auto& key : architecture_keys()) {
      auto mine = architecture.find(key);
      auto theirs = canonical.find(key);
      if (mine == architecture.end() || theirs == canonical.end()) continue;
      ++candidate.keys_compared;
      if (!same_value(mine->second, theirs->second)) candidate.differences.push_back({key, mine->second, theirs->second});
    }
    for (const auto& [key, value] : settings)
      if (auto it = values.find(key); it != values.end() && !same_value(it->second, value)) ++candidate.settings_differing;
    match.candidates.push_back(std::move(candidate));
  }
  if (forced && match.candidates.empty()) {
    std::string names;
    for (const auto& m : catalog) names += (names.empty() ? "" : ", ") + m.name;
    throw std::runtime_error("--model " + *forced + ": no such model in the zoo (available: " + names + ")");
  }
  std::sort(match.candidates.begin(), match.candidates.end(), [](const ZooCandidate& a, const ZooCandidate& b) {
    // Matches first, the most specific (most keys compared); then the fewest overrides; a preset others extend last.
    // Among misses, the closest is the one with the most equal keys.
    if (a.differences.empty() != b.differences.empty()) return a.differences.empty();
    size_t a_equal = a.keys_compared - a.differences.size(), b_equal = b.keys_compared - b.differences.size();
    if (a_equal != b_equal) return a_equal > b_equal;
    if (a.differences.size() != b.differences.size()) return a.differences.size() < b.differences.size();
    if (a.settings_differing != b.settings_differing) return a.settings_differing < b.settings_differing;
    if (a.is_base != b.is_base) return !a.is_base;
    return a.name < b.name;
  });
  if (match.candidates.empty()) {
    match.explanation = "no zoo models to compare with";
    return match;
  }
  const ZooCandidate& best = match.candidates.front();
  auto describe = [](const ZooCandidate& c) {
    std::string text;
    for (const auto& d : c.differences)
      text += (text.empty() ? "" : ", ") + d.key + " " + display_value(d.script) + " (model: " + display_value(d.model) + ")";
    return text;
  };
  if (forced) {
    match.model = best.name;
    match.explanation = "model " + best.name + " chosen with --model" +
                        (best.differences.empty() ? std::string(", architecture agrees")
                                                  : "; architecture differs, overridden: " + describe(best));
  } else if (best.differences.empty()) {
    match.model = best.name;
    match.explanation = "matched zoo model " + best.name + " (" + std::to_string(best.keys_compared) + " architecture keys equal)";
  } else {
    match.explanation = "no zoo model matches the architecture; closest is " + best.name + ", which differs in " + describe(best);
  }
  return match;
}

}  // namespace primus::migrate
