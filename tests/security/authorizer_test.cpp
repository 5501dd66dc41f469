#include <doctest/doctest.h>

#include "security/authorizer.hpp"

using namespace herald::security;

namespace {

acl_entry allow(std::string who, operation op, resource_type t, std::string pattern) {
  return {permission::allow, std::move(who), op, t, std::move(pattern)};
}
acl_entry deny(std::string who, operation op, resource_type t, std::string pattern) {
  return {permission::deny, std::move(who), op, t, std::move(pattern)};
}

} // namespace

TEST_CASE("without security configured and without ACLs everything is allowed (today's behaviour)") {
  authorizer a{{}, {}, authorizer_mode::auto_, false};
  CHECK_FALSE(a.enforcing());
  CHECK(a.allowed("User:ANONYMOUS", operation::delete_, resource::topic("orders")));
  CHECK(a.allowed("User:ANONYMOUS", operation::alter, resource::cluster()));
  CHECK(authorizer{}.allowed("User:x", operation::all, resource::cluster()));
}

TEST_CASE("default deny once authorization is on, an ACL exists, or authentication is configured") {
  CHECK_FALSE(authorizer({}, {}, authorizer_mode::on, false).allowed("User:a", operation::produce, resource::topic("t")));
  CHECK_FALSE(authorizer({}, {}, authorizer_mode::auto_, true).allowed("User:a", operation::produce, resource::topic("t")));
  authorizer some{{allow("User:b", operation::produce, resource_type::topic, "t")}, {}, authorizer_mode::auto_, false};
  CHECK(some.enforcing());
  CHECK_FALSE(some.allowed("User:a", operation::produce, resource::topic("t")));
  CHECK(some.allowed("User:b", operation::produce, resource::topic("t")));
  // off never checks, ACLs or not
  authorizer off{{deny("User:*", operation::all, resource_type::topic, "*")}, {}, authorizer_mode::off, true};
  CHECK(off.allowed("User:a", operation::produce, resource::topic("t")));
}

TEST_CASE("deny wins over any allow") {
  authorizer a{{allow("User:alice", operation::all, resource_type::topic, "*"),
                allow("User:alice", operation::produce, resource_type::topic, "orders"),
                deny("User:alice", operation::produce, resource_type::topic, "orders")},
               {}, authorizer_mode::on, false};
  CHECK_FALSE(a.allowed("User:alice", operation::produce, resource::topic("orders")));
  CHECK(a.allowed("User:alice", operation::consume, resource::topic("orders")));
  CHECK(a.allowed("User:alice", operation::produce, resource::topic("other")));
  // a wildcard deny covers every principal
  authorizer b{{allow("User:alice", operation::produce, resource_type::topic, "orders"),
                deny("User:*", operation::produce, resource_type::topic, "ord*")},
               {}, authorizer_mode::on, false};
  CHECK_FALSE(b.allowed("User:alice", operation::produce, resource::topic("orders")));
}

TEST_CASE("super-users are allowed whatever the ACLs say") {
  authorizer a{{deny("User:admin", operation::all, resource_type::topic, "*")}, {"User:admin"}, authorizer_mode::on,
               false};
  CHECK(a.allowed("User:admin", operation::delete_, resource::topic("x")));
  CHECK(a.allowed("User:admin", operation::alter, resource::cluster()));
  CHECK_FALSE(a.allowed("User:other", operation::describe, resource::topic("x")));
}

TEST_CASE("prefix patterns grant a family of topics") {
  authorizer a{{allow("User:etl", operation::consume, resource_type::topic, "raw.*")}, {}, authorizer_mode::on, false};
  CHECK(a.allowed("User:etl", operation::consume, resource::topic("raw.clicks")));
  CHECK_FALSE(a.allowed("User:etl", operation::consume, resource::topic("rawclicks")));
  CHECK_FALSE(a.allowed("User:etl", operation::produce, resource::topic("raw.clicks")));
}

