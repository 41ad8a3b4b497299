#include "models/work_counters.hpp"

namespace privrec {

WorkCounters& WorkCounters::operator+=(const WorkCounters& o) {
#define PRIVREC_ADD_COUNTER(name, doc) name += o.name;
  PRIVREC_WORK_COUNTER_FIELDS(PRIVREC_ADD_COUNTER)
#undef PRIVREC_ADD_COUNTER
  return *this;
}

WorkCounters WorkCounters::divided_by(uint64_t n) const {
  WorkCounters m;
  if (n == 0) return m;  // no steps: a zero mean rather than a division by zero
#define PRIVREC_DIVIDE_COUNTER(name, doc) m.name = name / n;
  PRIVREC_WORK_COUNTER_FIELDS(PRIVREC_DIVIDE_COUNTER)
#undef PRIVREC_DIVIDE_COUNTER
  return m;
}

nlohmann::json WorkCounters::to_json() const {
  nlohmann::json j = nlohmann::json::object();
#define PRIVREC_COUNTER_JSON(name, doc) j[#name] = name;
  PRIVREC_WORK_COUNTER_FIELDS(PRIVREC_COUNTER_JSON)
#undef PRIVREC_COUNTER_JSON
  j["bytes_read"] = bytes_read();
  j["bytes_written"] = bytes_written();
  return j;
}

const std::vector<std::string>& WorkCounters::field_names() {
#define PRIVREC_COUNTER_NAME(name, doc) #name,
  static const std::vector<std::string> names{PRIVREC_WORK_COUNTER_FIELDS(PRIVREC_COUNTER_NAME)};
#undef PRIVREC_COUNTER_NAME
  return names;
}

const std::vector<std::string>& work_counter_docs() {
#define PRIVREC_COUNTER_DOC(name, doc) doc,
  static const std::vector<std::string> docs{PRIVREC_WORK_COUNTER_FIELDS(PRIVREC_COUNTER_DOC)};
#undef PRIVREC_COUNTER_DOC
  return docs;
}

std::string WorkCounters::csv_header() {
  std::string s;
  for (const auto& name : field_names()) s += (s.empty() ? "" : ",") + name;
  return s;
}

std::string WorkCounters::csv_values() const {
  std::string s;
  // The separator goes before every value but the first, matching csv_header() column for column.
#define PRIVREC_COUNTER_CSV(name, doc) \
  if (!s.empty()) s += ',';                \
  s += std::to_string(name);
  PRIVREC_WORK_COUNTER_FIELDS(PRIVREC_COUNTER_CSV)
#undef PRIVREC_COUNTER_CSV
  return s;
}

}  // namespace privrec
