#include <doctest/doctest.h>

#include "security/acl.hpp"

using namespace herald::security;

TEST_CASE("an ACL's text form round-trips") {
  const acl_entry a{permission::deny, "User:alice", operation::produce, resource_type::topic, "orders.*"};
  CHECK(encode(a) == "deny User:alice produce topic:orders.*");
  auto back = parse_acl(encode(a));
  REQUIRE(back.ok());
  CHECK(back.value == a);
  auto c = parse_acl("allow User:ops alter cluster:cluster");
  REQUIRE(c.ok());
  CHECK(c.value.type == resource_type::cluster);
  CHECK(c.value.op == operation::alter);
}

TEST_CASE("bad ACL lines are refused with the field named") {
  CHECK(parse_acl("allow User:alice produce").error.find("4 fields") != std::string::npos);
  CHECK(parse_acl("allow  User:alice produce topic:x").error.find("4 fields") != std::string::npos);
  CHECK(parse_acl("permit User:alice produce topic:x").error.find("permission") != std::string::npos);
  CHECK(parse_acl("allow alice produce topic:x").error.find("principal") != std::string::npos);
  CHECK(parse_acl("allow User: produce topic:x").error.find("principal") != std::string::npos);
  CHECK(parse_acl("allow User:a* produce topic:x").error.find("principal") != std::string::npos);
  CHECK(parse_acl("allow User:alice write topic:x").error.find("operation") != std::string::npos);
  CHECK(parse_acl("allow User:alice produce table:x").error.find("resource") != std::string::npos);
  CHECK(parse_acl("allow User:alice produce topic:").error.find("empty") != std::string::npos);
  CHECK(parse_acl("allow User:alice produce topic:a*b").error.find("'*'") != std::string::npos);
  CHECK(parse_acl("allow User:alice produce topic:a/b").error.find("topic name") != std::string::npos);
  CHECK(parse_acl("allow User:alice alter cluster:other").error.find("cluster") != std::string::npos);
  CHECK(parse_acl("allow User:alice produce topic:" + std::string(256, 'a')).error.find("255") != std::string::npos);
  CHECK(parse_acl("allow User:*  produce topic:x").error.size() > 0);
  CHECK(parse_acl("allow User:* produce topic:x").ok());
}

TEST_CASE("patterns: literal, prefix and all") {
  CHECK(pattern_matches("orders", "orders"));
  CHECK_FALSE(pattern_matches("orders", "orders2"));
  CHECK_FALSE(pattern_matches("orders", "order"));
  CHECK(pattern_matches("orders*", "orders"));
  CHECK(pattern_matches("orders*", "orders.eu"));
  CHECK_FALSE(pattern_matches("orders*", "order"));
  CHECK(pattern_matches("*", "anything"));
  CHECK(pattern_matches("*", ""));
}

TEST_CASE("an entry matches by type, operation (or all), principal (or User:*) and pattern") {
  const acl_entry a{permission::allow, "User:alice", operation::produce, resource_type::topic, "orders*"};
  CHECK(a.matches("User:alice", operation::produce, resource::topic("orders.eu")));
  CHECK_FALSE(a.matches("User:bob", operation::produce, resource::topic("orders")));
  CHECK_FALSE(a.matches("User:alice", operation::consume, resource::topic("orders")));
  CHECK_FALSE(a.matches("User:alice", operation::produce, resource::group("orders")));
  const acl_entry any{permission::allow, "User:*", operation::all, resource_type::topic, "*"};
  CHECK(any.matches("User:bob", operation::delete_, resource::topic("x")));
  CHECK_FALSE(any.matches("User:bob", operation::alter, resource::cluster()));
}

TEST_CASE("an ACL set's text is sorted, deduplicated and versioned") {
  std::vector<acl_entry> acls{
    {permission::allow, "User:bob", operation::consume, resource_type::topic, "b"},
    {permission::allow, "User:alice", operation::produce, resource_type::topic, "a"},
    {permission::allow, "User:bob", operation::consume, resource_type::topic, "b"},
  };
  auto text = encode_acls(acls);
  CHECK(text == "version=1\nallow User:alice produce topic:a\nallow User:bob consume topic:b\n");
  auto back = decode_acls(text);
  REQUIRE(back.ok());
  CHECK(back.value.size() == 2);
  CHECK(encode_acls(back.value) == text);
  CHECK(decode_acls("").ok());
  CHECK(decode_acls("").value.empty());
  CHECK(decode_acls("version=1\n").ok());
}

TEST_CASE("a bad ACL set is refused whole, with the line named") {
  CHECK(decode_acls("version=2\n").error.find("newer") != std::string::npos);
  CHECK(decode_acls("allow User:a produce topic:x\n").error.find("line 1") != std::string::npos);
  auto bad = decode_acls("version=1\nallow User:a produce topic:x\nallow User:a fly topic:x\n");
  CHECK(bad.error.find("line 3") != std::string::npos);
  CHECK(bad.value.empty());
  CHECK(decode_acls("version=1\nallow User:a produce topic:x").error.find("newline") != std::string::npos);
}
