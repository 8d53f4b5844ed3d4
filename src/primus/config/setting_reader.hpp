// SettingReader: typed look-ups of flat settings for the builder. A key the YAML
// does not set reads as its schema default; a null leaves the field's default;
// type problems were reported by the schema check and are skipped here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "primus/config/diagnostics.hpp"
#include "primus/config/resolved_config.hpp"

namespace primus::config {

class SettingReader {
 public:
  SettingReader(const FlatSettings& settings, Diagnostics& diagnostics);

  // The value in force (setting, else schema default); nullptr when neither exists.
  const Value* value(const std::string& key) const;
  bool is_null(const std::string& key) const;
  // "file:line:column" of the winning setting, or "the default".
  std::string where(const std::string& key) const;

  void read(const std::string& key, bool& out) const;
  void read(const std::string& key, int& out) const;
  void read(const std::string& key, std::int64_t& out) const;
  void read(const std::string& key, double& out) const;
  void read(const std::string& key, std::string& out) const;
  void read(const std::string& key, std::optional<int>& out) const;
  void read(const std::string& key, std::optional<std::int64_t>& out) const;
  void read(const std::string& key, std::optional<double>& out) const;
  void read(const std::string& key, std::vector<std::string>& out) const;

  // One of `choices` (compared without case, '-' and '_' alike); an error lists them otherwise.
  template <typename Enum>
  void read_choice(const std::string& key, Enum& out, const std::vector<std::pair<std::string, Enum>>& choices) const {
    std::string text;
    if (read_choice_text(key, text)) match_choice(key, text, choices, out);
  }

  // A list (or one space-separated string) of `choices`; each entry that is none of them is
  // an error listing them. A null leaves `out` as it is.
  template <typename Enum>
  void read_choice_list(const std::string& key, std::vector<Enum>& out,
                        const std::vector<std::pair<std::string, Enum>>& choices) const {
    std::vector<std::string> texts;
    if (!read_choice_list_texts(key, texts)) return;
    std::vector<Enum> chosen(texts.size());
    bool all_known = true;
    for (std::size_t i = 0; i < texts.size(); ++i) all_known &= match_choice(key, texts[i], choices, chosen[i]);
    if (all_known) out = std::move(chosen);
  }

 private:
  // out = the choice named `text`, or an error listing the names (false).
  template <typename Enum>
  bool match_choice(const std::string& key, const std::string& text,
                    const std::vector<std::pair<std::string, Enum>>& choices, Enum& out) const {
    for (const auto& [name, choice] : choices)
      if (same_choice(name, text)) {
        out = choice;
        return true;
      }
    std::vector<std::string> names;
    for (const auto& entry : choices) names.push_back(entry.first);
    report_bad_choice(key, text, names);
    return false;
  }
  bool read_choice_text(const std::string& key, std::string& text) const;
  // false for null/absent (or a value of the wrong type, reported by the schema check).
  bool read_choice_list_texts(const std::string& key, std::vector<std::string>& texts) const;
  static bool same_choice(const std::string& a, const std::string& b);
  void report_bad_choice(const std::string& key, const std::string& text, const std::vector<std::string>& names) const;

  const FlatSettings& settings_;
  Diagnostics& diagnostics_;
  mutable std::map<std::string, Value> defaults_;
};

}  // namespace primus::config
