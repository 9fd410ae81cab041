// SPDX-License-Identifier: Apache-2.0
// The config file on disk: reading it (only a regular file, only up to a
// size cap) and replacing it so that a crash at any point leaves either the
// old file or the new one, whole: write a temp file beside the file,
// fsync it, rename it over, fsync the directory.
#pragma once

#include <cstddef>
#include <string>

#include "core/host/result.h"

namespace sluice {

// More than any real config; enough to refuse /dev/zero-like input early.
constexpr size_t kConfigMaxBytes = size_t{64} << 20;

// The whole file, if it is a regular file of at most kConfigMaxBytes. Never
// blocks (a FIFO is refused, not waited on) and never reads more than the
// cap and one byte. Errors are one printable line.
Result<std::string> config_file_read(const std::string& path);

class PendingFile {
 public:
  // Writes and fsyncs a temp file beside the file `path` names once its
  // symlinks are followed, with that file's mode and owner (if it exists).
  // Refuses a target that is not a regular file, or that the operator made
  // read-only (no owner write bit).
  static Result<PendingFile> prepare(const std::string& path, const std::string& text);
  ~PendingFile();  // removes the temp file unless committed
  PendingFile(PendingFile&& other) noexcept;
  PendingFile& operator=(PendingFile&&) = delete;
  PendingFile(const PendingFile&) = delete;

  // rename(2) over the target (the only failure), then fsync the directory.
  // A symlink at `path` stays a symlink; its target gets the new text.
  Result<void> commit();

 private:
  PendingFile(std::string target, std::string temp)
      : target_(std::move(target)), temp_(std::move(temp)) {}
  std::string target_;
  std::string temp_;  // empty once committed or moved from
};

Result<void> file_replace_atomic(const std::string& path, const std::string& text);

// Removes the temp files (`.NAME.tmp-XXXXXX`) that an interrupted replace
// (a SIGKILL, a crash) left beside the config file `path` names; returns
// how many. Call it at start, before anything may write the file.
Result<size_t> config_remove_stale_temps(const std::string& path);

}  // namespace sluice
