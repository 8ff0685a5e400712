// tensorboard_write_tool <metrics.jsonl> <outdir> [<first step>]: writes every record of a
// metrics.jsonl file to a new TensorBoard event file in <outdir>
// (train/tensorboard/tensorboard_log.h) and prints the file's path; with <first step>, as a
// resumed run does, a session start at that step first. The driver of
// tests/train/tensorboard_reader_test.py, which reads the file back with TensorBoard's own reader.
// Exit status: 0, 2 (usage or a malformed input line, one line on stderr), 1 (a write failure).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "train/tensorboard/tensorboard_log.h"

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::cerr << "usage: tensorboard_write_tool <metrics.jsonl> <outdir> [<first step>]\n";
    return 2;
  }
  int64_t first_step = -1;
  if (argc == 4) {
    char* end = nullptr;
    first_step = std::strtoll(argv[3], &end, 10);
    if (end == argv[3] || *end != '\0' || first_step < 0) {
      std::cerr << "tensorboard_write_tool: <first step> '" << argv[3] << "' is not a step\n";
      return 2;
    }
  }
  const std::string input = argv[1];
  std::ifstream in(input);
  if (!in) {
    std::cerr << "tensorboard_write_tool: cannot open '" << input << "'\n";
    return 2;
  }
  try {
    switchyard::tensorboard::TensorBoardLog log(argv[2]);
    if (first_step >= 0) log.mark_session_start(first_step);
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const nlohmann::json record =
          nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded()) {
        std::cerr << "tensorboard_write_tool: " << input << ":" << number << ": not JSON\n";
        return 2;
      }
      log.write_record(record);
    }
    std::cout << log.path() << "\n";
  } catch (const switchyard::Error& e) {
    std::cerr << "tensorboard_write_tool: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
