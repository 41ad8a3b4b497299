#include "models/stage.hpp"

#include "models/config_error.hpp"

namespace privrec {

Stage parse_stage(const std::string& name) {
  for (size_t i = 0; i < kStageNames.size(); ++i)
    if (name == kStageNames[i]) return static_cast<Stage>(i);
  throw InputError("unknown stage '" + name + "'");
}

}  // namespace privrec
