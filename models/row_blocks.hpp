#pragma once
// Row blocks of a table split over k devices or ranks, as even as can be: the first rows % k blocks
// are one row longer, and every block has a row when k <= rows. The model's row-wise sharding
// (sim/sharding.hpp) and the sharded kernels (kernels/mpi/) split tables the same way.
#include <cstdint>

namespace privrec {

int64_t row_block_rows(int64_t rows, int64_t k, int64_t block);   // rows in block `block`
int64_t row_block_first(int64_t rows, int64_t k, int64_t block);  // its first row
int64_t row_block_of(int64_t rows, int64_t k, int64_t row);       // the block holding `row`

}  // namespace privrec
