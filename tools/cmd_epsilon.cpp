// privrec epsilon: the RDP accountant on its own. Epsilon for a sampling rate, noise multiplier
// and number of steps, or the noise multiplier that reaches a target epsilon.
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "models/config_error.hpp"
#include "models/privacy/rdp_accountant.hpp"
#include "tools/cli_common.hpp"

namespace privrec::cli {

int cmd_epsilon(int argc, char** argv) {
  po::options_description opts("privrec epsilon options");
  double q = 0, sigma = 0, delta = 1e-5, target = 0, epochs = 0, selection = 0;
  int64_t steps = 0, dataset = 0, batch = 0;
  std::string conversion = "tight", json_path;
  opts.add_options()("help,h", "show this help")
    ("sampling-rate", po::value(&q), "Poisson sampling rate q in (0, 1] (or give --dataset-size and --batch)")
    ("dataset-size", po::value(&dataset), "examples in the data set (q = batch / dataset size)")
    ("batch", po::value(&batch), "expected batch size (with --dataset-size)")
    ("sigma", po::value(&sigma), "noise multiplier (noise stddev / clip norm)")
    ("steps", po::value(&steps), "training steps T")
    ("epochs", po::value(&epochs), "training length in epochs instead of --steps (T = ceil(epochs / q))")
    ("delta", po::value(&delta)->default_value(delta, "1e-05"), "delta of (epsilon, delta)")
    ("target-epsilon", po::value(&target), "print the smallest sigma whose epsilon is at most this, instead")
    ("adafest-selection-budget", po::value(&selection),
     "with --target-epsilon: also split sigma into adafest's selection (sigma1/C1) and gradient (sigma2) "
     "multipliers, giving selection this share of the budget")
    ("conversion", po::value(&conversion)->default_value(conversion),
     "RDP to (epsilon, delta): tight (Balle et al. 2020, what current DP libraries use) or classic (Mironov 2017)")
    ("json", po::value(&json_path), "also write the result as JSON to FILE")
    ("force", "overwrite an existing --json file");
  po::variables_map vm;
  if (!parse(argc, argv, opts, vm,
             "usage: privrec epsilon --sampling-rate Q --sigma S --steps T [--delta D]\n"
             "       privrec epsilon --sampling-rate Q --target-epsilon E --steps T [--delta D]\n"
             "RDP accountant of the Poisson-subsampled Gaussian mechanism (DP-SGD and its variants): epsilon at\n"
             "delta for T steps, minimized over the RDP orders, or the noise multiplier that reaches a target."))
    return 0;
  check_output(json_path, vm.count("force") > 0);
  privacy::Conversion conv;
  if (conversion == "tight") conv = privacy::Conversion::tight;
  else if (conversion == "classic") conv = privacy::Conversion::classic;
  else throw InputError("--conversion " + conversion + ": expected tight or classic");

  if (vm.count("sampling-rate") && (vm.count("dataset-size") || vm.count("batch")))
    throw InputError("--sampling-rate and --dataset-size/--batch both set the sampling rate: give one");
  if (vm.count("dataset-size") != vm.count("batch"))
    throw InputError("--dataset-size and --batch go together (q = batch / dataset size)");
  if (vm.count("dataset-size")) {
    if (dataset < 1) throw InputError(fmt::format("--dataset-size {}: expected a positive number of examples", dataset));
    if (batch < 1 || batch > dataset)
      throw InputError(fmt::format("--batch {}: expected 1 .. the dataset size {}", batch, dataset));
    q = static_cast<double>(batch) / static_cast<double>(dataset);
  } else if (!vm.count("sampling-rate")) {
    throw InputError("give the sampling rate: --sampling-rate Q, or --dataset-size N with --batch B");
  }
  if (!(q > 0 && q <= 1)) throw InputError(fmt::format("--sampling-rate {}: expected a number in (0, 1]", q));
  if (vm.count("steps") == vm.count("epochs"))
    throw InputError("give the training length: --steps T or --epochs E (one of them)");
  if (vm.count("epochs")) {
    if (!(epochs > 0) || !std::isfinite(epochs)) throw InputError(fmt::format("--epochs {}: expected a positive number", epochs));
    const double t = std::ceil(epochs / q);
    if (t > 1e15) throw InputError(fmt::format("--epochs {}: {:g} steps is more than can be accounted", epochs, t));
    steps = static_cast<int64_t>(t);
  }
  if (steps < 1) throw InputError(fmt::format("--steps {}: expected at least 1", steps));
  if (vm.count("target-epsilon") == vm.count("sigma"))
    throw InputError("give --sigma S (to get epsilon) or --target-epsilon E (to get sigma), one of them");
  if (vm.count("adafest-selection-budget") && !vm.count("target-epsilon"))
    throw InputError("--adafest-selection-budget splits the sigma of a --target-epsilon; give one");

  nlohmann::json j = {{"command", "epsilon"}, {"sampling_rate", q},         {"steps", steps},
                      {"delta", delta},       {"conversion", conversion}};
  if (vm.count("sigma")) {
    if (!(sigma >= 0) || !std::isfinite(sigma))
      throw InputError(fmt::format("--sigma {}: expected a finite noise multiplier >= 0", sigma));
    const privacy::Epsilon e = privacy::dpsgd_epsilon(q, sigma, steps, delta, privacy::default_orders(), conv);
    std::printf("privrec epsilon: sampling rate %.6g, noise multiplier %.6g, %lld steps, delta %g\n", q, sigma,
                static_cast<long long>(steps), delta);
    if (std::isinf(e.epsilon))
      std::printf("epsilon: infinite (no noise)\n");
    else
      std::printf("epsilon %.6g (optimal RDP order %g, %s conversion)\n", e.epsilon, e.order, conversion.c_str());
    j["sigma"] = sigma;
    j["epsilon"] = std::isinf(e.epsilon) ? nlohmann::json(nullptr) : nlohmann::json(e.epsilon);
    j["optimal_order"] = std::isinf(e.epsilon) ? nlohmann::json(nullptr) : nlohmann::json(e.order);
  } else {
    const double s = privacy::sigma_for_epsilon(q, steps, delta, target, privacy::default_orders(), conv);
    const privacy::Epsilon e = privacy::dpsgd_epsilon(q, s, steps, delta, privacy::default_orders(), conv);
    std::printf("privrec epsilon: sampling rate %.6g, %lld steps, delta %g, target epsilon %g\n", q,
                static_cast<long long>(steps), delta, target);
    std::printf("sigma %.6g (epsilon there: %.6g, optimal RDP order %g, %s conversion)\n", s, e.epsilon, e.order,
                conversion.c_str());
    j["target_epsilon"] = target;
    j["sigma"] = s;
    j["epsilon"] = e.epsilon;
    j["optimal_order"] = e.order;
    if (vm.count("adafest-selection-budget")) {
      const privacy::AdafestSplit split = privacy::split_adafest(s, selection);
      std::printf("adafest with %.3g of the budget on selection: sigma1/C1 %.6g, sigma2 %.6g\n", selection,
                  split.selection_multiplier, split.gradient_multiplier);
      j["adafest"] = {{"selection_budget", selection},
                      {"selection_multiplier", split.selection_multiplier},
                      {"gradient_multiplier", split.gradient_multiplier}};
    }
  }
  j["machine"] = machine_json();
  if (!json_path.empty()) write_text_file(json_path, j.dump(2) + "\n");
  return 0;
}

}  // namespace privrec::cli
