// Reads the model zoo for matching (see zoo_catalog.hpp).
#include "primus/migrate/zoo_catalog.hpp"

#include <yaml-cpp/yaml.h>

#include <set>
#include <stdexcept>

namespace primus::migrate {
namespace fs = std::filesystem;
namespace {

std::string node_text(const YAML::Node& node) {
  if (node.IsNull()) return "null";
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

std::vector<std::string> base_names(const YAML::Node& root, const fs::path& file) {
  std::vector<std::string> names;
  for (const char* key : {"bases", "extends"}) {
    YAML::Node list = root[key];
    if (!list) continue;
    if (list.IsScalar()) {
      names.push_back(list.Scalar());
    } else if (list.IsSequence()) {
      for (const auto& item : list) names.push_back(item.as<std::string>());
    } else {
      throw std::runtime_error(file.string() + ": '" + key + "' must be a file name or a list of them");
    }
  }
  return names;
}

YAML::Node load_file(const fs::path& file) {
  try {
    YAML::Node root = YAML::LoadFile(file.string());
    if (!root.IsNull() && !root.IsMap()) throw std::runtime_error(file.string() + ": a model preset must be a mapping");
    return root;
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(file.string() + ": invalid YAML: " + e.what());
  }
}

void resolve(const fs::path& file, std::vector<std::string>& chain, std::map<std::string, std::string>& keys) {
  std::string name = fs::weakly_canonical(file).string();
  for (const auto& seen : chain)
    if (seen == name) throw std::runtime_error(file.string() + ": inheritance cycle through " + file.filename().string());
  chain.push_back(name);
  YAML::Node root = load_file(file);
  for (const auto& base : base_names(root, file)) {
    fs::path base_file = file.parent_path() / base;
    if (!fs::exists(base_file))
      throw std::runtime_error(file.string() + ": base '" + base + "' not found in " + file.parent_path().string());
    resolve(base_file, chain, keys);
  }
  for (const auto& entry : root) {
    std::string key = entry.first.as<std::string>();
    if (key != "bases" && key != "extends") keys[key] = node_text(entry.second);
  }
  chain.pop_back();
}

}  // namespace

std::map<std::string, std::string> load_preset_file(const fs::path& file) {
  if (!fs::is_regular_file(file)) throw std::runtime_error("preset not found: " + file.string());
  std::map<std::string, std::string> keys;
  std::vector<std::string> chain;
  resolve(file, chain, keys);
  return keys;
}

std::vector<ZooModel> load_zoo_catalog(const fs::path& zoo_dir) {
  if (!fs::is_directory(zoo_dir)) throw std::runtime_error("model zoo directory not found: " + zoo_dir.string());
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(zoo_dir))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::set<std::string> bases;
  std::vector<ZooModel> catalog;
  for (const auto& file : files) {
    for (const auto& base : base_names(load_file(file), file)) bases.insert(base);
    catalog.push_back(ZooModel{file.stem().string(), load_preset_file(file), false});
  }
  for (auto& model : catalog) model.is_base = bases.count(model.name + ".yaml") > 0;
  return catalog;
}

}  // namespace primus::migrate
