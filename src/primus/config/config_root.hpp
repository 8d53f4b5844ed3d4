// Where the model zoo and trainer defaults live: <root>/primus/configs/{models,modules}/megatron.
// The root comes from PRIMUS_CONFIG_ROOT, else the current directory (when it has
// primus/configs), else the source tree this binary was built from.
#pragma once

#include <filesystem>
#include <vector>

namespace primus::config {

std::filesystem::path find_config_root();

// The folders searched after the including file's own folder: models, then modules.
std::vector<std::filesystem::path> zoo_dirs();

}  // namespace primus::config
