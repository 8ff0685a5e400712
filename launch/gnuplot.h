// File: launch/gnuplot.h
//
// PNG plots through gnuplot (Debian's gnuplot-nox, pngcairo terminal): a data file per series,
// then a script piped to `gnuplot`. Used by `switchyard plot` and `switchyard report`.
#pragma once

#include <string>

namespace switchyard::launch {

// Writes a plot's data file; a full disk is one line naming the file, not a silently cut plot.
void write_plot_data(const std::string& path, const std::string& text);

// Pipes `script` to gnuplot; throws Error naming `what` when gnuplot is missing or fails.
void run_gnuplot(const std::string& script, const std::string& what);

}  // namespace switchyard::launch
