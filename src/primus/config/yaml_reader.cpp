// Reading YAML with yaml-cpp into the Value tree (see yaml_reader.hpp).
#include "primus/config/yaml_reader.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "primus/config/config_error.hpp"

namespace primus::config {
namespace {

// Aliases can make a node graph that refers to itself; stop well before the stack does.
constexpr int kMaxDepth = 256;

SourceLocation location_of(const YAML::Mark& mark, const std::string& source_name) {
  if (mark.is_null()) return {source_name, 0, 0};
  return {source_name, mark.line + 1, mark.column + 1};
}

Value convert(const YAML::Node& node, const SourceLocation& where, const std::string& source_name, int depth) {
  if (depth > kMaxDepth)
    throw ConfigError(fmt::format("{}: YAML nested deeper than {} levels (a recursive alias?)", where.str(), kMaxDepth));
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return Value::null(where);
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      // "!" is yaml-cpp's tag for quoted and block scalars: they stay strings.
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return Value::string(node.Scalar(), where);
      return parse_plain_scalar(node.Scalar(), where);
    }
    case YAML::NodeType::Sequence: {
      Value list = Value::empty_list(where);
      for (const auto& item : node) {
        SourceLocation item_where = location_of(item.Mark(), source_name);
        if (item_where.line == 0) item_where = where;
        list.list.push_back(convert(item, item_where, source_name, depth + 1));
      }
      return list;
    }
    case YAML::NodeType::Map: {
      Value map = Value::empty_map(where);
      for (const auto& entry : node) {
        SourceLocation key_where = location_of(entry.first.Mark(), source_name);
        if (key_where.line == 0) key_where = where;
        if (!entry.first.IsScalar())
          throw ConfigError(fmt::format("{}: mapping keys must be plain names, not a {}", key_where.str(),
                                        entry.first.IsSequence() ? "list" : "mapping"));
        const std::string key = entry.first.Scalar();
        if (map.map.count(key) != 0)
          throw ConfigError(fmt::format("{}: duplicate key '{}' (first set at {})", key_where.str(), key,
                                        map.map.at(key).location.str()));
        // A key's value is reported at the key's line: that is the line a user edits.
        map.map.emplace(key, convert(entry.second, key_where, source_name, depth + 1));
      }
      return map;
    }
  }
  return Value::null(where);
}

}  // namespace

Value read_yaml_text(const std::string& text, const std::string& source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
    return convert(root, {source_name, 1, 1}, source_name, 0);
  } catch (const YAML::Exception& e) {
    SourceLocation where = location_of(e.mark, source_name);
    if (where.line == 0) where = {source_name, 1, 1};
    throw ConfigError(fmt::format("{}: invalid YAML: {}", where.str(), e.msg));
  }
}

Value read_yaml_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(fmt::format("{}: cannot open file", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  Value root = read_yaml_text(buffer.str(), path.string());
  if (root.is_null()) return Value::empty_map({path.string(), 1, 1});
  if (!root.is_map())
    throw ConfigError(fmt::format("{}: the top level must be a mapping of keys, not a {}", root.location.str(),
                                  kind_name(root.kind)));
  return root;
}

}  // namespace primus::config
