// Builds a migration from mapped Megatron-LM arguments (see migration.hpp).
#include "primus/migrate/migration.hpp"

#include <algorithm>
#include <stdexcept>

#include "primus/config/config_root.hpp"
#include "primus/config/key_spec.hpp"
#include "primus/migrate/launch_command.hpp"
#include "primus/migrate/log_arguments.hpp"
#include "primus/migrate/megatron_flags.hpp"
#include "primus/migrate/script_capture.hpp"

namespace primus::migrate {
namespace fs = std::filesystem;
namespace {

constexpr const char* kGeneratedModelBase = "language_model.yaml";
constexpr const char* kTrainerModule = "pre_trainer.yaml";  // the experiment's `config:`

// Megatron-LM's argparse default for a dest; nullopt when unknown (computed, or not a flag).
std::optional<ArgValue> megatron_default(const std::string& dest) {
  const MegatronFlag* flag = find_megatron_flag_by_dest(dest);
  if (!flag || flag->default_yaml == "?") return std::nullopt;
  std::string_view text = flag->default_yaml;
  if (text.starts_with("[")) {
    ArgValue list{true, {}};
    text = text.substr(1, text.size() - 2);
    while (!text.empty()) {
      auto comma = text.find(", ");
      list.items.push_back(scalar_from_text(text.substr(0, comma)));
      text = comma == std::string_view::npos ? "" : text.substr(comma + 2);
    }
    return list;
  }
  return scalar_value(flag->type == FlagValueType::Str && text != "null" ? Scalar{ScalarKind::String, std::string(text)}
                                                                         : scalar_from_text(text));
}

// Equal as settings of `key`: "" and [] mean unset (null), as Megatron reads them; for an on/off flag, unset is off.
bool same_setting(const std::string& key, const ArgValue& a, const ArgValue& b) {
  const MegatronFlag* flag = find_megatron_flag_by_dest(key);
  bool on_off = flag && (flag->action == FlagAction::StoreTrue || flag->action == FlagAction::StoreFalse);
  auto normalized = [&](const ArgValue& v) {
    bool unset = v.items.empty() || (!v.is_list && (v.items.front().kind == ScalarKind::Null ||
                                                    (v.items.front().kind == ScalarKind::String && v.items.front().text.empty())));
    if (!unset) return v;
    return scalar_value(on_off ? bool_scalar(false) : null_scalar());
  };
  return same_value(normalized(a), normalized(b));
}

// A one-item list where Primus's schema wants a scalar (Megatron-LM's nargs='+' for
// --moe-aux-loss-coeff 1e-2) is written as that item.
ArgValue as_config_type(const std::string& key, const ArgValue& value) {
  const config::KeySpec* spec = config::find_key_spec(key);
  bool scalar_key = spec && spec->type != config::KeyType::List && spec->type != config::KeyType::Any;
  if (scalar_key && value.is_list && value.items.size() == 1) return scalar_value(value.items.front());
  return value;
}

bool is_architecture_key(const std::string& key) {
  const auto& keys = architecture_keys();
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// The script's values: what it set explicitly, over what it ran with otherwise (log values or Megatron defaults).
struct ScriptSettings {
  KeyValues explicit_keys;  // set by the script (or, from a log, differing from Megatron's default)
  KeyValues ran_with;       // every other value known to have been in effect (a log's full dump)
  std::string model_type = "gpt";  // Primus's model_type: gpt, or mamba for pretrain_mamba.py

  std::optional<ArgValue> effective(const std::string& key) const {
    if (auto it = explicit_keys.find(key); it != explicit_keys.end()) return it->second;
    if (auto it = ran_with.find(key); it != ran_with.end()) return it->second;
    return megatron_default(key);
  }

  KeyValues architecture() const {
    KeyValues keys;
    std::vector<std::string> inputs = architecture_keys();
    inputs.insert(inputs.end(), {"group_query_attention", "use_rotary_position_embeddings"});
    inputs.insert(inputs.end(), model_file_keys().begin(), model_file_keys().end());
    for (const auto& key : inputs)
      if (auto v = effective(key)) keys[key] = *v;
    keys["model_type"] = scalar_value({ScalarKind::String, model_type});
    keys = canonical_architecture(keys);
    // Left unset, Megatron-LM takes the vocabulary from the tokenizer: a preset's vocab_size is not a difference.
    if (auto it = keys.find("vocab_size"); it != keys.end() && !it->second.is_list &&
                                           it->second.items.front().kind == ScalarKind::Null)
      keys.erase(it);
    return keys;
  }
};

// A preset file as the written experiment refers to it: by name where the config root finds it.
std::string preset_reference(const fs::path& dir, const std::string& file_name, const fs::path& config_root_dir) {
  std::error_code ignored;
  if (fs::weakly_canonical(dir, ignored) == fs::weakly_canonical(config_root_dir, ignored)) return file_name;
  return fs::absolute(dir / file_name).lexically_normal().string();
}

const ZooModel* find_model(const std::vector<ZooModel>& catalog, const std::string& name) {
  for (const auto& m : catalog)
    if (m.name == name) return &m;
  return nullptr;
}

GeneratedModel generate_model(const std::string& exp_name, const KeyValues& architecture, const KeyValues* base,
                              const std::string& base_file) {
  GeneratedModel model{exp_name + "_model", {base_file}, {}};
  bool moe = architecture.count("num_experts") && architecture.at("num_experts").items.front().kind != ScalarKind::Null;
  auto write = [&](const std::string& key, bool always) {
    auto it = architecture.find(key);
    if (it == architecture.end() || (!moe && key.starts_with("moe_"))) return;
    // Only what the base does not already say (the shape keys always, as documentation of the model).
    bool base_agrees = base && base->count(key) && same_value(base->at(key), it->second);
    bool is_null = !it->second.is_list && it->second.items.front().kind == ScalarKind::Null;
    if (base_agrees && (!always || is_null)) return;
    if (is_null && !base) return;
    model.keys[key] = it->second;
  };
  for (const auto& key : architecture_keys()) write(key, true);
  for (const auto& key : model_file_keys()) write(key, false);
  return model;
}

MigrationResult build_migration(const std::string& source, const std::string& exp_name, const ScriptSettings& settings,
                                const MigrateOptions& options, std::vector<std::string> notes) {
  MigrationResult result;
  result.source = source;
  result.exp_name = exp_name;
  result.notes = std::move(notes);

  std::vector<ZooModel> catalog;
  if (fs::is_directory(options.zoo_dir)) {
    catalog = load_zoo_catalog(options.zoo_dir);
  } else if (options.model || options.zoo_dir != MigrateOptions::default_zoo_dir()) {
    throw std::runtime_error("model zoo directory not found: " + options.zoo_dir.string());
  }
  KeyValues architecture = settings.architecture();
  ZooMatch match = match_zoo_model(architecture, settings.explicit_keys, catalog, options.model);
  if (catalog.empty()) match.explanation = "no model zoo at " + options.zoo_dir.string() + ": generated a model file";
  result.match_explanation = match.explanation;

  // The model preset's values, to override only what differs.
  KeyValues model_values;
  if (match.model) {
    result.model = *match.model;
    result.model_file = preset_reference(options.zoo_dir, result.model + ".yaml", MigrateOptions::default_zoo_dir());
    model_values = find_model(catalog, *match.model)->keys;
  } else {
    const ZooModel* base = find_model(catalog, "language_model");
    KeyValues base_values = base ? base->keys : KeyValues{};
    result.generated_model =
        generate_model(exp_name, architecture, base ? &base_values : nullptr,
                       preset_reference(options.zoo_dir, kGeneratedModelBase, MigrateOptions::default_zoo_dir()));
    result.model = result.generated_model->name;
    result.model_file = result.model + ".yaml";  // written next to the experiment
    model_values = base_values;
    for (const auto& [key, value] : result.generated_model->keys) model_values[key] = value;
  }
  KeyValues model_architecture = canonical_architecture(model_values);

  // What the experiment runs with where it says nothing: the trainer module's defaults under the model's keys.
  KeyValues preset_values;
  fs::path module_file = options.module_dir / kTrainerModule;
  result.trainer_defaults_file = preset_reference(options.module_dir, kTrainerModule, MigrateOptions::default_module_dir());
  if (fs::is_regular_file(module_file)) {
    preset_values = load_preset_values(module_file);
  } else if (options.module_dir != MigrateOptions::default_module_dir()) {
    throw std::runtime_error("trainer module defaults not found: " + module_file.string());
  } else {
    result.notes.push_back("no " + module_file.string() + ": the trainer's defaults were not compared");
  }
  for (const auto& [key, value] : model_values) preset_values[key] = value;

  auto differs_from_model = [&](const std::string& key, const ArgValue& value) {
    const KeyValues& theirs = is_architecture_key(key) ? model_architecture : model_values;
    auto it = theirs.find(key);
    if (it == theirs.end()) return true;
    return !same_setting(key, is_architecture_key(key) ? architecture.at(key) : value, it->second);
  };
  for (const auto& [key, value] : settings.explicit_keys)
    if (differs_from_model(key, value)) result.overrides[key] = value;
  // Keys the presets set that the script left alone: pin what the script ran with.
  for (const auto& [key, model_value] : preset_values) {
    if (settings.explicit_keys.count(key) || !find_megatron_flag_by_dest(key)) continue;
    if (is_architecture_key(key) && !architecture.count(key)) continue;  // not known from the script (vocab_size)
    std::optional<ArgValue> ran = is_architecture_key(key) ? architecture.at(key) : settings.effective(key);
    if (!ran) continue;
    const ArgValue& theirs = is_architecture_key(key) && model_architecture.count(key) ? model_architecture.at(key) : model_value;
    if (!same_setting(key, *ran, theirs)) {
      result.overrides[key] = *ran;
      result.pinned_defaults.push_back(key);
    }
  }
  for (auto& [key, value] : result.overrides) value = as_config_type(key, value);
  if (result.generated_model)
    for (auto& [key, value] : result.generated_model->keys) value = as_config_type(key, value);
  return result;
}

}  // namespace

fs::path MigrateOptions::default_zoo_dir() { return config::zoo_dirs().at(0); }
fs::path MigrateOptions::default_module_dir() { return config::zoo_dirs().at(1); }

MigrationResult migrate_megatron_script(const fs::path& script, const std::vector<std::pair<std::string, std::string>>& env,
                                        const MigrateOptions& options) {
  ScriptRun run = run_script_with_shims(script, {env, options.script_arguments, options.timeout});
  // The last .py launch that carries Megatron-LM flags (a log summariser run after training does not).
  std::optional<LaunchCommand> training, last_python;
  for (const auto& argv : run.launches) {
    LaunchCommand launch = parse_launch_command(argv);
    if (launch.entry_point.empty()) continue;
    bool has_megatron_flag = std::any_of(launch.arguments.begin(), launch.arguments.end(), [](const std::string& a) {
      return find_megatron_flag(a.substr(0, a.find('='))) != nullptr;
    });
    if (has_megatron_flag) training = launch;
    last_python = std::move(launch);
  }
  if (!training) training = std::move(last_python);
  if (!training) {
    std::string launched;
    for (const auto& argv : run.launches) launched += "\n  " + (argv.empty() ? std::string("?") : argv.front()) + (argv.size() > 1 ? " " + argv[1] + " ..." : "");
    throw std::runtime_error("the script " + script.string() + " exited with status " + std::to_string(run.exit_status) +
                             " without launching a Python training entry point (torchrun/python/deepspeed/mpirun/srun ... X.py)" +
                             (launched.empty() ? std::string() : "; it launched:" + launched) +
                             (run.stderr_tail.empty() ? std::string() : "\nits stderr ended with:\n" + run.stderr_tail));
  }
  std::vector<std::string> notes;
  if (run.exit_status != 0)
    notes.push_back("the script exited with status " + std::to_string(run.exit_status) + " after launching " + training->entry_point);
  if (run.launches.size() > 1) notes.push_back("the script launched " + std::to_string(run.launches.size()) + " commands; migrated the last training launch");

  MappedArguments mapped = map_megatron_arguments(training->arguments);
  // A merge file is read only by Megatron's GPT2BPETokenizer: name it when the script leaves
  // --tokenizer-type out (as Megatron-LM's GPT-3 example does), so the vocabulary has a source.
  if (mapped.keys.count("merge_file") && !mapped.keys.count("tokenizer_type")) {
    mapped.keys["tokenizer_type"] = scalar_value(Scalar{ScalarKind::String, "GPT2BPETokenizer"});
    notes.push_back("tokenizer_type: GPT2BPETokenizer inferred from --merge-file (the only Megatron tokenizer that reads one)");
  }
  ScriptSettings settings{mapped.keys, {}, fs::path(training->entry_point).filename().string().find("mamba") != std::string::npos ? "mamba" : "gpt"};
  MigrationResult result = build_migration(script.string(), options.exp_name.value_or(script.stem().string()), settings,
                                           options, std::move(notes));
  result.unmapped = std::move(mapped.unmapped);
  result.world_size = training->world_size;
  result.entry_point = training->entry_point;
  return result;
}

namespace {

// str() of a Python value as Megatron prints it -> a value; nullopt when it is not a plain value.
std::optional<ArgValue> value_from_log(const std::string& text, const MegatronFlag* flag) {
  FlagValueType type = flag ? flag->type : FlagValueType::Auto;
  auto item = [&](std::string s) -> std::optional<Scalar> {
    if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front())
      return Scalar{ScalarKind::String, s.substr(1, s.size() - 2)};
    if (s.starts_with("<") || s.starts_with("{") || s.starts_with("[") || s.starts_with("(")) return std::nullopt;
    if (s == "None") return null_scalar();
    if (s == "True" || s == "False") return bool_scalar(s == "True");
    try {
      return typed_scalar(s, type);
    } catch (const std::invalid_argument&) {
      return scalar_from_text(s);
    }
  };
  bool list = (text.starts_with("[") && text.ends_with("]")) || (text.starts_with("(") && text.ends_with(")"));
  if (!list) {
    auto s = item(text);
    if (!s) return std::nullopt;
    if (s->kind == ScalarKind::String && type != FlagValueType::Str && text.size() >= 2 && text.front() != '\'') {
      // An enum printed as Name.member (attention_backend: AttnBackend.auto) stands for the member.
      auto dot = text.find('.');
      if (dot != std::string::npos && std::isupper(static_cast<unsigned char>(text.front())) &&
          text.find_first_of(" /") == std::string::npos)
        s->text = text.substr(dot + 1);
    }
    return scalar_value(*s);
  }
  ArgValue value{true, {}};
  std::string inner = text.substr(1, text.size() - 2), current;
  char quote = 0;
  for (char c : inner + ",") {
    if (quote) {
      if (c == quote) quote = 0;
      current += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      current += c;
    } else if (c == ',') {
      auto begin = current.find_first_not_of(' ');
      if (begin != std::string::npos) {
        auto s = item(current.substr(begin, current.find_last_not_of(' ') - begin + 1));
        if (!s) return std::nullopt;
        value.items.push_back(*s);
      }
      current.clear();
    } else {
      current += c;
    }
  }
  return value;
}

// Values Megatron computes at start-up and prints with the arguments; not settings.
bool is_derived_at_startup(const std::string& name) {
  static const std::vector<std::string> names = {
      "rank", "world_size", "local_rank", "data_parallel_size", "padded_vocab_size", "params_dtype",
      "consumed_train_samples", "consumed_valid_samples", "iteration", "num_floating_point_operations_so_far",
      "transformer_pipeline_model_parallel_size", "model_parallel_size", "virtual_pipeline_model_parallel_size",
      "encoder_tensor_model_parallel_size", "encoder_pipeline_model_parallel_size", "variable_seq_lengths",
      "skipped_train_samples", "train_samples"};
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

MigrationResult migrate_megatron_log(const fs::path& log, const MigrateOptions& options) {
  auto logged = read_logged_arguments(log);
  ScriptSettings settings;
  std::vector<UnmappedArgument> unmapped;
  std::vector<std::string> derived;
  std::optional<long long> world_size;
  for (const auto& [name, text] : logged) {
    const MegatronFlag* flag = find_megatron_flag_by_dest(name);
    if (name == "world_size") {
      try { world_size = std::stoll(text); } catch (const std::exception&) {}
    }
    if (!flag && is_derived_at_startup(name)) {
      derived.push_back(name);
      continue;
    }
    auto value = value_from_log(text, flag);
    if (!value) {
      unmapped.push_back({name + " = " + text, "not a plain value (YAML cannot hold it)"});
      continue;
    }
    if (!flag) {
      unmapped.push_back({name + " = " + text, "not a Megatron-LM argument known to this table"});
      continue;
    }
    auto fallback = megatron_default(name);
    if (fallback && same_value(*fallback, *value)) {
      settings.ran_with[name] = *value;
    } else {
      settings.explicit_keys[name] = *value;
    }
  }
  std::vector<std::string> notes;
  if (!derived.empty()) {
    std::string list;
    for (const auto& d : derived) list += (list.empty() ? "" : ", ") + d;
    notes.push_back("values Megatron-LM derived at start-up, not settings (not migrated): " + list);
  }
  MigrationResult result = build_migration(log.string(), options.exp_name.value_or(log.stem().string()), settings, options, std::move(notes));
  result.unmapped = std::move(unmapped);
  result.world_size = world_size;
  return result;
}

}  // namespace primus::migrate