TEST_CASE("describe of a topic is implied by produce, consume, delete and alter, a deny of describe still wins") {
  authorizer a{{allow("User:p", operation::produce, resource_type::topic, "t"),
                allow("User:c", operation::consume, resource_type::topic, "t"),
                allow("User:x", operation::create, resource_type::topic, "t"),
                allow("User:d", operation::produce, resource_type::topic, "t"),
                deny("User:d", operation::describe, resource_type::topic, "t")},
               {}, authorizer_mode::on, false};
  CHECK(a.allowed("User:p", operation::describe, resource::topic("t")));
  CHECK(a.allowed("User:c", operation::describe, resource::topic("t")));
  CHECK_FALSE(a.allowed("User:x", operation::describe, resource::topic("t")));  // create alone is not
  CHECK_FALSE(a.allowed("User:p", operation::describe, resource::topic("u")));
  CHECK_FALSE(a.allowed("User:d", operation::describe, resource::topic("t")));
  CHECK(a.allowed("User:d", operation::produce, resource::topic("t")));
  // a deny of produce does not hide the topic from someone allowed to consume it
  authorizer b{{allow("User:c", operation::consume, resource_type::topic, "t"),
                deny("User:c", operation::produce, resource_type::topic, "t")},
               {}, authorizer_mode::on, false};
  CHECK(b.allowed("User:c", operation::describe, resource::topic("t")));
}

TEST_CASE("cluster operations are checked against cluster ACLs only") {
  authorizer a{{allow("User:ops", operation::alter, resource_type::cluster, "cluster"),
                allow("User:all", operation::all, resource_type::topic, "*")},
               {}, authorizer_mode::on, false};
  CHECK(a.allowed("User:ops", operation::alter, resource::cluster()));
  CHECK_FALSE(a.allowed("User:ops", operation::describe, resource::cluster()));
  CHECK_FALSE(a.allowed("User:all", operation::alter, resource::cluster()));
}

TEST_CASE("a refusal names principal, operation and resource") {
  authorizer a{{}, {}, authorizer_mode::on, false};
  auto d = a.check("User:bob", operation::produce, resource::topic("orders"));
  CHECK_FALSE(d.allowed);
  CHECK(d.reason.find("User:bob") != std::string::npos);
  CHECK(d.reason.find("produce") != std::string::npos);
  CHECK(d.reason.find("topic orders") != std::string::npos);
  CHECK(a.check("User:bob", operation::alter, resource::cluster()).reason.find("the cluster") != std::string::npos);
}

TEST_CASE("a pending authorizer (ACLs not read yet) lets super-users through and refuses others retriably") {
  authorizer a{{}, {"User:admin"}, authorizer_mode::on, false};
  a.set_pending(true);
  CHECK(a.check("User:admin", operation::alter, resource::cluster()).allowed);
  auto d = a.check("User:bob", operation::produce, resource::topic("t"));
  CHECK_FALSE(d.allowed);
  CHECK(d.retriable);
  CHECK(d.reason.find("not known yet") != std::string::npos);
  authorizer b{{}, {}, authorizer_mode::on, false};
  CHECK_FALSE(b.check("User:bob", operation::produce, resource::topic("t")).retriable);
}

TEST_CASE("super-user lists and modes parse") {
  auto s = parse_super_users("User:admin,User:ops");
  REQUIRE(s.ok());
  CHECK(s.value == std::set<std::string>{"User:admin", "User:ops"});
  CHECK(parse_super_users("").value.empty());
  CHECK(parse_super_users("admin").error.find("admin") != std::string::npos);
  CHECK(parse_super_users("User:*").error.size() > 0);
  CHECK(parse_super_users("User:a,,User:b").error.size() > 0);
  CHECK(parse_authorizer_mode("on") == authorizer_mode::on);
  CHECK(parse_authorizer_mode("auto") == authorizer_mode::auto_);
  CHECK_FALSE(parse_authorizer_mode("yes"));
}
