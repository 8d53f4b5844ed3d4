// Reading YAML: locations on every node, quoted strings, and errors with file, line and column.
#include <gtest/gtest.h>

#include "primus/config/yaml_reader.hpp"
#include "test_support.hpp"

namespace primus::config {
namespace {

using testing::config_error_of;
using testing::expect_contains;
using testing::TempDir;

TEST(YamlReaderTest, NodesCarryFileLineAndColumn) {
  TempDir dir;
  auto file = dir.write("a.yaml", "# comment\nnum_layers: 4\nnested:\n  inner: [1, 2]\n");
  Value root = read_yaml_file(file);
  const Value& layers = root.map.at("num_layers");
  EXPECT_EQ(layers.int_value, 4);
  EXPECT_EQ(layers.location, (SourceLocation{file.string(), 2, 1}));
  const Value& inner = root.map.at("nested").map.at("inner");
  EXPECT_EQ(inner.location.line, 4);
  EXPECT_EQ(inner.location.column, 3);
  ASSERT_EQ(inner.list.size(), 2u);
  EXPECT_EQ(inner.list[1].int_value, 2);
}

TEST(YamlReaderTest, QuotedScalarsStayStrings) {
  Value root = read_yaml_text("a: \"1\"\nb: '1e-5'\nc: 1e-5\nd: \"true\"\ne: |\n  7\n", "t");
  EXPECT_EQ(root.map.at("a").kind, ValueKind::String);
  EXPECT_EQ(root.map.at("b").kind, ValueKind::String);
  EXPECT_EQ(root.map.at("c").kind, ValueKind::Float);
  EXPECT_EQ(root.map.at("d").string_value, "true");
  EXPECT_EQ(root.map.at("e").kind, ValueKind::String);
}

TEST(YamlReaderTest, MalformedYamlNamesFileLineAndColumn) {
  TempDir dir;
  // The second ':' on line 2 (column 5) starts an illegal nested mapping.
  auto file = dir.write("bad.yaml", "a: 1\nb: c: d\n");
  std::string message = config_error_of([&] { read_yaml_file(file); });
  expect_contains(message, {file.string() + ":2:5", "invalid YAML"});
}

TEST(YamlReaderTest, UnterminatedFlowListIsAnError) {
  std::string message = config_error_of([] { read_yaml_text("a: 1\nlist: [1, 2\nc: 3\n", "flow.yaml"); });
  expect_contains(message, {"flow.yaml:", "invalid YAML"});
}

TEST(YamlReaderTest, DuplicateKeysAreErrors) {
  std::string message = config_error_of([] { read_yaml_text("lr: 1\nlr: 2\n", "dup.yaml"); });
  expect_contains(message, {"dup.yaml:2:1", "duplicate key 'lr'", "dup.yaml:1:1"});
}

TEST(YamlReaderTest, TopLevelMustBeAMapping) {
  TempDir dir;
  auto file = dir.write("list.yaml", "- a\n- b\n");
  expect_contains(config_error_of([&] { read_yaml_file(file); }), {"list.yaml", "must be a mapping"});
}

TEST(YamlReaderTest, MissingFileIsAnError) {
  expect_contains(config_error_of([] { read_yaml_file("/nonexistent/x.yaml"); }),
                  {"/nonexistent/x.yaml", "cannot open"});
}

TEST(YamlReaderTest, RecursiveAliasesDoNotOverflowTheStack) {
  // yaml-cpp resolves an alias to its anchor's node; a self-reference must end in an error or a finite tree.
  try {
    read_yaml_text("a: &x [1, *x]\n", "alias.yaml");
  } catch (const ConfigError&) {
  }
  SUCCEED();
}

}  // namespace
}  // namespace primus::config
