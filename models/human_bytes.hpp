#pragma once
// Sizes as people read them ("12.3 MB", decimal units), for messages in every layer.
#include <string>

namespace privrec {

std::string human_bytes(double bytes);

}  // namespace privrec
