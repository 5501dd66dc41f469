#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "storage/atomic_file.hpp"
#include "storage/dir_lock.hpp"
#include "storage/file.hpp"
#include "storage/status.hpp"
#include "test_util.hpp"

using namespace herald::storage;
using herald::storage::test::temp_dir;

TEST_CASE("errno maps to storage error codes") {
  CHECK(make_errno_status(ENOSPC, "write x").code == errc::no_space);
  CHECK(make_errno_status(EDQUOT, "write x").code == errc::no_space);
  const auto s = make_errno_status(EIO, "write x");
  CHECK(s.code == errc::io_error);
  CHECK(s.message.find("write x") == 0);
  CHECK(std::string(to_string(errc::locked)) == "locked");
  CHECK(status::ok().is_ok());
}

TEST_CASE("dir_lock excludes a second holder until released") {
  temp_dir dir;
  const auto data = dir.path() / "data";
  auto first = dir_lock::acquire(data);
  REQUIRE_MESSAGE(first.has_value(), first.error().message);

  // flock locks belong to the open file description, so a second open in the
  // same process conflicts just as another process would.
  auto second = dir_lock::acquire(data);
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code == errc::locked);
  CHECK(second.error().message.find(data.string()) != std::string::npos);
  CHECK(second.error().message.find("pid " + std::to_string(::getpid())) != std::string::npos);

  first->reset();
  auto third = dir_lock::acquire(data);
  CHECK(third.has_value());
}

TEST_CASE("write_file_atomically replaces content and leaves no temp file") {
  temp_dir dir;
  const auto p = dir.path() / "meta.bin";
  const std::string one = "first version";
  const std::string two(10000, 'z');
  REQUIRE(write_file_atomically(p, std::span<const char>(one.data(), one.size())).is_ok());
  auto got = read_whole_file(p);
  REQUIRE(got.has_value());
  CHECK(std::string(got->begin(), got->end()) == one);

  REQUIRE(write_file_atomically(p, std::span<const char>(two.data(), two.size())).is_ok());
  got = read_whole_file(p);
  REQUIRE(got.has_value());
  CHECK(std::string(got->begin(), got->end()) == two);

  REQUIRE(write_file_atomically(p, {}).is_ok());
  CHECK(read_whole_file(p)->empty());

  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  CHECK(entries == 1);

  CHECK(read_whole_file(dir.path() / "missing").error().code == errc::io_error);
  CHECK(write_file_atomically(dir.path() / "no" / "such" / "dir", {}).code == errc::io_error);
  CHECK(sync_directory(dir.path()).is_ok());
}

TEST_CASE("file reads and writes whole ranges") {
  temp_dir dir;
  auto f = file::open(dir.path() / "f", O_RDWR | O_CREAT);
  REQUIRE(f.has_value());
  const std::string data = "0123456789";
  REQUIRE(f->pwrite_all(std::span<const char>(data.data(), data.size()), 5).is_ok());
  CHECK(*f->size() == 15);
  char buf[10];
  REQUIRE(f->pread_exact(buf, 5).is_ok());
  CHECK(std::string(buf, 10) == data);
  CHECK(*f->pread_some(buf, 10) == 5);
  CHECK(f->pread_exact(buf, 10).code == errc::io_error);
  REQUIRE(f->truncate(7).is_ok());
  CHECK(*f->size() == 7);
  CHECK(f->datasync().is_ok());
  CHECK(file::open(dir.path() / "absent", O_RDONLY).error().code == errc::io_error);
}
