#pragma once
// How long, on how many devices and at what cost a training run takes: its steps (from the
// privacy accounting's sampling rate and epochs, or given) at the modeled step time, plus the
// once-per-run stages (dp-fest's selection before training, lazydp's flush after it).
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace privrec::sim {

struct TimeToTrain {
  int64_t steps = 0;
  int64_t devices = 1;
  double wall_s = 0;
  double device_hours = 0;
  std::optional<double> cost_usd;  // with a price per device-hour
  nlohmann::json to_json() const;
  // "time to train: 12,345 steps, 3.42 h wall, 27.4 device-hours, $95.8 at $3.5 per device-hour".
  std::string summary() const;
};

// `price_per_device_hour` 0: unknown (no cost). Throws InputError for a negative price.
TimeToTrain time_to_train(int64_t steps, double step_ms, double once_ms, int64_t devices, double price_per_device_hour);

}  // namespace privrec::sim
