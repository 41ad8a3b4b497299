#pragma once
// A machine as the performance model sees it, loaded from JSON whose every key carries its unit.
// Datasheet presets live in configs/hardware/ (compiled into the binary, so `--hardware h100-sxm`
// works from any directory); measured profiles use the same schema with measured provenance.
#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace privrec {
class JsonObjectReader;
}

namespace privrec::sim {

// Row-random bandwidth as a function of the row size: measured points (ascending row bytes),
// interpolated in log(row bytes) and held flat beyond the ends; `fallback` when there are none.
double random_GBps_at(const std::vector<std::pair<double, double>>& by_row_B, double fallback, double row_bytes);

// A cost factor by row size and a fraction in (0, 1], measured by calibrate on the CPU; empty
// (factor 1) where not measured, e.g. the GPU presets. Two uses (ProcessorProfile):
// - memory_miss_cost: what a row read from memory costs, against the figure random_GBps_by_row_B
//   gives (every lookup a miss), when misses are only a fraction of a kernel's lookups and the rest
//   hit the caches: a few misses among many hits cannot overlap each other (the bag kernel
//   prefetches kBagPrefetch lookups ahead, a fraction of the memory latency at cache speed), so
//   each waits for more of the latency (measured through the forward kernel's loop over a
//   cache-resident hot set with misses mixed in at each fraction); the GPU's many warps in flight
//   overlap misses however sparse.
// - sorted_visit_cost: what rows visited in ascending order (the sparse updates) cost against
//   streaming the same bytes, by the share of the table's rows visited: dense visits stream, sparse
//   ones approach the row-random cost.
struct CostCurve {
  // Row bytes ascending, each with (fraction in (0, 1], cost factor > 0), fraction ascending.
  std::vector<std::pair<double, std::vector<std::pair<double, double>>>> by_row_B;
  bool empty() const { return by_row_B.empty(); }
  // Interpolated in log(fraction) and in log(row bytes), held flat beyond the measured ends; 1 when
  // empty.
  double factor(double row_bytes, double miss_fraction) const;
  // The smallest fraction measured at any row size (1 when empty).
  double smallest_fraction() const;
};

// A cache in front of a processor's memory (CPU L2/L3, a GPU's L2): the rows it holds are served
// at its rates. Capacities are the whole level's (summed over cores for private caches).
struct CacheLevel {
  std::string name;                // "L2", "L3", ...
  double capacity_MB = 0;          // 1 MB = 1e6 bytes, like every other size in a profile
  double stream_GBps = 0;          // sequential read+write bandwidth of data resident in it
  double random_GBps = 0;          // row-random bandwidth of resident rows (128 B rows)
  std::vector<std::pair<double, double>> random_GBps_by_row_B;  // optional, measured, as the processor's

  double random_GBps_for(double row_bytes) const { return random_GBps_at(random_GBps_by_row_B, random_GBps, row_bytes); }
  double capacity_bytes() const { return capacity_MB * 1e6; }
};

// One processor with its memory: where a stage runs and what it can do per second.
struct ProcessorProfile {
  double memory_GB = 0;            // capacity for tables (and, on the compute side, the model)
  double stream_GBps = 0;          // sequential read+write bandwidth
  double random_GBps = 0;          // bandwidth of row-random gathers and scatters (embedding rows)
  double gemm_GFLOPps = 0;         // achievable fp32 rate of the MLP matrix products
  double vector_GFLOPps = 0;       // achievable fp32 rate of element-wise work
  double rng_normals_per_s = 0;    // Philox4x32-10 + Box-Muller normals per second, all cores/SMs
  double sort_ops_per_s = 0;       // sorting work (WorkCounters::sort_ops key-steps) per second
  double launch_overhead_us = 0;   // per kernel launch (GPU) or parallel region (CPU)
  // Optional, measured (CPU): fresh anonymous memory faulted in and zeroed by the operating system,
  // bytes per second over all threads (WorkCounters::bytes_first_touch). 0: not measured, and
  // such bytes cost a write pass at stream_GBps (on a VM a page fault costs far more: 4 KB in
  // 6.5 us on the Zen 5 VM, 0.63 GB/s against 55 GB/s streamed). An implementation profile fitted
  // where the rate was measured carries that split in its factors: refit it when this changes.
  double first_touch_GBps = 0;
  // How far a stage's memory, arithmetic and sampling terms overlap: 1 is the pure roofline (the
  // slowest term alone, as on a GPU with enough warps in flight), 0 is their sum (each row
  // gathered, then its noise drawn, then written, one after the other). Optional, default 1;
  // privrec calibrate fits it.
  double overlap_fraction = 1.0;
  // Optional, measured: random-access bandwidth by row size in bytes (ascending). When present it
  // replaces random_GBps, interpolated in log(row bytes) and held flat beyond the ends.
  std::vector<std::pair<double, double>> random_GBps_by_row_B;
  // Optional, measured: what a miss to memory costs against random_GBps_by_row_B when misses are
  // sparse among cache hits (JSON "memory_miss_cost_by_row_B": {"row bytes": {"fraction": factor}}).
  CostCurve memory_miss_cost;
  // Optional, measured: rows of memory read and written in ascending order, as the sparse updates
  // visit them, against streaming the same bytes, by density, the share of the rows visited (JSON
  // "sorted_visit_cost_by_row_B": {"row bytes": {"density": factor}}). Without it such visits cost
  // the row-random rate, at most one streaming pass over the tables.
  CostCurve sorted_visit_cost;
  // Optional: the caches in front of the memory, nearest first (capacities ascending, all below
  // memory_GB). Row traffic that hits a cache is served at its rates (sim/memory_levels.hpp).
  std::vector<CacheLevel> caches;

