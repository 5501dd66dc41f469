// The free-space reserve's decision (issue 8 item 2), fed samples.

#include <doctest/doctest.h>

#include "cluster/disk_guard.hpp"
#include "tests/support/process.hpp"

using namespace herald::cluster;

TEST_CASE("disk guard: full below the reserve, clear again only past the margin") {
  disk_guard g{"/data", 8u << 20};
  CHECK(!g.full());
  CHECK(g.margin() == 1u << 20);
  CHECK(!g.observe(9u << 20));
  CHECK(!g.full());
  CHECK(g.observe((8u << 20) - 1));  // crossed: changed
  CHECK(g.full());
  CHECK(!g.observe((8u << 20) + 10));  // back above the reserve but inside the margin
  CHECK(g.full());
  CHECK(g.observe(9u << 20));  // reserve + margin
  CHECK(!g.full());
  CHECK(!g.observe(8u << 20));  // exactly the reserve is not below it
  CHECK(!g.full());
}

TEST_CASE("disk guard: the refusal says how much is free, the reserve, and what to do") {
  disk_guard g{"/data", 8u << 20};
  g.observe(3u << 20);
  auto text = g.refusal("produces");
  CHECK(text == "3.0 MiB free in /data, below the 8.0 MiB reserve; produces are refused until space is freed");
}

TEST_CASE("disk guard: no reserve is never full, check() samples the real file system") {
  herald::test::temp_dir dir;
  disk_guard none{dir.path(), 0};
  auto free = none.check();
  REQUIRE(free.has_value());
  CHECK(*free > 0);
  CHECK(!none.full());
  disk_guard huge{dir.path(), ~0ull >> 1};
  REQUIRE(huge.check().has_value());
  CHECK(huge.full());
  disk_guard missing{dir.path() / "no" / "such", 1};
  CHECK(!missing.check().has_value());
  CHECK(!missing.full());
}
