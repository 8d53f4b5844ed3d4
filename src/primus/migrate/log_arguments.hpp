// Reads the argument dump Megatron-LM prints at start-up
// ("---- arguments ----" ... "---- end of arguments ----", one "  name ..... value" per line).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

namespace primus::migrate {

// name -> the value as Megatron printed it (str() of the Python value). The last
// block wins when a log holds several (restarts). Throws std::runtime_error naming
// the file when it cannot be read or holds no complete block.
std::map<std::string, std::string> read_logged_arguments(const std::filesystem::path& log);

// Same, from text already in memory; `source` names it in errors.
std::map<std::string, std::string> parse_logged_arguments(std::string_view text, const std::string& source);

}  // namespace primus::migrate