  double random_GBps_for(double row_bytes) const { return random_GBps_at(random_GBps_by_row_B, random_GBps, row_bytes); }
};

// A software cache of hot rows in device memory for tables that live in host memory (FBGEMM's
// UVM-caching embeddings, HugeCTR's embedding cache): the table stages run on the device, rows it
// holds are read from device memory, misses cross the link.
struct DeviceCache {
  double capacity_GB = 0;
  std::string policy = "lru";  // "lru" or "lfu"
};

struct HardwareProfile {
  std::string name;
  std::string description;
  nlohmann::json provenance;  // {"source": "datasheet" | "measured" | ..., plus where from}
  // "device": tables and MLPs in one processor's memory. "host": tables in host memory (the
  // table stages run on the host), MLPs on the device, pooled embeddings and their gradients
  // crossing the link every step (the LazyDP paper's system).
  // A profile whose tables are on the device may still describe its host and link (a DGX's host
  // CPUs and PCIe): a placement can then move the tables there (`--tables-in host`).
  std::string tables_in = "device";
  // Whose kernels the profile models: the family of work formulas (models/kernel_work/) that
  // predicts the counters, "cpu" or "cuda" (GPU presets model the CUDA backend's kernels).
  std::string kernels;
  ProcessorProfile device;
  std::optional<ProcessorProfile> host;
  double link_GBps = 0;  // per direction, with a host (or alone: what the device's batch comes up over); 0: none
  double link_latency_us = 0;
  // Optional, only with tables_in == "host": hot rows cached in device memory.
  std::optional<DeviceCache> device_cache;
  // Optional, calibrated: measured time over the roofline time per stage, fitted on calibration
  // cases (privrec calibrate). 1 for a stage not listed.
  std::map<std::string, double> stage_efficiency;
  // Optional, calibrated: a fixed cost per stage and step in ms (allocation, thread start-up,
  // per-bag loop overheads) that the counters do not carry. 0 for a stage not listed.
  std::map<std::string, double> stage_fixed_ms;
  // Optional, calibrated: a cost per embedding bag walked (the `bags` counter) in ns: the per-bag
  // loop work of the table stages, which dominates when bags hold one lookup (mlperf-dlrm). 0 for
  // a stage not listed.
  std::map<std::string, double> stage_bag_ns;
  // Optional, calibrated: a cost per launch (or parallel region) in us beyond the device's
  // launch_overhead_us: what a chain of short kernels costs each (their ramp and drain), where the
  // stage's cases need it. 0 for a stage not listed.
  std::map<std::string, double> stage_launch_us;
  // Optional, calibrated: how far a stage's terms overlap (as ProcessorProfile::overlap_fraction,
  // which applies to a stage not listed), where the stage's own cases tell it apart: kernels differ
  // in how their memory, arithmetic and sampling work overlap. Keys are stages, without a bound.
  std::map<std::string, double> stage_overlap;
  // The implementation modeled on this hardware (sim/implementation_profile.hpp): "fused" (the
  // kernels of `kernels`, the profile as written) unless one was applied, and whether it keeps a
  // materialized noise tensor beside the tables (the framework way's dpsgd). Not written to JSON:
  // a run's output names its implementation beside the profile.
  std::string implementation = "fused";
  bool materialized_noise = false;

