// Maps Megatron-LM arguments to keys with the generated flag table (see argument_mapping.hpp).
#include "primus/migrate/argument_mapping.hpp"

#include <stdexcept>

#include "primus/migrate/megatron_flags.hpp"

namespace primus::migrate {
namespace {

bool is_flag(const std::string& token) { return token.size() > 2 && token.starts_with("--"); }

// A flag's values: the tokens up to the next --flag.
std::vector<std::string> values_until_next_flag(const std::vector<std::string>& args, size_t& i) {
  std::vector<std::string> values;
  while (i + 1 < args.size() && !is_flag(args[i + 1])) values.push_back(args[++i]);
  return values;
}

std::string join_argument(const std::string& flag, const std::vector<std::string>& values) {
  std::string text = flag;
  for (const auto& v : values) text += " " + v;
  return text;
}

bool is_boolean(const MegatronFlag& f) {
  return f.action == FlagAction::StoreTrue || f.action == FlagAction::StoreFalse;
}

}  // namespace

MappedArguments map_megatron_arguments(const std::vector<std::string>& args) {
  MappedArguments out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& token = args[i];
    if (!is_flag(token)) {
      out.unmapped.push_back({token, "a positional argument: Megatron-LM takes only --flags"});
      continue;
    }
    std::string flag = token;
    std::vector<std::string> inline_value;  // --flag=value
    if (auto eq = token.find('='); eq != std::string::npos) {
      flag = token.substr(0, eq);
      inline_value.push_back(token.substr(eq + 1));
    }
    const MegatronFlag* spec = find_megatron_flag(flag);
    if (!spec && flag.starts_with("--no-")) {
      // Newer Megatron derives --no-X for boolean settings; X is then false.
      const MegatronFlag* positive = find_megatron_flag("--" + flag.substr(5));
      if (positive && is_boolean(*positive) && inline_value.empty()) {
        out.keys[std::string(positive->dest)] = scalar_value(bool_scalar(false));
        continue;
      }
    }
    if (!spec) {
      auto values = inline_value.empty() ? values_until_next_flag(args, i) : inline_value;
      out.unmapped.push_back({join_argument(flag, values), "not a Megatron-LM flag"});
      continue;
    }
    std::string dest(spec->dest);
    try {
      switch (spec->action) {
        case FlagAction::StoreTrue:
        case FlagAction::StoreFalse:
        case FlagAction::StoreConst: {
          if (!inline_value.empty()) throw std::invalid_argument("takes no value");
          out.keys[dest] = spec->action == FlagAction::StoreConst ? scalar_value(scalar_from_text(spec->const_yaml))
                                                                   : scalar_value(bool_scalar(spec->action == FlagAction::StoreTrue));
          break;
        }
        case FlagAction::Value: {
          std::string text;
          if (!inline_value.empty()) {
            text = inline_value.front();
          } else if (i + 1 < args.size() && !is_flag(args[i + 1])) {
            text = args[++i];
          } else {
            throw std::invalid_argument("expects a value and none follows");
          }
          out.keys[dest] = scalar_value(typed_scalar(text, spec->type));
          break;
        }
        case FlagAction::OptionalValue: {
          auto values = inline_value.empty() ? values_until_next_flag(args, i) : inline_value;
          if (values.size() > 1) throw std::invalid_argument("takes at most one value");
          out.keys[dest] = scalar_value(values.empty() ? scalar_from_text(spec->const_yaml)
                                                       : typed_scalar(values.front(), spec->type));
          break;
        }
        case FlagAction::List:
        case FlagAction::Append: {
          auto values = inline_value.empty() ? values_until_next_flag(args, i) : inline_value;
          ArgValue list{true, {}};
          if (spec->action == FlagAction::Append) {
            if (values.size() != 1) throw std::invalid_argument("expects exactly one value per use");
            if (auto it = out.keys.find(dest); it != out.keys.end() && it->second.is_list) list = it->second;
          }
          for (const auto& v : values) list.items.push_back(typed_scalar(v, spec->type));
          out.keys[dest] = std::move(list);
          break;
        }
      }
    } catch (const std::invalid_argument& e) {
      out.unmapped.push_back({token, std::string(spec->flag) + " " + e.what()});
    }
  }
  return out;
}

}  // namespace primus::migrate
