// The plans' communication stages and the split of every work formula into the side of a sharded
// step that does it (plan.hpp OpSide, kernel_work.hpp WorkSide). The scale-out model (sim/) adds
// up the parts per device; these tests hold the parts to what it relies on: they add up to the
// whole op, each reads only its side's sizes, and the tables' part of the per-example norms adds
// up over any partition of the tables. On one device nothing communicates: the driver and the
// work model record no communication stage.
#include <gtest/gtest.h>

#include <stdexcept>

#include "kernels/step_driver.hpp"
#include "models/kernel_work/kernel_work.hpp"
#include "sim/work_model.hpp"
#include "tests/test_helpers.hpp"

using namespace privrec;
using namespace privrec::test;

namespace {

std::string show(const WorkCounters& w) { return w.to_json().dump(); }

// tiny, with `extra` more tables (copies of its first with other sizes), at batch `batch`.
Workload workload_with(size_t extra, int64_t batch) {
  Workload w = small_workload(batch);
  for (size_t i = 0; i < extra; ++i) {
    TableSpec t = w.tables[0];
    t.name = "x" + std::to_string(i), t.rows = 300 + 70 * static_cast<int64_t>(i), t.pooling = 2 + static_cast<int64_t>(i);
    w.tables.push_back(t);
  }
  return w;
}

// The sizes of a step of `w`: every table field set, distinct and nonzero, different per table and
// per `seed`. `selected` below `rows` (dp-fest's noisy ranking), except on the table `all_selected`.
StepSizes sizes_of(const Workload& w, int64_t batch, uint64_t seed, size_t all_selected = SIZE_MAX) {
  StepSizes s;
  s.dense = dense_shape(w, batch);
  for (size_t i = 0; i < w.tables.size(); ++i) {
    const uint64_t k = seed * 1000 + 37 * i + 1;
    TableSizes t;
    t.rows = static_cast<uint64_t>(w.tables[i].rows);
    t.lookups = k + 1, t.unique_rows = k + 2, t.bag_distinct = k + 3, t.bag_lookups_sq = k + 4;
    t.bag_sort_ops = k + 5, t.lookup_sort_ops = k + 6, t.bag_distinct_sort_ops = k + 7;
    t.selected = i == all_selected ? t.rows : t.rows / 2 + i + 1, t.selected_touched = k % 13 + 1;
    t.selection_draws = k + 8, t.next_lookups = k + 9, t.next_unique = k + 10, t.next_sort_ops = k + 11;
    t.owed = k + 12, t.owed_steps = 3 * k + 13;
    t.trace_lookups = 5 * k + 14, t.trace_bag_distinct = 4 * k + 15, t.trace_bag_sort_ops = 6 * k + 16;
    s.tables.push_back(t);
  }
  return s;
}

std::vector<StepSizes> several_sizes() {
  return {sizes_of(small_workload(16), 16, 1), sizes_of(workload_with(2, 7), 7, 2, 1),
          sizes_of(workload_with(4, 33), 33, 3)};
}

// Each algorithm under Gaussian noise, and under `zero` (lazydp: in both of its noise modes).
std::vector<AlgorithmConfig> configs() {
  std::vector<AlgorithmConfig> out;
  for (const AlgorithmInfo& a : algorithm_registry())
    for (NoiseSource src : {NoiseSource::gaussian, NoiseSource::zero}) {
      AlgorithmConfig c = algo(a.kind, 0.8, 0.5, src);
      out.push_back(c);
      if (a.kind == AlgorithmKind::lazydp) c.lazydp.noise = LazyNoiseMode::exact, out.push_back(c);
    }
  return out;
}

std::vector<const PlanStage*> stages_of(const Plan& p) {
  std::vector<const PlanStage*> out;
  for (const auto* phase : {&p.setup, &p.step, &p.finish})
    for (const PlanStage& s : *phase) out.push_back(&s);
  return out;
}

// The checks on one op at one size, for one family.
void expect_sides(const KernelWork& fam, const Op& op, const StepSizes& s, const AlgorithmConfig& cfg) {
  const WorkCounters dense = fam.part(op, s, cfg, WorkSide::dense), tables = fam.part(op, s, cfg, WorkSide::tables);
  WorkCounters sum = dense;
  sum += tables;
  EXPECT_EQ(fam.op(op, s, cfg), sum) << "op " << show(fam.op(op, s, cfg)) << "\nparts " << show(sum);
  const OpSide side = op_side(op.kind);
  if (side == OpSide::dense || side == OpSide::communication) {
    EXPECT_EQ(tables, WorkCounters{}) << show(tables);
  }
  if (side == OpSide::tables || side == OpSide::communication) {
    EXPECT_EQ(dense, WorkCounters{}) << show(dense);
  }
  if (side == OpSide::both) {
    EXPECT_NE(dense, WorkCounters{});
    EXPECT_NE(tables, WorkCounters{});
  }
  StepSizes no_layers = s;
  no_layers.dense.layers.clear();
  EXPECT_EQ(fam.part(op, no_layers, cfg, WorkSide::tables), tables) << "the tables' side read the MLP layers";
  StepSizes no_tables = s;
  no_tables.tables.clear();
  EXPECT_EQ(fam.part(op, no_tables, cfg, WorkSide::dense), dense) << "the dense side read the tables";
}

}  // namespace

