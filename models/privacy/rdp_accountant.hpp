#pragma once
// Privacy accounting for DP-SGD-style training: Renyi DP of the Poisson-subsampled Gaussian
// mechanism, composed over steps and converted to (epsilon, delta).
//
// One step samples each example with probability q, clips each example's contribution to L2 norm
// C and adds N(0, (sigma C)^2) noise: the subsampled Gaussian mechanism with noise multiplier
// sigma. Its RDP at order alpha is log(A_alpha) / (alpha - 1) (Mironov, Talwar and Zhang 2019,
// "Renyi Differential Privacy of the Sampled Gaussian Mechanism"), with A_alpha the alpha-th
// moment of the likelihood ratio; T steps compose to T times that. Everything is computed in log
// space, so tiny q, tiny sigma and orders in the thousands neither overflow nor underflow.
#include <cstdint>
#include <string>
#include <vector>

namespace privrec::privacy {

// The orders epsilon is minimized over: 1.1, 1.2, ..., 10.9 (fractional, for the large-epsilon
// regime), 11..63, then 128, 256, 512, 1024 (for strong noise and small epsilon).
const std::vector<double>& default_orders();

// log A_alpha of the Poisson-subsampled Gaussian with sampling rate q and noise multiplier sigma
// (alpha > 1; integer orders by the binomial expansion, fractional ones by the convergent series).
double log_a(double q, double sigma, double alpha);

// RDP of ONE step at order alpha: log(A_alpha) / (alpha - 1). q = 1 is the plain Gaussian
// mechanism, alpha / (2 sigma^2); q = 0 is 0; sigma = 0 (with q > 0) is +infinity.
double rdp_step(double q, double sigma, double alpha);

// How RDP becomes (epsilon, delta):
//  - tight (default): eps = rdp + log1p(-1/alpha) - (log(delta) + log(alpha)) / (alpha - 1)
//    (Balle, Barthe, Gaboardi, Hsu and Sato 2020, "Hypothesis testing interpretations and Renyi
//    differential privacy"; also Canonne, Kamath and Steinke 2020), the conversion of current
//    DP libraries;
//  - classic: eps = rdp + log(1/delta) / (alpha - 1) (Mironov 2017, Proposition 3).
enum class Conversion { tight, classic };

struct Epsilon {
  double epsilon = 0;
  double order = 0;  // the order that gave the smallest epsilon
};

// The smallest epsilon over `orders` for the total RDP curve `rdp` (same length) at delta.
Epsilon epsilon_from_rdp(const std::vector<double>& orders, const std::vector<double>& rdp, double delta,
                         Conversion conv = Conversion::tight);

// The RDP curve of `steps` steps of the subsampled Gaussian at each order.
std::vector<double> rdp_curve(double q, double sigma, int64_t steps, const std::vector<double>& orders);

// The RDP curve of a Gaussian mechanism applied once to the whole data set (no subsampling) with
// noise multiplier m (noise stddev over sensitivity): alpha / (2 m^2). dp-fest's histogram.
std::vector<double> gaussian_rdp(double m, const std::vector<double>& orders = default_orders());

// (epsilon, delta) of `steps` steps of DP-SGD with sampling rate q and noise multiplier sigma,
// composed with the one-shot mechanisms whose RDP curve is `once` (over the same orders; empty:
// none). Throws InputError for q outside (0, 1], sigma < 0, steps < 1 or delta outside (0, 1).
Epsilon dpsgd_epsilon(double q, double sigma, int64_t steps, double delta,
                      const std::vector<double>& orders = default_orders(), Conversion conv = Conversion::tight,
                      const std::vector<double>& once = {});

// The smallest noise multiplier whose epsilon is at most `target` (bisection in log sigma to a
// relative width of 1e-9: epsilon decreases monotonically in sigma). Throws InputError naming the
// target when no sigma up to 1e6 reaches it (targets below what the orders can express).
double sigma_for_epsilon(double q, int64_t steps, double delta, double target,
                         const std::vector<double>& orders = default_orders(), Conversion conv = Conversion::tight,
                         const std::vector<double>& once = {});

// Noise multipliers of Gaussian mechanisms applied to the same sample compose as one Gaussian with
// sigma_eff = (sum sigma_i^-2)^(-1/2) (their RDP curves alpha / (2 sigma_i^2) add up).
double effective_noise_multiplier(const std::vector<double>& sigmas);

// adafest spends its budget on two mechanisms: the selection (noise multiplier sigma1 / C1) and
// the gradient (sigma2). Giving the selection a share f of the budget, measured in sigma^-2,
// splits sigma_eff into sigma_sel = sigma_eff / sqrt(f) and sigma_grad = sigma_eff / sqrt(1 - f),
// which compose back to exactly sigma_eff. f must lie in (0, 1).
struct AdafestSplit {
  double selection_multiplier = 0;  // sigma1 / C1
  double gradient_multiplier = 0;   // sigma2
};
AdafestSplit split_adafest(double sigma_eff, double selection_fraction);

}  // namespace privrec::privacy
