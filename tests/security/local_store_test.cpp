#include <doctest/doctest.h>

#include <fstream>

#include "security/local_store.hpp"
#include "tests/support/process.hpp"

using namespace herald::security;

TEST_CASE("ACLs and users in the data directory survive a reload, missing files are empty sets") {
  herald::test::temp_dir dir;
  auto empty = load_local_security(dir.path());
  CHECK(empty.error.empty());
  CHECK(empty.acls.empty());
  CHECK(empty.users.empty());
  std::vector<acl_entry> acls{{permission::deny, "User:*", operation::delete_, resource_type::topic, "*"},
                              {permission::allow, "User:a", operation::produce, resource_type::topic, "t"}};
  REQUIRE(save_acls(dir.path(), acls).empty());
  REQUIRE(save_users(dir.path(), {{"a", "cred"}}).empty());
  auto back = load_local_security(dir.path());
  REQUIRE(back.error.empty());
  CHECK(back.acls.size() == 2);
  CHECK(back.users.at("a") == "cred");
}

TEST_CASE("a damaged ACL file is an error naming the file and the line, not an empty set") {
  herald::test::temp_dir dir;
  std::ofstream(dir.path() / "acls") << "version=1\nallow User:a produce topic:t\nallow User:a fly topic:t\n";
  auto loaded = load_local_security(dir.path());
  CHECK(loaded.error.find("acls") != std::string::npos);
  CHECK(loaded.error.find("line 3") != std::string::npos);
  std::ofstream(dir.path() / "acls") << "version=1\n";
  std::ofstream(dir.path() / "users") << "garbage";
  CHECK(load_local_security(dir.path()).error.find("users") != std::string::npos);
}
