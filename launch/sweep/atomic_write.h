// File: launch/sweep/atomic_write.h
//
// Writing a whole small file so that a reader sees the old content or the new one, never a part:
// the text goes to "<path>.tmp.<pid>", is flushed and fsynced, then renamed over `path`.
#pragma once

#include <string>

namespace switchyard::launch {

// Throws Error naming the file on any failure (the temporary file is removed).
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace switchyard::launch
