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
status sync_directory(const std::filesystem::path& dir);

} // namespace herald::storage
