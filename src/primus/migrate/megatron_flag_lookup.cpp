// Look-ups over the generated flag table that the generator does not write.
#include <algorithm>

#include "primus/migrate/megatron_flags.hpp"

namespace primus::migrate {

const MegatronFlag* find_megatron_flag_by_dest(std::string_view dest) {
  auto flags = megatron_flags();
  // Prefer the flag that stores a value (or store_true) over a --no-X alias of the same dest.
  const MegatronFlag* found = nullptr;
  for (const auto& f : flags) {
    if (f.dest != dest) continue;
    if (!found || (found->action == FlagAction::StoreFalse && f.action != FlagAction::StoreFalse)) found = &f;
  }
  return found;
}

}  // namespace primus::migrate
