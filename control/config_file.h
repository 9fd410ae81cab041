// SPDX-License-Identifier: Apache-2.0
// Replacing the config file so that a crash at any point leaves either the
// old file or the new one, whole: write a temp file in the same directory,
// fsync it, rename it over, fsync the directory.
#pragma once

#include <string>

#include "control/result.h"

namespace sluice {

class PendingFile {
 public:
  // Writes and fsyncs `path`'s temp sibling (with `path`'s mode, if it exists).
  static Result<PendingFile> prepare(const std::string& path, const std::string& text);
  ~PendingFile();  // removes the temp file unless committed
  PendingFile(PendingFile&& other) noexcept;
  PendingFile& operator=(PendingFile&&) = delete;
  PendingFile(const PendingFile&) = delete;

  // rename(2) over `path` (the only failure), then fsync the directory.
  Result<void> commit();

 private:
  PendingFile(std::string path, std::string temp) : path_(std::move(path)), temp_(std::move(temp)) {}
  std::string path_;
  std::string temp_;  // empty once committed or moved from
};

Result<void> file_replace_atomic(const std::string& path, const std::string& text);

}  // namespace sluice
