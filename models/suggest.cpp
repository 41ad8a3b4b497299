#include "models/suggest.hpp"

#include <algorithm>

namespace privrec {

namespace {
// Optimal string alignment distance (Damerau-Levenshtein without repeated edits of a substring).
size_t edit_distance(const std::string& a, const std::string& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}
}  // namespace

std::string closest_match(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = 3;  // at most 2 edits
  bool tie = false;   // two names as near (rmc4: rmc1, rmc2, rmc3) suggest neither
  for (const std::string& c : candidates) {
    if (c == name) continue;
    const size_t d = edit_distance(name, c);
    if (2 * d >= std::max(name.size(), c.size())) continue;
    if (d < best_d) best = c, best_d = d, tie = false;
    else if (d == best_d && c != best) tie = true;
  }
  return tie ? std::string() : best;
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  const std::string m = closest_match(name, candidates);
  return m.empty() ? "" : " (did you mean " + m + "?)";
}

}  // namespace privrec
