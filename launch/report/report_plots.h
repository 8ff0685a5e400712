// File: launch/report/report_plots.h
//
// The report's PNG plots (gnuplot), one line per group with a mean ± std band over its seeds:
//   val_loss.png     validation loss over steps
//   fluctuation.png  routing fluctuation over steps (runs with logging.routing_probe_every)
//   expert_load.png  late-step share of tokens per expert, sorted, against the uniform target
//   a2a_bytes.png    intra- and inter-node all-to-all bytes per step (rank 0)
// A plot with no data in any group is not drawn (a note says so). Data files: plot_*.dat.
#pragma once

#include <string>
#include <vector>

#include "launch/report/aggregate.h"

namespace switchyard::launch {

// Writes the plots into `out_dir`; returns the PNG paths written and appends notes for plots
// left out.
std::vector<std::string> write_report_plots(const std::vector<GroupReport>& groups,
                                            const std::string& out_dir,
                                            std::vector<std::string>* notes);

}  // namespace switchyard::launch
