// Locating the config root and the zoo folders (see config_root.hpp).
#include "primus/config/config_root.hpp"

#include <cstdlib>

namespace primus::config {

std::filesystem::path find_config_root() {
  namespace fs = std::filesystem;
  if (const char* from_env = std::getenv("PRIMUS_CONFIG_ROOT"); from_env != nullptr && *from_env != '\0')
    return fs::path(from_env);
  std::error_code ignored;
  fs::path cwd = fs::current_path(ignored);
  if (!ignored && fs::is_directory(cwd / "primus" / "configs", ignored)) return cwd;
  return fs::path(PRIMUS_SOURCE_DIR);
}

std::vector<std::filesystem::path> zoo_dirs() {
  const std::filesystem::path configs = find_config_root() / "primus" / "configs";
  return {configs / "models" / "megatron", configs / "modules" / "megatron"};
}

}  // namespace primus::config
