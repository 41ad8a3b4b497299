#pragma once
// Builders shared by the tests: small workloads, traces, and a trainer loop that returns the model.
#include "kernels/cpu/trainer.hpp"
#include "models/workload.hpp"
#include "traces/step_walk.hpp"
#include "traces/synthetic_trace.hpp"

namespace privrec::test {

inline Workload small_workload(int64_t batch = 8, const char* dist = "uniform") {
  Workload w = load_workload("tiny");
  w.batch_size = batch;
  w.set_access(AccessDistribution::parse(dist));
  return w;
}

inline AlgorithmConfig algo(AlgorithmKind kind, double sigma, double clip, NoiseSource noise = NoiseSource::gaussian) {
  AlgorithmConfig c;
  c.kind = kind;
  c.sigma = sigma;
  c.clip = clip;
  c.noise = noise;
  c.lr = 0.5;
  c.seed = 7;
  return c;
}

// Trains `steps` steps on the synthetic trace of `w` (seed 3), with the plan's setup before and its
// finish (lazydp's flush) after; records holds each step's record, then the finish's.
inline cpu::DlrmModel train(const Workload& w, const AlgorithmConfig& cfg, int64_t steps,
                            std::vector<double>* losses = nullptr, std::vector<StepRecord>* records = nullptr,
                            StepRecord* setup_record = nullptr) {
  cpu::DlrmModel m = cpu::DlrmModel::create(w, 11);
  auto trainer = cpu::make_trainer(m, cfg);
  SyntheticTrace trace(w, 3);
  StepRecord setup;
  trainer->setup(trace, steps, setup);
  if (setup_record) *setup_record = setup;
  walk_steps(trace, steps, [&](int64_t t, const Batch& batch, const Batch* next) {
    StepRecord rec;
    trainer->step(t, batch, next, rec);
    if (losses) losses->push_back(rec.loss);
    if (records) records->push_back(rec);
  });
  StepRecord fin;
  trainer->finish(steps, fin);
  if (records) records->push_back(fin);
  return m;
}

// A batch of one table and two examples, each touching every row of `touched` once (so every row
// is touched twice): adafest's selection tests.
inline Batch one_table_batch(const std::vector<int64_t>& touched) {
  Batch b;
  b.size = 2;
  b.tables.resize(1);
  std::vector<int64_t>& idx = b.tables[0].indices;
  for (int64_t r : touched) idx.push_back(r), idx.push_back(r);
  b.tables[0].offsets = {0, static_cast<int64_t>(idx.size() / 2), static_cast<int64_t>(idx.size())};
  return b;
}

}  // namespace privrec::test