TEST(PlanSides, PartsAddUpToTheOpAndReadOnlyTheirSide) {
  const std::vector<StepSizes> sizes = several_sizes();
  for (const std::string& family : {std::string("cpu"), std::string("cuda")}) {
    const KernelWork& fam = kernel_work(family);
    for (const AlgorithmConfig& cfg : configs())
      for (const PlanStage* st : stages_of(plan_of(cfg.kind)))
        for (const Op& op : st->ops)
          for (size_t i = 0; i < sizes.size(); ++i) {
            SCOPED_TRACE(family + " " + algorithm_info(cfg.kind).name + " " + stage_name(st->stage) + " " +
                         op_name(op.kind) + " sizes " + std::to_string(i));
            expect_sides(fam, op, sizes[i], cfg);
          }
  }
}

// An example's squared norm is a sum over parameters: each shard's tables part of it, summed over
// the shards (comm.norm's all-reduce), is the one device's. Every counter adds up except launches:
// each device launches its own kernels, however few tables it holds.
TEST(PlanSides, TableNormsSumOverShards) {
  const Workload w = workload_with(3, 12);  // 6 tables
  const StepSizes whole = sizes_of(w, 12, 5);
  const std::vector<std::vector<std::vector<size_t>>> partitions = {
      {{0, 1, 2, 3, 4, 5}}, {{0, 1}, {2}, {3, 4, 5}}, {{5}, {0, 2, 4}, {1, 3}}, {{0}, {1}, {2}, {3}, {4}, {5}}};
  const AlgorithmConfig cfg = algo(AlgorithmKind::dpsgd_f, 0.8, 0.5);
  auto no_launches = [](WorkCounters c) {
    c.launches = 0;
    return c;
  };
  for (const std::string& family : {std::string("cpu"), std::string("cuda")})
    for (Norms n : {Norms::ghost, Norms::materialized, Norms::materialized_kept}) {
      const Op op{.kind = OpKind::clip_norms, .norms = n};
      const KernelWork& fam = kernel_work(family);
      const WorkCounters one_device = fam.part(op, whole, cfg, WorkSide::tables);
      for (const auto& shards : partitions) {
        SCOPED_TRACE(family + " " + norms_name(n) + " " + std::to_string(shards.size()) + " shards");
        WorkCounters summed;
        for (const auto& held : shards) {
          StepSizes shard;
          shard.dense = whole.dense;  // the whole batch, and the number of tables this device holds
          shard.dense.tables = held.size();
          shard.dense.layers.clear();
          for (size_t t : held) shard.tables.push_back(whole.tables[t]);
          const WorkCounters part = fam.part(op, shard, cfg, WorkSide::tables);
          EXPECT_GT(part.launches, 0u);
          summed += part;
        }
        EXPECT_EQ(no_launches(summed), no_launches(one_device))
            << "shards " << show(summed) << "\none device " << show(one_device);
      }
    }
}

