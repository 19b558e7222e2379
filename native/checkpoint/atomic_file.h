// Writes a file so that readers see either the old file or the complete new one, never a
// half-written checkpoint: the bytes go to a temporary file in the same folder (so the final
// rename stays on one file system and is atomic), are fsync'ed, then renamed over the target.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace bert {

// Appends bytes to the file being written; throws CheckpointWriteError (naming the final path and the
// errno text) when the write fails.
using ByteSink = std::function<void(const void* data, size_t size)>;

// Calls `produce` with a sink writing to "<dir>/.<name>.tmp-<pid>-<random>", then fsyncs and renames
// it to `path`. If `produce` or any step throws, the temporary file is removed and the exception
// propagates (system failures as CheckpointWriteError naming `path` and the errno text).
void write_file_atomically(const std::string& path, const std::function<void(const ByteSink&)>& produce);

// The same for bytes already in memory.
void write_file_atomically(const std::string& path, const void* data, size_t size);

}  // namespace bert
