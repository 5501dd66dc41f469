#include "actors/session_actor.hpp"

#include <optional>

#include <caf/all.hpp>
#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "protocol/errors.hpp"
#include "cluster/disk_guard.hpp"
#include "schema/wire.hpp"
#include "security/request_access.hpp"

namespace herald::actors {

namespace {

using bytes = std::vector<char>;
using promise = caf::typed_response_promise<bytes>;
using schema::ErrorCode;

// A partition actor answers at once except for fetches, which wait at most
// their maxWaitMs (capped at 60 s by the partition), and produces, which it
// answers within their timeoutMs (session_limits::produce_answer_margin
// then covers a busy fsync). Past the margin the client is told `timeout`
// rather than left hanging.
constexpr auto partition_answer_margin = std::chrono::seconds{30};

struct session_state {
  caf::actor node;
  caf::actor_addr client;
  routing_ptr routes;
  session_limits limits;
  session_identity identity;
  static inline const char* name = "herald.session";
};

using self_ptr = caf::stateful_actor<session_state>*;

struct route {
  std::string topic;
  std::uint32_t partition = 0;
  std::uint32_t answer_within_ms = 0;  // the partition answers by then, give or take a margin
  bool produce = false;
};

// Where a request goes: a partition (route set) or the node (nullopt).
std::optional<route> route_of(schema::Request::Reader req) {
  switch (req.which()) {
    case schema::Request::PRODUCE: {
      // The partition answers a produce within its timeoutMs (any acks:
      // acks=none once proposed, or notLeader at once).
      auto p = req.getProduce();
      auto timeout = p.getTimeoutMs() == 0 ? wire::default_produce_timeout_ms : p.getTimeoutMs();
      return route{p.getTopic(), p.getPartition(), timeout, true};
    }
    case schema::Request::FETCH: {
      auto f = req.getFetch();
      return route{f.getTopic(), f.getPartition(), f.getMaxWaitMs(), false};
    }
    case schema::Request::LIST_OFFSETS: {
      auto l = req.getListOffsets();
      return route{l.getTopic(), l.getPartition(), 0, false};
    }
    default:
      return std::nullopt;
  }
}

// ZooKeeper mode: the partition has no replica on this broker.
bytes not_hosted_here(const std::string& topic, std::uint32_t partition, std::int32_t hint) {
  capnp::MallocMessageBuilder builder;
  auto error = builder.initRoot<schema::Response>().initError();
  wire::set_error(error, ErrorCode::NOT_LEADER,
                  topic + "/" + std::to_string(partition) + " has no replica on this broker; ask its leader" +
                    (hint > 0 ? " (broker " + std::to_string(hint) + ")" : " (see metadata)"));
  error.setLeaderId(hint > 0 ? hint : -1);
  return wire::to_bytes(builder);
}

// filter_topics: a metadata answer, cut down to what the principal may describe.
// to_node: the node gets the principal too (a topic's owner, its limits).
void forward(self_ptr self, const caf::actor& dest, bytes request, caf::timespan timeout, promise rp,
             bool filter_topics = false, bool to_node = false) {
  auto sent = to_node ? self->request(dest, timeout, request_atom::value, std::move(request), self->state.identity.principal)
                      : self->request(dest, timeout, request_atom::value, std::move(request));
  std::move(sent)
    .then(
      [=](bytes& response) mutable {
        const auto& st = self->state;
        if (filter_topics && st.routes->authz) {
          try {
            response = security::filter_metadata(*st.routes->authz, st.identity.principal, std::move(response));
          } catch (const kj::Exception& e) {
            response = wire::error_response(ErrorCode::INTERNAL,
                                            std::string{"malformed metadata answer: "} + e.getDescription().cStr());
          }
        }
        rp.deliver(std::move(response));
      },
      [=](caf::error& err) mutable {
        auto decoded = decode_error(err);
        rp.deliver(wire::error_response(decoded.code, decoded.message));
      });
}

caf::behavior session_actor(self_ptr self, caf::actor node, caf::actor client, routing_ptr routes,
                            session_limits limits, session_identity identity) {
  auto& st = self->state;
  st.identity = std::move(identity);
  st.node = std::move(node);
  st.routes = std::move(routes);
  st.limits = limits;
  if (client) {
    st.client = client.address();
    self->monitor(client);
  } else {
    self->quit();  // nobody to serve
  }
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.client)
      self->quit();
  });
  return {
    [=](request_atom, bytes& request) -> promise {
      auto& st = self->state;
      auto rp = self->make_response_promise<bytes>();
      std::optional<route> r;
      bool filter_topics = false;
      try {
        wire::message_reader reader(request);
        auto req = reader.root<schema::Request>();
        if (st.routes->authz) {
          auto allowed = security::authorize(*st.routes->authz, st.identity.principal, req);
          if (!allowed) {
            rp.deliver(wire::error_response(
              allowed.retriable ? ErrorCode::CLUSTER_UNAVAILABLE : ErrorCode::AUTHORIZATION_FAILED, allowed.reason));
            return rp;
          }
          filter_topics = req.which() == schema::Request::METADATA;
        }
        r = route_of(req);
      } catch (const kj::Exception& e) {
        rp.deliver(wire::error_response(ErrorCode::INVALID_REQUEST,
                                        std::string{"malformed request: "} + e.getDescription().cStr()));
        return rp;
      }
      if (!r) {
        forward(self, st.node, std::move(request), partition_answer_margin, rp, filter_topics, true);
        return rp;
      }
      auto topic = st.routes->partitions.find(r->topic);
      if (topic == st.routes->partitions.end()) {
        rp.deliver(wire::error_response(ErrorCode::UNKNOWN_TOPIC, "topic " + r->topic + " does not exist"));
        return rp;
      }
      if (r->partition >= topic->second.size()) {
        rp.deliver(wire::error_response(ErrorCode::UNKNOWN_PARTITION,
                                        "topic " + r->topic + " has no partition " + std::to_string(r->partition)));
        return rp;
      }
      const auto& dest = topic->second[r->partition];
      if (!dest) {
        if (auto e = st.routes->elsewhere.find(r->topic);
            e != st.routes->elsewhere.end() && r->partition < e->second.size() && e->second[r->partition] != 0) {
          rp.deliver(not_hosted_here(r->topic, r->partition, e->second[r->partition]));
          return rp;
        }
        rp.deliver(wire::error_response(ErrorCode::PARTITION_UNAVAILABLE,
                                        r->topic + "/" + std::to_string(r->partition) + " is offline"));
        return rp;
      }
      // Below the node's free-space reserve nothing new is written; reads go on.
      if (r->produce && st.routes->disk && st.routes->disk->full()) {
        rp.deliver(wire::error_response(ErrorCode::DISK_FULL, st.routes->disk->refusal("produces and topic creates")));
        return rp;
      }
      const auto margin = r->produce ? st.limits.produce_answer_margin : partition_answer_margin;
      forward(self, dest, std::move(request), std::chrono::milliseconds{r->answer_within_ms} + margin, rp);
      return rp;
    },
    [=](routing_atom, routing_ptr routes) { self->state.routes = std::move(routes); },
  };
}

} // namespace

caf::actor spawn_session(caf::event_based_actor* node, caf::actor client, routing_ptr routes,
                         session_limits limits, session_identity identity) {
  return node->spawn<caf::monitored>(session_actor, caf::actor_cast<caf::actor>(node), std::move(client), std::move(routes),
                                     limits, std::move(identity));
}

} // namespace herald::actors
