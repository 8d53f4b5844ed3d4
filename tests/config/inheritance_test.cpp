// extends:/bases: inheritance: merge rules, order, provenance, cycles and missing files.
#include <gtest/gtest.h>

#include "primus/config/inheritance.hpp"
#include "test_support.hpp"

namespace primus::config {
namespace {

using testing::config_error_of;
using testing::expect_contains;
using testing::TempDir;

TEST(InheritanceTest, MapsMergeDeeplyListsAndScalarsReplace) {
  TempDir dir;
  dir.write("base.yaml", "lr: 1\nlist: [a, b, c]\nnested: {x: 1, y: 2}\nkeep: base\n");
  auto child = dir.write("child.yaml", "extends: base.yaml\nlr: 2\nlist: [z]\nnested: {y: 3}\n");
  Value merged = load_config_file(child, {});
  EXPECT_EQ(merged.map.at("lr").int_value, 2);
  ASSERT_EQ(merged.map.at("list").list.size(), 1u);
  EXPECT_EQ(merged.map.at("list").list[0].string_value, "z");
  EXPECT_EQ(merged.map.at("nested").map.at("x").int_value, 1);
  EXPECT_EQ(merged.map.at("nested").map.at("y").int_value, 3);
  EXPECT_EQ(merged.map.at("keep").string_value, "base");
  EXPECT_EQ(merged.find("extends"), nullptr);
}

TEST(InheritanceTest, MergedMapsRememberEveryFileThatSetThem) {
  TempDir dir;
  dir.write("base.yaml", "nested: {x: 1}\n");
  auto child = dir.write("child.yaml", "extends: base.yaml\n\nnested: {y: 2}\n");
  const Value merged = load_config_file(child, {});
  const Value& nested = merged.map.at("nested");
  ASSERT_EQ(nested.overridden.size(), 1u);
  EXPECT_EQ(nested.overridden[0], (SourceLocation{(dir.path() / "base.yaml").string(), 1, 1}));
  EXPECT_EQ(nested.location, (SourceLocation{child.string(), 3, 1}));
}

TEST(InheritanceTest, LaterBasesWinAndTheFileItselfWinsOverAll) {
  TempDir dir;
  dir.write("one.yaml", "a: one\nb: one\nc: one\n");
  dir.write("two.yaml", "b: two\nc: two\n");
  auto file = dir.write("top.yaml", "bases:\n  - one.yaml\n  - two.yaml\nc: top\n");
  Value merged = load_config_file(file, {});
  EXPECT_EQ(merged.map.at("a").string_value, "one");
  EXPECT_EQ(merged.map.at("b").string_value, "two");
  EXPECT_EQ(merged.map.at("c").string_value, "top");
  // Provenance: c was set in one.yaml, then two.yaml, then top.yaml, which won.
  const Value& c = merged.map.at("c");
  ASSERT_EQ(c.overridden.size(), 2u);
  EXPECT_EQ(c.overridden[0].file, (dir.path() / "one.yaml").string());
  EXPECT_EQ(c.overridden[1].file, (dir.path() / "two.yaml").string());
  EXPECT_EQ(c.location, (SourceLocation{file.string(), 4, 1}));
}

TEST(InheritanceTest, IncludingFolderIsSearchedBeforeTheZoo) {
  TempDir local;
  TempDir zoo;
  zoo.write("shared.yaml", "from: zoo\n");
  zoo.write("only_in_zoo.yaml", "zoo_key: 1\n");
  local.write("shared.yaml", "from: local\n");
  auto file = local.write("exp.yaml", "extends: [shared.yaml, only_in_zoo.yaml]\n");
  Value merged = load_config_file(file, {zoo.path()});
  EXPECT_EQ(merged.map.at("from").string_value, "local");
  EXPECT_EQ(merged.map.at("zoo_key").int_value, 1);
}

TEST(InheritanceTest, CycleIsAnErrorShowingTheChain) {
  TempDir dir;
  auto a = dir.write("a.yaml", "extends: b.yaml\nx: 1\n");
  dir.write("b.yaml", "extends: [a.yaml]\ny: 2\n");
  std::string message = config_error_of([&] { load_config_file(a, {}); });
  expect_contains(message, {"cycle", "a.yaml -> " + (dir.path() / "b.yaml").string() + " -> " + a.string()});
}

TEST(InheritanceTest, SelfInclusionIsACycle) {
  TempDir dir;
  auto a = dir.write("self.yaml", "bases: self.yaml\n");
  expect_contains(config_error_of([&] { load_config_file(a, {}); }), {"cycle", "self.yaml -> "});
}

TEST(InheritanceTest, MissingBaseNamesTheIncludingFileAndLine) {
  TempDir dir;
  auto file = dir.write("child.yaml", "lr: 1\nextends:\n  - missing_base.yaml\n");
  std::string message = config_error_of([&] { load_config_file(file, {}); });
  expect_contains(message, {file.string() + ":3:5", "'missing_base.yaml'", "not found"});
}

TEST(InheritanceTest, ExtendsMustNameFiles) {
  TempDir dir;
  auto file = dir.write("child.yaml", "extends: {a: 1}\n");
  expect_contains(config_error_of([&] { load_config_file(file, {}); }), {"child.yaml:1:1", "'extends'"});
}

TEST(InheritanceTest, TwoLevelChainAccumulatesHistory) {
  TempDir dir;
  dir.write("grand.yaml", "lr: 1\n");
  dir.write("parent.yaml", "extends: grand.yaml\nlr: 2\n");
  auto file = dir.write("child.yaml", "extends: parent.yaml\nlr: 3\n");
  const Value merged = load_config_file(file, {});
  const Value& lr = merged.map.at("lr");
  EXPECT_EQ(lr.int_value, 3);
  ASSERT_EQ(lr.overridden.size(), 2u);
  EXPECT_EQ(lr.overridden[0].file, (dir.path() / "grand.yaml").string());
  EXPECT_EQ(lr.overridden[1].file, (dir.path() / "parent.yaml").string());
}

}  // namespace
}  // namespace primus::config
