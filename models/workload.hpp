#pragma once
// What is trained: a DLRM-style model (bottom MLP over dense features, one sum-pooled embedding
// bag per table, DLRM dot interaction, top MLP, sigmoid + binary cross-entropy) and its batch size.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace privrec {

// How a table's rows are drawn by the synthetic trace generators.
struct AccessDistribution {
  enum class Kind { uniform, zipf };
  Kind kind = Kind::uniform;
  double zipf_exponent = 0.0;  // s in P(rank k) proportional to k^-s; only for zipf

  static AccessDistribution parse(const std::string& text);  // "uniform" or "zipf:S" (S > 0); throws InputError
  std::string name() const;
  bool operator==(const AccessDistribution&) const = default;
};

struct TableSpec {
  std::string name;
  int64_t rows = 0;
  int64_t dim = 0;
  int64_t pooling = 0;  // lookups per example (the bag size) in synthetic traces
  AccessDistribution access;

  int64_t bytes() const { return rows * dim * static_cast<int64_t>(sizeof(float)); }
};

struct Workload {
  std::string name;
  int64_t dense_features = 0;
  std::vector<int64_t> bottom_mlp;  // output width of each bottom layer; the last equals every table's dim
  std::vector<int64_t> top_mlp;     // output width of each top layer; the last is 1 (the logit)
  std::string interaction = "dot";
  int64_t batch_size = 0;
  std::vector<TableSpec> tables;
  // Examples in one epoch of the data set the workload stands for (0: unknown); privacy
  // accounting takes the sampling rate batch / dataset_examples from it.
  int64_t dataset_examples = 0;

  int64_t embedding_dim() const { return bottom_mlp.back(); }
  // DLRM dot interaction: bottom output (dim) + pairwise dots of the (tables + 1) vectors.
  int64_t interaction_width() const {
    int64_t f = static_cast<int64_t>(tables.size()) + 1;
    return embedding_dim() + f * (f - 1) / 2;
  }
  int64_t table_bytes() const;
  int64_t table_rows() const;
  int64_t mlp_parameters() const;

  // Every table's rows multiplied by the factor, rounded up (at least one row).
  void scale_tables(double factor);
  void set_pooling(int64_t pooling);
  void set_access(const AccessDistribution& access);

  // Checks the cross-field rules; `file` names the source in messages.
  void validate(const std::string& file) const;
  nlohmann::json to_json() const;
};

// Reads a workload from JSON (schema in README); throws InputError naming file, key and value.
Workload workload_from_json(const nlohmann::json& j, const std::string& file);
// A preset name (mlperf-dlrm, rmc1, rmc2, rmc3, tiny) or a path to a JSON file.
Workload load_workload(const std::string& preset_or_file);
std::vector<std::string> workload_preset_names();

}  // namespace privrec
