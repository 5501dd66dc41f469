#include <doctest/doctest.h>

#include "schema/wire.hpp"
#include "security/request_access.hpp"

using namespace herald;
using namespace herald::security;

namespace {

struct request {
  capnp::MallocMessageBuilder builder;
  schema::Request::Builder root = builder.initRoot<schema::Request>();
  schema::Request::Reader reader() { return root.asReader(); }
};

authorizer on(std::vector<acl_entry> acls, std::set<std::string> supers = {}) {
  return authorizer{std::move(acls), std::move(supers), authorizer_mode::on, false};
}

acl_entry allow(std::string who, operation op, resource_type t, std::string pattern) {
  return {permission::allow, std::move(who), op, t, std::move(pattern)};
}

std::vector<char> metadata_response(std::vector<std::string> topics) {
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Response>();
  r.initError().setCode(schema::ErrorCode::NONE);
  auto m = r.initMetadata();
  m.initBrokers(1)[0].setNodeId(7);
  m.setControllerId(7);
  auto list = m.initTopics(static_cast<unsigned>(topics.size()));
  for (unsigned i = 0; i < topics.size(); ++i) {
    list[i].setName(topics[i]);
    list[i].setPartitionCount(i + 1);
  }
  return wire::to_bytes(builder);
}

} // namespace

TEST_CASE("each request maps to its operation and resource") {
  auto one = [](auto&& init) {
    request r;
    init(r.root);
    auto a = access_of(r.reader());
    REQUIRE(a.any_of.size() >= 1);
    return a.any_of[0];
  };
  auto p = one([](auto b) { b.initProduce().setTopic("t"); });
  CHECK((p.op == operation::produce && p.on == resource::topic("t")));
  CHECK(one([](auto b) { b.initFetch().setTopic("t"); }).op == operation::consume);
  CHECK(one([](auto b) { b.initListOffsets().setTopic("t"); }).op == operation::consume);
  CHECK(one([](auto b) { b.initDescribeTopic().setName("t"); }).op == operation::describe);
  CHECK(one([](auto b) { b.initDeleteTopic().setName("t"); }).op == operation::delete_);
  CHECK(one([](auto b) { b.initAlterTopic().setName("t"); }).op == operation::alter);
  CHECK(one([](auto b) { b.initReassignPartition().setTopic("t"); }).op == operation::alter);
  CHECK(one([](auto b) { b.initRestartPartition().setTopic("t"); }).op == operation::alter);
  auto acls = one([](auto b) { b.initAlterAcls(); });
  CHECK((acls.op == operation::alter && acls.on == resource::cluster()));
  CHECK(one([](auto b) { b.initAlterUsers(); }).op == operation::alter);
  CHECK(one([](auto b) { b.initDescribeAcls(); }).op == operation::describe);
  CHECK(one([](auto b) { b.initDescribeUsers(); }).on == resource::cluster());
  request create;
  create.root.initCreateTopic().setName("t");
  auto c = access_of(create.reader());
  REQUIRE(c.any_of.size() == 2);
  CHECK((c.any_of[0].op == operation::create && c.any_of[0].on == resource::cluster()));
  CHECK(c.any_of[1].on == resource::topic("t"));
  request meta;
  meta.root.initMetadata();
  CHECK(access_of(meta.reader()).filter_topics);
}

TEST_CASE("a request is refused naming principal, operation and resource, allowed by its ACL") {
  request r;
  r.root.initProduce().setTopic("orders");
  auto none = on({});
  auto d = authorize(none, "User:bob", r.reader());
  CHECK_FALSE(d.allowed);
  CHECK(d.reason.find("User:bob may not produce topic orders") != std::string::npos);
  CHECK(authorize(on({allow("User:bob", operation::produce, resource_type::topic, "orders")}), "User:bob", r.reader()));
  CHECK(authorize(authorizer{}, "User:bob", r.reader()));  // not enforcing
}

TEST_CASE("createTopic is allowed by create on the cluster or on the topic") {
  request r;
  r.root.initCreateTopic().setName("orders");
  CHECK(authorize(on({allow("User:a", operation::create, resource_type::cluster, "cluster")}), "User:a", r.reader()));
  CHECK(authorize(on({allow("User:a", operation::create, resource_type::topic, "ord*")}), "User:a", r.reader()));
  auto d = authorize(on({allow("User:a", operation::create, resource_type::topic, "x")}), "User:a", r.reader());
  CHECK_FALSE(d.allowed);
  CHECK(d.reason.find("create the cluster") != std::string::npos);
}

TEST_CASE("metadata naming a topic the principal may not describe is refused, listing all is filtered") {
  request r;
  auto names = r.root.initMetadata().initTopics(2);
  names.set(0, "mine");
  names.set(1, "theirs");
  auto authz = on({allow("User:a", operation::consume, resource_type::topic, "mine")});
  auto d = authorize(authz, "User:a", r.reader());
  CHECK_FALSE(d.allowed);
  CHECK(d.reason.find("describe topic theirs") != std::string::npos);

  request all;
  all.root.initMetadata();
  CHECK(authorize(authz, "User:a", all.reader()));
  auto filtered = filter_metadata(authz, "User:a", metadata_response({"mine", "theirs", "other"}));
  wire::message_reader reader(filtered);
  auto m = reader.root<schema::Response>().getMetadata();
  REQUIRE(m.getTopics().size() == 1);
  CHECK(std::string{m.getTopics()[0].getName().cStr()} == "mine");
  CHECK(m.getTopics()[0].getPartitionCount() == 1);
  CHECK(m.getBrokers().size() == 1);
  CHECK(m.getControllerId() == 7);
  // nothing to hide: the same bytes back; not enforcing: untouched
  auto everything = on({allow("User:*", operation::describe, resource_type::topic, "*")});
  CHECK(filter_metadata(everything, "User:a", metadata_response({"a", "b"})) == metadata_response({"a", "b"}));
  CHECK(filter_metadata(authorizer{}, "User:a", metadata_response({"a"})) == metadata_response({"a"}));
}
