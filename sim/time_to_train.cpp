#include "sim/time_to_train.hpp"

#include <cmath>

#include <fmt/format.h>

#include "models/config_error.hpp"

namespace privrec::sim {

TimeToTrain time_to_train(int64_t steps, double step_ms, double once_ms, int64_t devices, double price_per_device_hour) {
  if (!(price_per_device_hour >= 0) || std::isinf(price_per_device_hour))
    throw InputError(fmt::format("--price-per-device-hour {}: expected a price >= 0 in USD", price_per_device_hour));
  TimeToTrain t;
  t.steps = steps;
  t.devices = devices;
  t.wall_s = 1e-3 * (static_cast<double>(steps) * step_ms + once_ms);
  t.device_hours = t.wall_s / 3600.0 * static_cast<double>(devices);
  if (price_per_device_hour > 0) t.cost_usd = t.device_hours * price_per_device_hour;
  return t;
}

nlohmann::json TimeToTrain::to_json() const {
  nlohmann::json j = {{"steps", steps}, {"devices", devices}, {"wall_s", wall_s}, {"wall_h", wall_s / 3600.0},
                      {"device_hours", device_hours}};
  j["cost_usd"] = cost_usd ? nlohmann::json(*cost_usd) : nlohmann::json(nullptr);
  return j;
}

std::string TimeToTrain::summary() const {
  const std::string wall = wall_s >= 3600 ? fmt::format("{:.3g} h", wall_s / 3600) : fmt::format("{:.3g} s", wall_s);
  std::string s = fmt::format("time to train: {} steps, {} wall on {} device{}, {:.4g} device-hours", steps, wall, devices,
                              devices == 1 ? "" : "s", device_hours);
  if (cost_usd) s += fmt::format(", ${:.4g}", *cost_usd);
  return s;
}

}  // namespace privrec::sim
