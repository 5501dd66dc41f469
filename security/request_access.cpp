#include "security/request_access.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "schema/wire.hpp"

namespace herald::security {

request_access access_of(schema::Request::Reader req) {
  request_access out;
  auto topic = [&](operation op, capnp::Text::Reader name) {
    out.any_of.push_back({op, resource::topic(name.cStr())});
  };
  switch (req.which()) {
    case schema::Request::PRODUCE: topic(operation::produce, req.getProduce().getTopic()); break;
    case schema::Request::FETCH: topic(operation::consume, req.getFetch().getTopic()); break;
    case schema::Request::LIST_OFFSETS: topic(operation::consume, req.getListOffsets().getTopic()); break;
    case schema::Request::METADATA:
      // Named topics must all be describable (one access each, checked in
      // authorize); the answer is filtered either way.
      out.filter_topics = true;
      break;
    case schema::Request::DESCRIBE_TOPIC: topic(operation::describe, req.getDescribeTopic().getName()); break;
    case schema::Request::CREATE_TOPIC:
      out.any_of.push_back({operation::create, resource::cluster()});
      topic(operation::create, req.getCreateTopic().getName());
      break;
    case schema::Request::DELETE_TOPIC: topic(operation::delete_, req.getDeleteTopic().getName()); break;
    case schema::Request::ALTER_TOPIC: topic(operation::alter, req.getAlterTopic().getName()); break;
    case schema::Request::REASSIGN_PARTITION: topic(operation::alter, req.getReassignPartition().getTopic()); break;
    case schema::Request::RESTART_PARTITION: topic(operation::alter, req.getRestartPartition().getTopic()); break;
    case schema::Request::ALTER_ACLS:
    case schema::Request::ALTER_USERS: out.any_of.push_back({operation::alter, resource::cluster()}); break;
    case schema::Request::DESCRIBE_ACLS:
    case schema::Request::DESCRIBE_USERS: out.any_of.push_back({operation::describe, resource::cluster()}); break;
    default:
      // A request this broker does not know: refused by whoever handles it;
      // only a super-user (or no enforcement) gets that far.
      out.any_of.push_back({operation::all, resource::cluster()});
      break;
  }
  return out;
}

decision authorize(const authorizer& authz, std::string_view principal, schema::Request::Reader req) {
  if (!authz.enforcing())
    return {};
  if (req.which() == schema::Request::METADATA) {
    for (auto name : req.getMetadata().getTopics())
      if (auto d = authz.check(principal, operation::describe, resource::topic(name.cStr())); !d)
        return d;
    return {};
  }
  auto need = access_of(req);
  decision first;
  for (std::size_t i = 0; i < need.any_of.size(); ++i) {
    auto d = authz.check(principal, need.any_of[i].op, need.any_of[i].on);
    if (d)
      return d;
    if (i == 0)
      first = std::move(d);
  }
  return need.any_of.empty() ? decision{} : first;
}

std::vector<char> filter_metadata(const authorizer& authz, std::string_view principal, std::vector<char> response) {
  if (!authz.enforcing())
    return response;
  wire::message_reader reader(response);
  auto in = reader.root<schema::Response>();
  if (in.which() != schema::Response::METADATA)
    return response;
  auto m = in.getMetadata();
  std::vector<unsigned> keep;
  for (unsigned i = 0; i < m.getTopics().size(); ++i)
    if (authz.allowed(principal, operation::describe, resource::topic(m.getTopics()[i].getName().cStr())))
      keep.push_back(i);
  if (keep.size() == m.getTopics().size())
    return response;
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<schema::Response>();
  out.setError(in.getError());
  auto om = out.initMetadata();
  om.setBrokers(m.getBrokers());
  om.setControllerId(m.getControllerId());
  auto topics = om.initTopics(static_cast<unsigned>(keep.size()));
  for (unsigned i = 0; i < keep.size(); ++i)
    topics.setWithCaveats(i, m.getTopics()[keep[i]]);
  return wire::to_bytes(builder);
}

} // namespace herald::security
