// Reading the zoo through the config loader and choosing the matching preset.
#include <gtest/gtest.h>

#include <fstream>

#include "migrate_test_support.hpp"
#include "primus/migrate/zoo_catalog.hpp"
#include "primus/migrate/zoo_matching.hpp"

namespace primus::migrate {
namespace {
using namespace testing;

const ZooModel& by_name(const std::vector<ZooModel>& catalog, const std::string& name) {
  for (const auto& m : catalog)
    if (m.name == name) return m;
  throw std::runtime_error("no " + name);
}

TEST(ZooCatalog, TheRealZooLoadsWithItsInheritanceApplied) {
  auto catalog = load_zoo_catalog(MigrateOptions::default_zoo_dir());
  const ZooModel& llama3 = by_name(catalog, "llama3_8B");  // extends llama3_base, llama_base, language_model
  EXPECT_EQ(display_value(llama3.keys.at("num_layers")), "32");          // own key over language_model's 24
  EXPECT_EQ(display_value(llama3.keys.at("rotary_base")), "500000");     // llama3_base over llama_base's 10000
  EXPECT_EQ(display_value(llama3.keys.at("normalization")), "RMSNorm");  // llama_base over language_model's LayerNorm
  EXPECT_EQ(llama3.keys.at("normalization").items.front().kind, ScalarKind::String);
  EXPECT_EQ(llama3.keys.at("num_layers").items.front().kind, ScalarKind::Int);
  EXPECT_EQ(display_value(by_name(catalog, "llama3.1_8B").keys.at("max_position_embeddings")), "131072");
  // Which presets others extend, read from where their settings came from.
  EXPECT_FALSE(by_name(catalog, "llama3.1_8B").is_base);
  EXPECT_FALSE(by_name(catalog, "llama3.3_70B").is_base);
  EXPECT_TRUE(by_name(catalog, "llama3_70B").is_base);  // llama3.1_70B and llama3.3_70B extend it
  EXPECT_TRUE(by_name(catalog, "llama_base").is_base);
  EXPECT_TRUE(by_name(catalog, "llama3_8B").is_base);  // llama3.1_8B extends it
  EXPECT_TRUE(by_name(catalog, "language_model").is_base);
}

TEST(ZooCatalog, ConfigValuesBecomeMigrationValues) {
  config::Value list = config::Value::empty_list();
  list.list = {config::Value::string("a"), config::Value::integer(3), config::Value::null()};
  ArgValue converted = value_from_config(list);
  ASSERT_TRUE(converted.is_list);
  ASSERT_EQ(converted.items.size(), 3u);
  EXPECT_EQ(converted.items[0].kind, ScalarKind::String);
  EXPECT_EQ(converted.items[1].text, "3");
  EXPECT_EQ(converted.items[2].kind, ScalarKind::Null);
  EXPECT_EQ(value_from_config(config::Value::floating(1e-5)).items.front().kind, ScalarKind::Float);
  EXPECT_EQ(display_value(value_from_config(config::Value::boolean(true))), "true");
  // A string that looks like a number stays a string (it was quoted in the YAML).
  EXPECT_EQ(value_from_config(config::Value::string("8")).items.front().kind, ScalarKind::String);
}

TEST(ZooCatalog, MissingBasesAndCyclesAreErrorsNamingTheFile) {
  auto dir = std::filesystem::temp_directory_path() / ("primus-zoo-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "a.yaml") << "extends: [b.yaml]\nnum_layers: 2\n";
  std::ofstream(dir / "b.yaml") << "bases: [a.yaml]\n";
  try {
    load_zoo_catalog(dir);
    FAIL() << "expected a cycle error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cycle"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "b.yaml") << "extends: [missing.yaml]\n";
  try {
    load_zoo_catalog(dir);
    FAIL() << "expected a missing-base error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.yaml"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

KeyValues values(std::initializer_list<std::pair<const char*, const char*>> items) {
  KeyValues out;
  for (const auto& [k, v] : items) out[k] = scalar_value(scalar_from_text(v));
  return out;
}

TEST(ZooMatching, CanonicalFormDerivesWhatMegatronDerives) {
  auto c = canonical_architecture(values({{"hidden_size", "4096"}, {"num_attention_heads", "32"}, {"swiglu", "true"}}));
  EXPECT_EQ(display_value(c.at("ffn_hidden_size")), "10880");  // int(4*4096*2/3 / 64) * 64
  EXPECT_EQ(display_value(c.at("kv_channels")), "128");
  EXPECT_EQ(display_value(c.at("num_query_groups")), "32");  // no GQA: a group per head
  auto g = canonical_architecture(values({{"hidden_size", "1024"}, {"num_attention_heads", "16"}, {"swiglu", "false"},
                                          {"group_query_attention", "true"}, {"num_query_groups", "4"},
                                          {"use_rotary_position_embeddings", "true"}}));
  EXPECT_EQ(display_value(g.at("ffn_hidden_size")), "4096");
  EXPECT_EQ(display_value(g.at("num_query_groups")), "4");
  EXPECT_EQ(display_value(g.at("position_embedding_type")), "rope");
}

TEST(ZooMatching, PrefersTheCandidateNeedingFewerOverridesAndExplainsMisses) {
  auto catalog = load_zoo_catalog(MigrateOptions::default_zoo_dir());
  KeyValues llama3 = canonical_architecture(values({{"num_layers", "32"}, {"hidden_size", "4096"}, {"ffn_hidden_size", "14336"},
      {"num_attention_heads", "32"}, {"group_query_attention", "true"}, {"num_query_groups", "8"},
      {"normalization", "RMSNorm"}, {"swiglu", "true"}, {"add_bias_linear", "false"}, {"position_embedding_type", "rope"},
      {"untie_embeddings_and_output_weights", "true"}, {"rotary_base", "500000"}}));
  // llama3_8B and llama3.1_8B share the architecture; 131072 positions only fit llama3.1.
  auto long_context = match_zoo_model(llama3, values({{"max_position_embeddings", "131072"}}), catalog, std::nullopt);
  EXPECT_EQ(long_context.model.value_or("none"), "llama3.1_8B");
  auto short_context = match_zoo_model(llama3, values({{"max_position_embeddings", "8192"}}), catalog, std::nullopt);
  EXPECT_EQ(short_context.model.value_or("none"), "llama3_8B");

  KeyValues other = llama3;
  other["rotary_base"] = scalar_value(scalar_from_text("10000"));
  auto miss = match_zoo_model(other, {}, catalog, std::nullopt);
  EXPECT_FALSE(miss.model.has_value());
  EXPECT_NE(miss.explanation.find("rotary_base 10000 (model: 500000)"), std::string::npos) << miss.explanation;
}

}  // namespace
}  // namespace primus::migrate

namespace primus::migrate {
namespace {

TEST(ZooMatching, APresetWithoutTheNetworksSizeIsNeverAMatch) {
  auto dir = std::filesystem::temp_directory_path() / ("primus-zoo-size-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "framework_defaults.yaml") << "disable_primus_topk_router: false\n";  // no architecture keys
  std::ofstream(dir / "tiny.yaml") << "num_layers: 2\nhidden_size: 64\nnum_attention_heads: 4\nswiglu: false\n";
  auto catalog = load_zoo_catalog(dir);
  KeyValues big = canonical_architecture({{"num_layers", scalar_value(scalar_from_text("96"))},
                                          {"hidden_size", scalar_value(scalar_from_text("12288"))},
                                          {"num_attention_heads", scalar_value(scalar_from_text("96"))}});
  auto match = match_zoo_model(big, {}, catalog, std::nullopt);
  EXPECT_FALSE(match.model.has_value()) << match.explanation;
  ASSERT_EQ(match.candidates.size(), 1u);
  EXPECT_EQ(match.candidates[0].name, "tiny");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace primus::migrate
