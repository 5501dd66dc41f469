#include <doctest/doctest.h>

#include <thread>

#include "security/user_store.hpp"

using namespace herald::security;

TEST_CASE("user names: SCRAM- and path-safe") {
  CHECK(check_user_name("alice").empty());
  CHECK(check_user_name("svc-etl_1.prod@eu").empty());
  CHECK_FALSE(check_user_name("").empty());
  CHECK_FALSE(check_user_name("a,b").empty());
  CHECK_FALSE(check_user_name("a=b").empty());
  CHECK_FALSE(check_user_name("a/b").empty());
  CHECK_FALSE(check_user_name("..").empty());
  CHECK_FALSE(check_user_name(std::string(256, 'a')).empty());
}

TEST_CASE("the users file round-trips and refuses damage with the line named") {
  user_map users{{"alice", "cred a with spaces"}, {"bob", "cred-b"}};
  auto text = encode_users(users);
  CHECK(text == "version=1\nalice cred a with spaces\nbob cred-b\n");
  auto back = decode_users(text);
  REQUIRE(back.ok());
  CHECK(back.value == users);
  CHECK(decode_users("").ok());
  CHECK(decode_users("version=2\n").error.find("line 1") != std::string::npos);
  CHECK(decode_users("version=1\nalice x\nalice y\n").error.find("twice") != std::string::npos);
  CHECK(decode_users("version=1\nalice\n").error.find("line 2") != std::string::npos);
  CHECK(decode_users("version=1\nal/ice x\n").error.find("line 2") != std::string::npos);
  CHECK(decode_users("version=1\nalice x").error.find("newline") != std::string::npos);
}

TEST_CASE("a ZooKeeper user record round-trips, unknown keys are skipped") {
  auto text = encode_user_record("alice", "c1");
  CHECK(text == "version=1\nname=alice\nscram_sha_256=c1\n");
  auto back = decode_user_record(text);
  REQUIRE(back.ok());
  CHECK(back.name == "alice");
  CHECK(back.credential == "c1");
  CHECK(decode_user_record("version=1\nname=alice\nfuture=1\nscram_sha_256=c1\n").ok());
  CHECK_FALSE(decode_user_record("version=1\nname=alice\n").ok());
  CHECK_FALSE(decode_user_record("version=1\nname=alice\nname=bob\nscram_sha_256=c\n").ok());
  CHECK_FALSE(decode_user_record("version=1\nname=a/b\nscram_sha_256=c\n").ok());
}

TEST_CASE("the credential store is read from other threads while it is replaced") {
  credential_store store;
  CHECK_FALSE(store.find("alice"));
  store.replace({{"alice", "c1"}});
  CHECK(store.find("alice") == std::optional<std::string>{"c1"});
  std::thread reader([&] {
    for (int i = 0; i < 10000; ++i) {
      auto c = store.find("alice");
      REQUIRE(c);
      CHECK((*c == "c1" || *c == "c2"));
    }
  });
  for (int i = 0; i < 1000; ++i)
    store.replace({{"alice", i % 2 ? "c1" : "c2"}});
  reader.join();
}
