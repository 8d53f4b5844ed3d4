// Parses Megatron-LM's start-up argument dump (see log_arguments.hpp).
#include "primus/migrate/log_arguments.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace primus::migrate {
namespace {

constexpr std::string_view kBegin = " arguments ----";
constexpr std::string_view kEnd = " end of arguments ----";

std::string_view trim(std::string_view text) {
  auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  auto end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

// "[rank0]:   num_layers ........ 32" -> {"num_layers", "32"}; false when the line is not an entry.
// Names of 48 characters or more are printed without dots: "  name value".
bool parse_entry(std::string_view line, std::string& name, std::string& value) {
  if (line.starts_with("[")) {  // a launcher's "[rank0]:" / "[default0]:" prefix
    auto close = line.find("]:");
    if (close != std::string_view::npos) line.remove_prefix(close + 2);
  }
  line = trim(line);
  auto name_end = line.find(' ');
  if (line.empty() || name_end == 0) return false;
  name = std::string(line.substr(0, name_end));
  std::string_view rest = name_end == std::string_view::npos ? std::string_view{} : trim(line.substr(name_end));
  auto after_dots = rest.find_first_not_of('.');
  if (rest.starts_with("..") && (after_dots == std::string_view::npos || rest[after_dots] == ' '))
    rest = after_dots == std::string_view::npos ? std::string_view{} : trim(rest.substr(after_dots));
  value = std::string(rest);
  return true;
}

}  // namespace

std::map<std::string, std::string> parse_logged_arguments(std::string_view text, const std::string& source) {
  std::map<std::string, std::string> block, last;
  bool inside = false, complete = false;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (line.find(kEnd) != std::string::npos) {
      if (inside) {
        last = std::move(block);
        complete = true;
      }
      inside = false;
      block.clear();
    } else if (line.find(kBegin) != std::string::npos && line.find("----") != std::string::npos) {
      inside = true;
      block.clear();
    } else if (inside) {
      std::string name, value;
      if (parse_entry(line, name, value)) block[name] = value;
    }
  }
  if (!complete)
    throw std::runtime_error(source + ": no Megatron-LM argument dump found (expected a block between "
                             "'------------------------ arguments ------------------------' and "
                             "'-------------------- end of arguments ---------------------')");
  if (last.empty()) throw std::runtime_error(source + ": the argument dump is empty");
  return last;
}

std::map<std::string, std::string> read_logged_arguments(const std::filesystem::path& log) {
  std::ifstream in(log);
  if (!in) throw std::runtime_error("cannot read the log " + log.string());
  std::stringstream text;
  text << in.rdbuf();
  return parse_logged_arguments(text.str(), log.string());
}

}  // namespace primus::migrate
