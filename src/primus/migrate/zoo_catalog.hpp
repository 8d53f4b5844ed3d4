// The model zoo as a catalog: each preset's resolved keys (after following its
// extends:/bases: chain) as YAML scalar text, for matching a migrated script; and
// one preset file read the same way (the trainer module's defaults).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace primus::migrate {

struct ZooModel {
  std::string name;                         // file stem: "llama3_8B"
  std::map<std::string, std::string> keys;  // YAML scalar text; a list as flow text "[a, b]"
  bool is_base = false;                     // another preset extends it (llama_base, llama3_8B): loses ties to one that is not
};

// Every *.yaml in zoo_dir, sorted by name. Throws std::runtime_error naming the file
// on unreadable YAML, a missing base, or an inheritance cycle.
// Minimal reader for matching only: replaced by config::load_model_preset once the
// config loader is merged (same resolution: bases first, the file's own keys win).
std::vector<ZooModel> load_zoo_catalog(const std::filesystem::path& zoo_dir);

// One preset file's resolved keys (a model, or a module such as pre_trainer.yaml).
std::map<std::string, std::string> load_preset_file(const std::filesystem::path& file);

}  // namespace primus::migrate