// The embeddings' ghost norm term (2 B T d + 2 B T flops) counts the shards the device holds,
// sizes.dense.tables, not the tables listed (a caller may list none).
TEST(PlanSides, GhostEmbeddingNormsCountTheShardsHeld) {
  const Op op{.kind = OpKind::clip_norms, .norms = Norms::ghost};
  const AlgorithmConfig cfg = algo(AlgorithmKind::dpsgd_f, 0.8, 0.5);
  StepSizes s = sizes_of(small_workload(16), 16, 1);
  s.tables.clear(), s.dense.layers.clear();
  for (uint64_t shards : {1u, 4u}) {
    s.dense.tables = shards;
    const uint64_t B = s.dense.batch, d = s.dense.dim;
    for (const std::string& family : {std::string("cpu"), std::string("cuda")})
      EXPECT_EQ(kernel_work(family).part(op, s, cfg, WorkSide::tables).flops, 2 * B * shards * d + 2 * B * shards)
          << family << " " << shards;
  }
}

TEST(PlanSides, OperationsHaveNamesAndSides) {
  for (OpKind k : {OpKind::exchange_ids, OpKind::exchange_pooled, OpKind::exchange_pooled_grads,
                   OpKind::reduce_example_norms, OpKind::reduce_contribution_norms, OpKind::reduce_dense_grads,
                   OpKind::route_next_ids}) {
    EXPECT_STRNE(op_name(k), "?");
    EXPECT_EQ(op_side(k), OpSide::communication) << op_name(k);
  }
  EXPECT_TRUE(needs_next_batch(OpKind::route_next_ids));
  EXPECT_FALSE(needs_next_batch(OpKind::exchange_ids));
  EXPECT_EQ(op_side(OpKind::clip_norms), OpSide::both);
  EXPECT_EQ(op_side(OpKind::clipped_sum), OpSide::both);
  EXPECT_EQ(op_side(OpKind::dense_forward), OpSide::dense);
  EXPECT_EQ(op_side(OpKind::embedding_forward), OpSide::tables);
  EXPECT_EQ(parse_stage("comm.norm"), Stage::comm_norm);
  EXPECT_TRUE(is_communication(Stage::comm_next));
  EXPECT_FALSE(is_communication(Stage::fest_select));
}

namespace {
// Where stage s is in the step (-1: absent).
int index_of(const std::vector<PlanStage>& step, Stage s) {
  for (size_t i = 0; i < step.size(); ++i)
    if (step[i].stage == s) return static_cast<int>(i);
  return -1;
}

// `comm` is in the step exactly when `anchor` is, at offset `at` from it (-1 before, +1 after).
void expect_beside(const std::vector<PlanStage>& step, Stage comm, Stage anchor, int at) {
  const int a = index_of(step, anchor), c = index_of(step, comm);
  if (a < 0) {
    EXPECT_EQ(c, -1) << stage_name(comm) << " without " << stage_name(anchor);
    return;
  }
  EXPECT_EQ(c, a + at) << stage_name(comm) << " beside " << stage_name(anchor);
}
}  // namespace

