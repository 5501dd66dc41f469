#pragma once
// Replacing a small file so that a crash leaves either the old or the new
// content, never a mix: write <path>.tmp, fsync it, rename over <path>, fsync
// the directory.

#include <filesystem>
#include <span>
#include <vector>

#include "storage/status.hpp"

namespace herald::storage {

status write_file_atomically(const std::filesystem::path& path, std::span<const char> bytes);

// Reads a whole file. errc::io_error when it cannot be opened or read.
result<std::vector<char>> read_whole_file(const std::filesystem::path& path);

// fsyncs a directory so that entries created or renamed in it are durable.
// A failure is remembered for the rest of the process (check_directory_trusted).
status sync_directory(const std::filesystem::path& dir);

// errc::io_error when an fsync of `dir` failed earlier in this process: a
// rename into it (a new hard_state, log_start, ...) may still be seen by
// lookups without being on disk, so state loaded from it is not to be
// trusted until the process restarts (a reboot makes the disk the truth).
status check_directory_trusted(const std::filesystem::path& dir);
// A reboot (the fault injector's simulated power loss) makes the disk the
// truth again.
void forget_failed_directory_syncs();

// create_directories(dir), then fsyncs the parent of every directory it
// created (deepest first), so that the new directory entries are durable.
status create_directories_durably(const std::filesystem::path& dir);

} // namespace herald::storage
