#include "models/stage.hpp"

#include "models/config_error.hpp"

namespace privrec {

Stage parse_stage(const std::string& name) {
  for (size_t i = 0; i < kStageNames.size(); ++i)
    if (name == kStageNames[i]) return static_cast<Stage>(i);
  throw InputError("unknown stage '" + name + "'");
}

bool is_communication(Stage s) {
  switch (s) {
    case Stage::comm_ids:
    case Stage::comm_fwd:
    case Stage::comm_bwd:
    case Stage::comm_norm:
    case Stage::comm_contrib:
    case Stage::comm_grads:
    case Stage::comm_next: return true;
    default: return false;
  }
}

}  // namespace privrec