TEST(PlanSides, CommunicationStagesSitWhereTheDataMoves) {
  for (const AlgorithmInfo& a : algorithm_registry()) {
    SCOPED_TRACE(a.name);
    const std::vector<PlanStage>& step = a.plan.step;
    ASSERT_GE(index_of(step, Stage::fwd_emb), 0);
    EXPECT_LT(index_of(step, Stage::comm_ids), index_of(step, Stage::fwd_emb));
    EXPECT_GE(index_of(step, Stage::comm_ids), 0);
    expect_beside(step, Stage::comm_fwd, Stage::fwd_emb, +1);
    expect_beside(step, Stage::comm_bwd, Stage::bwd_mlp, +1);
    expect_beside(step, Stage::comm_norm, Stage::dp_norm, +1);
    expect_beside(step, Stage::comm_contrib, Stage::adafest_select, -1);
    expect_beside(step, Stage::comm_grads, Stage::update_mlp, -1);
    expect_beside(step, Stage::comm_next, Stage::lazydp_catchup, -1);
    EXPECT_EQ(index_of(step, Stage::comm_norm) >= 0, a.plan.has(OpKind::clip_norms));
    for (const PlanStage* st : stages_of(a.plan)) {
      EXPECT_EQ(is_communication(st->stage), communicates_only(*st)) << stage_name(st->stage);
      if (is_communication(st->stage)) {
        EXPECT_EQ(st->ops.size(), 1u) << stage_name(st->stage);
      }
      for (const Op& op : st->ops)
        EXPECT_EQ(op_side(op.kind) == OpSide::communication, is_communication(st->stage)) << stage_name(st->stage);
    }
  }
}

// One CPU process trains every algorithm without a communication stage in any record.
TEST(PlanSides, OneRankRecordsNoCommunication) {
  const Workload w = small_workload(8);
  for (const AlgorithmInfo& a : algorithm_registry()) {
    AlgorithmConfig cfg = algo(a.kind, 0.8, 0.5);
    cfg.fest.k = 20;
    std::vector<StepRecord> recs;
    StepRecord setup;
    train(w, cfg, 2, nullptr, &recs, &setup);
    recs.push_back(setup);
    sim::WorkModel model(w, cfg, kernel_work("cpu"));
    const StepSizes sizes = sizes_of(w, 8, 1);
    recs.push_back(model.work_of(sizes, true));
    recs.push_back(model.work_of_finish(sizes));
    for (const StepRecord& r : recs)
      for (size_t s = 0; s < kStages; ++s) {
        if (!is_communication(static_cast<Stage>(s))) continue;
        EXPECT_FALSE(r.ran[s]) << a.name << " " << kStageNames[s];
        EXPECT_EQ(r.seconds[s], 0.0) << a.name << " " << kStageNames[s];
        EXPECT_EQ(r.work[s], WorkCounters{}) << a.name << " " << kStageNames[s];
      }
  }
}

namespace {
// A backend of several ranks whose operations do nothing: the driver must refuse to exchange.
class TwoRanks : public StepOps {
 public:
  int64_t ranks() const override { return 2; }
  void start_stage(Stage) override {}
  double stop_stage_seconds(Stage) override { return 0; }
  void embedding_forward(const OpContext&, WorkCounters&) override { ++ran; }
  void dense_forward(const OpContext&, WorkCounters&) override {}
  void backward_deltas(const OpContext&, WorkCounters&) override {}
  void weight_grads(const OpContext&, bool, WorkCounters&) override {}
  void clip_norms(const OpContext&, Norms, WorkCounters&) override {}
  void clipped_sum(const OpContext&, WorkCounters&) override {}
  void coalesce(const OpContext&, bool, WorkCounters&) override {}
  void select_rows(const OpContext&, WorkCounters&) override {}
  void choose_fixed_rows(const OpContext&, WorkCounters&) override {}
  void mlp_update(const OpContext&, NoiseTarget, WorkCounters&) override {}
  void table_update(const OpContext&, NoiseTarget, WorkCounters&) override {}
  void lazy_catchup(const OpContext&, WorkCounters&) override {}
  void lazy_flush(const OpContext&, WorkCounters&) override {}
  int ran = 0;
};
}  // namespace

TEST(PlanSides, SeveralRanksDoNotExchangeYet) {
  TwoRanks ops;
  StepRecord rec;
  OpContext c;
  c.rec = &rec;
  EXPECT_THROW(run_stages(ops, plan_of(AlgorithmKind::sgd).step, c), std::logic_error);
  EXPECT_EQ(ops.ran, 0);  // comm.ids comes first: nothing ran before it
}
