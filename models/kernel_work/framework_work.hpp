#pragma once
// The framework way's work formulas (family "framework"): a DLRM step as PyTorch code runs it, the
// way the LazyDP paper's public code and this repository's peer (tools/peers/torch_cpu_peer.py) do
// (REFERENCE.md section 8). Each framework call (an operator dispatched from Python) counts one
// launch, which an implementation profile prices at its dispatch overhead
// (sim/implementation_profile.hpp). Where the framework computes what privrec's kernels compute,
// the CPU kernels' formulas count it; what differs is written here:
//  - autograd's first backward computes every MLP parameter's gradient; DP-SGD's reweighted
//    clipping is a second whole backward through the MLPs (loss_i x c_i);
//  - the tables' gradients come out of autograd as sparse tensors (one row of values per lookup)
//    and are coalesced by sorting their indices;
//  - dpsgd's table noise is a dense tensor the size of the table (torch.randn, then scaled), the
//    gradient scattered into it (index_add_), and a separate dense add: three passes, and the
//    noise lives beside the table (the implementation's memory footprint);
//  - eana's noise is drawn for the coalesced gradient's values and added to them;
//  - lazydp's catch-up makes the next batch's ids unique, draws their noise rows, scales them by
//    their pending steps from the history and updates it; the update concatenates them with the
//    gradient's rows, coalesces the lot and applies it with one index_add_.
#include "models/kernel_work/kernel_work.hpp"

namespace privrec::framework_work {

const KernelWork& framework_kernel_work();

// Bytes the framework holds beside the tables while it updates them: dpsgd's dense noise, one
// tensor the size of every table (as the LazyDP paper's Opacus-based code adds noise to every
// parameter at once, REFERENCE.md section 8; the repository's peer, one table at a time, peaks at
// two to three of the largest table's instead), for the plans whose table update draws noise for
// every row; 0 otherwise.
uint64_t materialized_noise_bytes(const Plan& plan, uint64_t table_bytes);

}  // namespace privrec::framework_work
