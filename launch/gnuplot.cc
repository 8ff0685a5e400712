#include "launch/gnuplot.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/errors.h"

namespace switchyard::launch {

void write_plot_data(const std::string& path, const std::string& text) {
  errno = 0;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) {
    const int err = errno;
    throw Error("cannot write '" + path + "'" +
                (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
  }
}

void run_gnuplot(const std::string& script, const std::string& what) {
  FILE* pipe = popen("gnuplot 2>&1", "w");
  if (pipe == nullptr) throw Error("cannot start gnuplot (install gnuplot-nox)");
  std::fwrite(script.data(), 1, script.size(), pipe);
  const int status = pclose(pipe);
  if (status != 0)
    throw Error("gnuplot failed while drawing " + what + " (exit status " + std::to_string(status) +
                ")");
}

}  // namespace switchyard::launch