  // Where the table stages run: the host for host tables, unless a device cache serves them.
  bool table_stages_on_host() const { return tables_in == "host" && !device_cache; }
  const ProcessorProfile& table_side() const { return table_stages_on_host() ? *host : device; }
  // Where the tables' bytes live (their capacity limit): host memory for host tables.
  const ProcessorProfile& table_memory() const { return tables_in == "host" ? *host : device; }
  // What the tables, with what the kernels and the implementation keep beside them, may fill: a
  // host's memory whole; a device's as the backends plan it, kUsableDeviceMemory of it (a GPU
  // runtime's context and allocator slack; the CPU backend, whose "device" is the host, plans 9/10
  // of what is available too). The single-device model and the cluster model both test against this.
  double table_capacity_GB() const;
  // What to call the device's memory in a message: "device memory", or "main memory" where the
  // device is the CPU itself (cpu kernels); and the tables' memory: "host memory" or the device's.
  std::string device_memory_name() const;
  std::string table_memory_name() const;
  nlohmann::json to_json() const;
};

// A preset name (configs/hardware/NAME.json, built in) or a JSON file. Throws InputError naming
// the file, key, value and what was expected.
HardwareProfile load_hardware_profile(const std::string& name_or_file);
HardwareProfile parse_hardware_profile(const nlohmann::json& j, const std::string& file);

// The calibrated per-stage maps (stage_efficiency, stage_fixed_ms, stage_bag_ns, stage_launch_us,
// stage_overlap)
// that a hardware profile and an implementation profile may carry: read from `r` where present
// (InputError naming file, key and value), written to `j` where not empty.
using StageMap = std::map<std::string, double>;
void parse_stage_maps(JsonObjectReader& r, const std::string& file, StageMap& efficiency, StageMap& fixed_ms,
                      StageMap& bag_ns, StageMap& launch_us, StageMap& overlap);
void stage_maps_json(nlohmann::json& j, const StageMap& efficiency, const StageMap& fixed_ms, const StageMap& bag_ns,
                     const StageMap& launch_us, const StageMap& overlap);
// The CPU among the profile's processors: the host where it has one (a GPU's host, or the LazyDP
// paper's Xeon, whose "cpu" kernels are the host's table stages), else the device of a CPU profile
// ("kernels": "cpu"); nullptr for a GPU alone.
ProcessorProfile* cpu_processor(HardwareProfile& h);
const ProcessorProfile* cpu_processor(const HardwareProfile& h);
// A placement given on the command line: `tables_in` "device" or "host" (empty: the profile's),
// a device cache of `cache_GB` (NaN: the profile's; 0: none; negative: refused) with `policy` ("lru", "lfu"; empty:
// the profile's or lru). Throws InputError naming the flag when the profile cannot do it (host
// tables on a profile without a host and link, a cache larger than the device memory).
void apply_placement(HardwareProfile& h, const std::string& tables_in, double cache_GB, const std::string& policy);
std::vector<std::string> hardware_preset_names();
// Whether h was measured on this processor: provenance.source "measured", provenance.machine.cpu
// (the model name) equal to `cpu`, .hardware_threads to `threads`, and .cpu_id (family, model and
// stepping) equal to `cpu_id` where both record one ("unknown" or empty: not known).
bool measured_on(const HardwareProfile& h, const std::string& cpu, const std::string& cpu_id, int64_t threads);
// Among `profiles`, the one measured on this processor (measured_on) that models `kernels`: one
// recording this cpu_id before one recording none; within a rank `fallback` itself when it is such
// a profile, else the first; when none is, `fallback` (also for an empty or "unknown" cpu).
std::string measured_profile_for_cpu(const std::string& cpu, const std::string& cpu_id, int64_t threads,
                                     const std::string& kernels, const std::vector<HardwareProfile>& profiles,
                                     const std::string& fallback);

}  // namespace privrec::sim
