// File: core/input_file.h
//
// Reading a file the user named (a config, a corpus, a checkpoint manifest, a run's metrics).
// Before anything is read the path is checked for what it must be: an existing regular file (not
// a directory, FIFO, socket or device, not a dangling symbolic link), readable, and no larger
// than a bound stated by the caller, so a file is never read whole without a limit. The checks
// run on the opened descriptor (fstat), so a path swapped between check and read is caught too;
// opening never blocks (O_NONBLOCK: a FIFO without a writer is refused, not waited on).
//
// Every failure is a ConfigError naming the path and the reason in one line (exit status 2 in
// the `switchyard` tool). With `field` set ("data.path"), the error names the config field and
// quotes the file in the reason.
#pragma once

#include <cstdint>
#include <string>

namespace switchyard {

// Bounds on files read whole (docs/reliability.md lists them).
inline constexpr uint64_t kMaxConfigBytes = uint64_t{16} << 20;    // experiment configs
inline constexpr uint64_t kMaxManifestBytes = uint64_t{64} << 20;  // checkpoint manifests
inline constexpr uint64_t kMaxCorpusBytes = uint64_t{1} << 30;     // corpus / token files
inline constexpr uint64_t kMaxMetricsBytes = uint64_t{1} << 30;    // a run's metrics.jsonl
// Checked for existence and size only by config validation (the readers map or parse them).
inline constexpr uint64_t kMaxTokenizerModelBytes = uint64_t{256} << 20;  // SentencePiece .model
inline constexpr uint64_t kMaxIndexedDatasetBytes = uint64_t{1} << 44;    // .idx / .bin

struct InputFile {
  std::string path;
  std::string what;        // "config file", "corpus", ...: used in the reasons
  uint64_t max_bytes = 0;  // the bound; larger files are refused before reading
  std::string field;       // optional config field the path came from
};

// Checks `file` without reading it (what `config validate` does for data files).
// Returns the file's size in bytes.
uint64_t check_input_file(const InputFile& file);

// Checks, then reads the whole file.
std::string read_input_file(const InputFile& file);

// Checks, then keeps the file open for reading in pieces: a corpus too large to read whole, or
// one to map into memory. The checks are those of read_input_file, on the descriptor that is
// then read, so the file checked is the file read. Closed with the object.
class OpenedInputFile {
 public:
  explicit OpenedInputFile(const InputFile& file);
  ~OpenedInputFile();
  OpenedInputFile(const OpenedInputFile&) = delete;
  OpenedInputFile& operator=(const OpenedInputFile&) = delete;

  const InputFile& file() const { return file_; }
  int fd() const { return fd_; }
  uint64_t size() const { return size_; }  // at the check (fstat)

  // Reads up to `n` bytes into `out`; returns 0 at the end of the file. A read error is a
  // ConfigError naming the path.
  size_t read(char* out, size_t n);

 private:
  InputFile file_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Refuses text that is not UTF-8 or holds a NUL byte, naming the byte offset of the first bad
// byte. `source` names the input (a path or an option).
void require_utf8_text(const std::string& text, const std::string& source);

// Checks that `path` is an existing directory (not a file, not a dangling link).
void require_directory(const std::string& path, const std::string& what);

}  // namespace switchyard
