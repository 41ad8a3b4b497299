#pragma once
// One modeled step as a Chrome / Perfetto trace-event file (open it in ui.perfetto.dev or
// chrome://tracing): each stage a span, in vocabulary order, on the track of where it runs (the
// table side and the device are one track unless tables live in host memory), with its work,
// bound and time terms as arguments; lazydp's once-per-run flush follows on its own track.
#include <string>

#include <nlohmann/json.hpp>

#include "sim/simulation.hpp"

namespace privrec::sim {

nlohmann::json chrome_trace(const SimReport& report, const HardwareProfile& h, const std::string& title);

}  // namespace privrec::sim
