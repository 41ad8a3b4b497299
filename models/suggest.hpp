#pragma once
// "Did you mean": the known name a mistyped one was most likely meant to be (commands, flags,
// presets, JSON keys), by edit distance.
#include <string>
#include <vector>

namespace privrec {

// The candidate nearest to `name` (insertions, deletions, substitutions and swaps of neighbours
// each count 1), if it is close enough to be a typo: at most 2 edits and fewer than half of the
// name's length. Empty when none is, or when several are equally near.
std::string closest_match(const std::string& name, const std::vector<std::string>& candidates);

// " (did you mean X?)" with the closest match, or "".
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace privrec
