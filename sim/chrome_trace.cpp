#include "sim/chrome_trace.hpp"

namespace privrec::sim {

namespace {
nlohmann::json span(const SimStage& s, double start_us, int tid) {
  nlohmann::json args = s.work.to_json();
  args["bound"] = bound_name(s.time.bound);
  args["memory_ms"] = s.time.memory_ms;
  args["compute_ms"] = s.time.compute_ms;
  args["rng_ms"] = s.time.rng_ms;
  args["overhead_ms"] = s.time.overhead_ms;
  args["link_ms"] = s.time.link_ms;
  return {{"name", stage_name(s.stage)}, {"cat", bound_name(s.time.bound)}, {"ph", "X"}, {"ts", start_us},
          {"dur", s.time.ms * 1e3}, {"pid", 1}, {"tid", tid}, {"args", args}};
}

nlohmann::json thread_name(int tid, const std::string& name) {
  return {{"name", "thread_name"}, {"ph", "M"}, {"pid", 1}, {"tid", tid}, {"args", {{"name", name}}}};
}
}  // namespace

nlohmann::json chrome_trace(const SimReport& report, const HardwareProfile& h, const std::string& title) {
  const bool split = h.table_stages_on_host();
  nlohmann::json events = nlohmann::json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", 1}, {"args", {{"name", title}}}});
  events.push_back(thread_name(1, split ? "device (MLPs)" : h.name));
  if (split) events.push_back(thread_name(2, "host (tables)"));
  double t = 0;
  if (!report.once.empty()) events.push_back(thread_name(3, "once per run"));
  auto once = [&](bool before) {
    for (const auto& s : report.once)
      if (s.before_training == before) events.push_back(span(s, t, 3)), t += s.time.ms * 1e3;
  };
  once(true);  // the plan's setup, before the first step
  for (const auto& s : report.stages) {
    events.push_back(span(s, t, split && runs_with_tables(s.stage) ? 2 : 1));
    t += s.time.ms * 1e3;
  }
  once(false);
  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
}

}  // namespace privrec::sim
