#include "launch/bench_common.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include <boost/program_options.hpp>

namespace switchyard::launch {

bool parse_bench_args(const std::vector<std::string>& args,
                      const boost::program_options::options_description& options,
                      const bool& help,
                      const std::string& usage,
                      const std::string& summary) {
  namespace po = boost::program_options;
  po::variables_map vm;
  const std::vector<std::string> rest(args.begin() + std::min<size_t>(2, args.size()), args.end());
  po::store(po::command_line_parser(rest).options(options).run(), vm);
  po::notify(vm);
  if (!help) return true;
  std::cout << "usage: " << usage << "\n\n" << summary << "\n\n" << options;
  return false;
}

std::shared_ptr<comm::MpiCommunicator> bench_world_communicator() {
  comm::MpiCommunicatorOptions options;
  options.name = "world";
  options.timeout = std::chrono::milliseconds(120000);
  options.on_timeout = comm::TimeoutAction::kAbort;
  return comm::MpiCommunicator::duplicate(MPI_COMM_WORLD, options);
}

}  // namespace switchyard::launch
