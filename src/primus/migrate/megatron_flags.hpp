// Megatron-LM's command-line flags as data (generated table in megatron_flags.cpp):
// which dest each flag writes, how argparse stores it, its value type and default.
#pragma once

#include <span>
#include <string_view>

namespace primus::migrate {

enum class FlagAction {
  Value,          // one value: --lr 3e-4
  OptionalValue,  // nargs='?': a value if one follows, else the const
  List,           // nargs='*' / '+' / N: the values up to the next flag
  Append,         // action='append': each use adds one value
  StoreTrue,      // --bf16 -> true
  StoreFalse,     // --no-masked-softmax-fusion -> masked_softmax_fusion: false
  StoreConst,     // the const, no value
};

enum class FlagValueType {
  Int,
  Float,
  Str,
  Auto,  // no type= (argparse keeps text) or a custom parser: typed like a YAML scalar
};

struct MegatronFlag {
  std::string_view flag;  // "--norm-epsilon"
  std::string_view dest;  // "norm_epsilon": the YAML key
  FlagAction action;
  FlagValueType type;
  std::string_view default_yaml;  // argparse default as YAML text; "?" when computed
  std::string_view const_yaml;    // StoreConst / OptionalValue only
};

// Every flag, sorted by flag.
std::span<const MegatronFlag> megatron_flags();

// nullptr when Megatron-LM has no such flag.
const MegatronFlag* find_megatron_flag(std::string_view flag);

// A flag that writes `dest` (the first in table order), nullptr when none does.
const MegatronFlag* find_megatron_flag_by_dest(std::string_view dest);

}  // namespace primus::migrate
