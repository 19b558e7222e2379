#include "atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "checkpoint_error.h"

namespace bert {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Splits "a/b/c.bin" into ("a/b", "c.bin"); a bare name lives in ".".
void split_path(const std::string& path, std::string& dir, std::string& name) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) {
    dir = ".";
    name = path;
  } else {
    dir = slash == 0 ? "/" : path.substr(0, slash);
    name = path.substr(slash + 1);
  }
}

// A hidden name next to the target, unique per process and call, so concurrent writers of the same
// checkpoint (or a crashed earlier run) never collide with us.
std::string temp_name(const std::string& dir, const std::string& name) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char suffix[64];
  std::snprintf(suffix, sizeof(suffix), ".tmp-%ld-%016llx", static_cast<long>(::getpid()),
                static_cast<unsigned long long>(rng()));
  return (dir == "/" ? "/" : dir + "/") + "." + name + suffix;
}

// Owns the temporary file until it has been renamed into place; removes it otherwise.
class TempFile {
 public:
  explicit TempFile(const std::string& final_path) : final_path_(final_path) {
    std::string dir, name;
    split_path(final_path, dir, name);
    if (name.empty()) throw CheckpointWriteError(final_path, "cannot write: the path names a folder, not a file");
    for (int attempt = 0; attempt < 16; ++attempt) {
      temp_path_ = temp_name(dir, name);
      fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ >= 0) return;
      if (errno != EEXIST) break;
    }
    const int err = errno;
    temp_path_.clear();
    throw CheckpointWriteError(final_path, "cannot create a temporary file in its folder: " + errno_text(err));
  }

  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
  }

  void write(const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      // write() moves at most ~2 GiB per call on Linux; ask for less and loop on short writes.
      const size_t chunk = size < (size_t{1} << 30) ? size : (size_t{1} << 30);
      const ssize_t n = ::write(fd_, p, chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("cannot write", errno);
      }
      p += n;
      size -= static_cast<size_t>(n);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) fail("cannot fsync", errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close", errno);
    if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0)
      fail("cannot rename the temporary file into place", errno);
    temp_path_.clear();
    // Make the rename itself durable. Best effort: the new file is complete and in place already.
    std::string dir, name;
    split_path(final_path_, dir, name);
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }

 private:
  [[noreturn]] void fail(const char* what, int err) {
    throw CheckpointWriteError(final_path_,
                               std::string(what) + " (temporary file '" + temp_path_ + "'): " + errno_text(err));
  }

  std::string final_path_;
  std::string temp_path_;
  int fd_ = -1;
};

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(const ByteSink&)>& produce) {
  TempFile file(path);
  produce([&file](const void* data, size_t size) { file.write(data, size); });
  file.commit();
}

void write_file_atomically(const std::string& path, const void* data, size_t size) {
  write_file_atomically(path, [&](const ByteSink& sink) { sink(data, size); });
}

}  // namespace bert
