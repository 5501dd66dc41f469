// The cluster session (client/actors.hpp): one framed connection
// (client/wire_connection.hpp) per broker it needs, each request routed to
// the right one. Decisions live in
// metadata_cache (where a partition's leader is), request_route (what a
// request needs) and broker_candidates (which broker to try for "any");
// this actor carries them out.

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <set>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>
#include <kj/exception.h>
#include <spdlog/spdlog.h>

#include "protocol/atoms.hpp"
#include "protocol/errors.hpp"
#include "client/actors.hpp"
#include "client/broker_candidates.hpp"
#include "client/metadata_cache.hpp"
#include "client/request_route.hpp"
#include "client/wire_connection.hpp"
#include "cluster/address.hpp"
#include "schema/wire.hpp"

namespace herald::client {

namespace {

using bytes = std::vector<char>;
using schema::ErrorCode;
using clock_type = std::chrono::steady_clock;

constexpr auto answer_margin = std::chrono::seconds{30};

// A request waiting for a route, a connection, or its answer. `done` gets
// the response bytes or the error the caller sees. A probe (no bytes) only
// wants some broker connected.
struct pending {
  bytes request;
  request_route route;
  std::function<void(caf::expected<bytes>)> done;
  std::set<std::string> tried;  // brokers that failed it (any-broker requests)
  std::string last_failure;     // "HOST:PORT: why" of the latest of them (a refusal's reason)
  bool probe = false;
};

struct link {
  caf::actor connection;        // the wire connection (client/wire_connection.hpp)
  bool open = false;            // false while it connects and says hello
  std::int32_t node = -1;       // the broker's id, from its hello_reply, once open
  std::deque<pending> waiting;  // for the connection
  std::map<std::uint64_t, pending> in_flight;
  clock_type::time_point last_used = clock_type::now();
};

struct cluster_state {
  cluster_options options;
  std::shared_ptr<std::atomic<bool>> reachable;
  metadata_cache cache;
  broker_candidates candidates;
  std::map<std::string, link> links;                     // by HOST:PORT
  std::map<std::string, std::vector<pending>> awaiting;  // by topic: waiting for a refresh
  std::uint64_t next_id = 0;
  // TLS (options.tls): one client context for every broker connection, or
  // why it could not be made (every connection then fails with that).
  std::shared_ptr<const security::tls_context> tls;
  std::string tls_error;
  static inline const char* name = "herald.cluster";
};

using self_ptr = caf::stateful_actor<cluster_state>*;

void dispatch(self_ptr self, pending p);
void send_any(self_ptr self, pending p);

void fail(pending& p, ErrorCode code, const std::string& message) {
  p.done(make_herald_error(code, message));
}

// Learns from a response on its way back: brokers from metadata, a moved
// leader from a partition's refusal.
void inspect(self_ptr self, const request_route& route, const bytes& response) {
  if (!route.metadata && !route.to_leader)
    return;
  try {
    wire::message_reader reader(response);
    auto r = reader.root<schema::Response>();
    const auto code = r.getError().getCode();
    if (route.metadata && code == ErrorCode::NONE && r.which() == schema::Response::METADATA) {
      self->state.cache.apply_metadata(r.getMetadata());
      return;
    }
    if (!route.to_leader)
      return;
    if (code == ErrorCode::NOT_LEADER)
      self->state.cache.on_not_leader(route.topic, route.partition, r.getError().getLeaderId());
    else if (code == ErrorCode::UNKNOWN_PARTITION || code == ErrorCode::PARTITION_UNAVAILABLE)
      self->state.cache.forget_leader(route.topic, route.partition);
  } catch (const kj::Exception&) {
    // The caller decodes it again and reports it.
  }
}

void send_now(self_ptr self, const std::string& address, link& l, pending p) {
  l.last_used = clock_type::now();
  if (p.probe) {
    p.done(bytes{});
    return;
  }
  const auto id = self->state.next_id++;
  auto request = p.request;
  const auto timeout = std::chrono::milliseconds{p.route.broker_wait_ms} + answer_margin;
  l.in_flight.emplace(id, std::move(p));
  self->request(l.connection, timeout, request_atom::value, std::move(request))
    .then(
      [=](bytes& response) {
        auto i = self->state.links.find(address);
        if (i == self->state.links.end())
          return;  // the link went down and failed it already
        auto node = i->second.in_flight.extract(id);
        if (node.empty())
          return;
        inspect(self, node.mapped().route, response);
        node.mapped().done(std::move(response));
      },
      [=](caf::error& err) {
        auto i = self->state.links.find(address);
        if (i == self->state.links.end())
          return;
        auto node = i->second.in_flight.extract(id);
        if (node.empty())
          return;
        node.mapped().done(std::move(err));
      });
}

// The link is gone (lost, or never opened): what waited on it or was in
// flight on it fails; the broker leads nothing until a refresh says so.
// `connection`, when given, must be the link's (a newer link to the same
// broker is not dropped for an older one's failure).
void drop_link(self_ptr self, const std::string& address, const std::string& why,
               const caf::actor& connection = caf::actor{}) {
  auto i = self->state.links.find(address);
  if (i == self->state.links.end() || (connection && i->second.connection != connection))
    return;
  link l = std::move(i->second);
  self->state.links.erase(i);
  if (l.connection) {
    self->demonitor(l.connection);
    self->send_exit(l.connection, caf::exit_reason::user_shutdown);
  }
  self->state.cache.on_broker_lost(address);
  self->state.candidates.failed(address, clock_type::now());
  if (self->state.options.pinned && self->state.reachable)
    *self->state.reachable = false;  // the one broker it may use is gone
  // (The connection failed its own requests first, with why it was lost;
  // these are the ones whose answer had not come back to this actor yet.)
  for (auto& [id, p] : l.in_flight)
    fail(p, ErrorCode::PARTITION_UNAVAILABLE,
         "connection to broker " + address + " lost (" + why + "); the request may or may not have been carried out");
  for (auto& p : l.waiting) {
    if (!p.route.to_leader) {
      p.tried.insert(address);
      p.last_failure = address + ": " + why;
      send_any(self, std::move(p));  // another broker will do
    } else {
      fail(p, ErrorCode::PARTITION_UNAVAILABLE, "cannot connect to broker " + address + ": " + why);
    }
  }
}

// The broker refused our credentials: what waited for that link fails with
// authenticationFailed and the broker's reason, instead of trying the next
// broker (which shares the same users) and ending in "no broker reachable".
void refuse_waiting(self_ptr self, const std::string& address, const caf::actor& connection,
                    const std::string& why) {
  auto i = self->state.links.find(address);
  if (i == self->state.links.end() || i->second.connection != connection)
    return;
  auto waiting = std::move(i->second.waiting);
  i->second.waiting.clear();
  for (auto& p : waiting)
    fail(p, ErrorCode::AUTHENTICATION_FAILED, why);
}

void on_connected(self_ptr self, const std::string& address, const caf::actor& connection, std::int32_t node) {
  auto i = self->state.links.find(address);
  if (i == self->state.links.end() || i->second.connection != connection)
    return;
  auto& l = i->second;
  l.open = true;
  l.node = node;
  self->state.candidates.succeeded(address);
  if (self->state.reachable)
    *self->state.reachable = true;
  auto waiting = std::move(l.waiting);
  l.waiting.clear();
  for (auto& p : waiting)
    send_now(self, address, l, std::move(p));
}

// Opens a framed connection to the broker (client/wire_connection.hpp);
// neither this actor nor the connection blocks while it connects.
void open_link(self_ptr self, const std::string& address) {
  auto parsed = cluster::parse_host_port(address, false);
  if (!parsed) {
    drop_link(self, address, "not HOST:PORT");
    return;
  }
  const auto& o = self->state.options;
  if (o.tls && !self->state.tls) {
    drop_link(self, address, "TLS: " + self->state.tls_error);
    return;
  }
  wire_connection_options w;
  w.tls = self->state.tls;
  w.host = parsed->first;
  w.port = parsed->second;
  w.connect_timeout_ms = o.connect_timeout_ms;
  w.conversation.heartbeat_ms = o.heartbeat_ms;
  w.conversation.liveness_timeout_ms = o.liveness_timeout_ms;
  w.conversation.client_id = o.client_id;
  w.notify_owner = true;  // (wire_lost_atom): drop the link before anything else is sent to it
  w.conversation.sasl_user = o.sasl_user;
  w.conversation.sasl_password = o.sasl_password;
  auto connection = spawn_wire_connection(self->system(), std::move(w), caf::actor_cast<caf::actor>(self));
  self->monitor(connection);
  self->state.links[address].connection = connection;
  // The connection answers within its connect timeout plus its hello's.
  const auto timeout = std::chrono::milliseconds{2 * o.connect_timeout_ms} + std::chrono::seconds{5};
  self->request(connection, timeout, caf::connect_atom::value)
    .then([=](std::int32_t node) { on_connected(self, address, connection, node); },
          [=](caf::error& err) {
            auto d = decode_error(err);
            if (d.code == ErrorCode::AUTHENTICATION_FAILED)
              refuse_waiting(self, address, connection, d.message);
            drop_link(self, address, d.message, connection);
          });
}

// The open link to the broker that metadata places at `address` when the
// session reached it under another name (bootstrap localhost:PORT, metadata
// 127.0.0.1:PORT): one connection per broker, not one per name (a broker
// with --max-connections-per-ip=1 refuses the second).
std::map<std::string, link>::iterator same_broker_link(self_ptr self, const std::string& address) {
  auto& st = self->state;
  for (const auto& [id, at] : st.cache.brokers()) {
    if (at != address)
      continue;
    for (auto l = st.links.begin(); l != st.links.end(); ++l)
      if (l->second.open && l->second.node == id)
        return l;
  }
  return st.links.end();
}

void send_to(self_ptr self, const std::string& address, pending p) {
  auto i = self->state.links.find(address);
  if (i == self->state.links.end())
    if (auto same = same_broker_link(self, address); same != self->state.links.end()) {
      send_now(self, same->first, same->second, std::move(p));
      return;
    }
  if (i == self->state.links.end()) {
    self->state.links[address].waiting.push_back(std::move(p));
    open_link(self, address);
    return;
  }
  if (!i->second.open) {
    i->second.waiting.push_back(std::move(p));
    return;
  }
  send_now(self, address, i->second, std::move(p));
}

// Any broker will do: the first open session to a broker the user named
// (so admin requests such as restartPartition and describeTopic act on and
// report from that broker while it is reachable), else an open one (the
// most recently used), else the next candidate not yet tried for this
// request.
void send_any(self_ptr self, pending p) {
  auto& st = self->state;
  for (const auto& address : st.candidates.bootstrap()) {
    auto i = st.links.find(address);
    if (i != st.links.end() && i->second.open && p.tried.count(address) == 0) {
      send_now(self, address, i->second, std::move(p));
      return;
    }
  }
  const std::string* best = nullptr;
  clock_type::time_point best_used{};
  for (auto& [address, l] : st.links) {
    if (!l.open || p.tried.count(address) != 0)
      continue;
    if (best == nullptr || l.last_used > best_used) {
      best = &address;
      best_used = l.last_used;
    }
  }
  if (best != nullptr) {
    send_now(self, *best, st.links[*best], std::move(p));
    return;
  }
  const auto candidates = st.options.pinned ? std::vector<std::string>{st.options.bootstrap.at(0)}
                                            : st.candidates.order(st.cache.broker_addresses());
  for (const auto& address : candidates) {
    if (p.tried.count(address) != 0)
      continue;
    send_to(self, address, std::move(p));
    return;
  }
  if (st.reachable)
    *st.reachable = false;
  std::string tried;
  for (const auto& a : p.tried)
    tried += (tried.empty() ? "" : ", ") + a;
  fail(p, ErrorCode::PARTITION_UNAVAILABLE,
       "no broker reachable (tried " + tried + ")" + (p.last_failure.empty() ? "" : "; last: " + p.last_failure));
}

// Routes of `topic` are read again (metadata, and describeTopic when the
// metadata does not carry leaders); then what waited for them goes on.
void finish_refresh(self_ptr self, const std::string& topic, ErrorCode code, const std::string& message) {
  auto waiting = std::move(self->state.awaiting[topic]);
  self->state.awaiting.erase(topic);
  for (auto& p : waiting) {
    if (code != ErrorCode::NONE) {
      fail(p, code, message);
    } else if (auto address = self->state.cache.leader_address(topic, p.route.partition)) {
      send_to(self, *address, std::move(p));
    } else {
      const auto* routes = self->state.cache.topic(topic);
      if (routes != nullptr && p.route.partition >= routes->partition_count)
        fail(p, ErrorCode::UNKNOWN_PARTITION,
             "topic " + topic + " has no partition " + std::to_string(p.route.partition));
      else if (auto why = self->state.cache.partition_error(topic, p.route.partition); !why.empty())
        fail(p, ErrorCode::PARTITION_UNAVAILABLE, topic + "/" + std::to_string(p.route.partition) + " has no leader: " + why);
      else
        fail(p, ErrorCode::PARTITION_UNAVAILABLE,
             "no leader of " + topic + "/" + std::to_string(p.route.partition) + " is known (an election may be under way)");
    }
  }
}

// An internal request to any broker; on_ok gets the response when its
// error code is none, else the refresh of `topic` fails with it.
void ask_any(self_ptr self, const std::string& topic, bytes request,
             std::function<void(schema::Response::Reader)> on_ok) {
  pending p;
  p.route = route_of(request);
  p.request = std::move(request);
  p.done = [=](caf::expected<bytes> response) {
    if (!response) {
      auto d = decode_error(response.error());
      finish_refresh(self, topic, d.code, d.message);
      return;
    }
    try {
      wire::message_reader reader(*response);
      auto r = reader.root<schema::Response>();
      if (r.getError().getCode() != ErrorCode::NONE) {
        finish_refresh(self, topic, r.getError().getCode(), r.getError().getMessage().cStr());
        return;
      }
      on_ok(r);
    } catch (const kj::Exception& e) {
      finish_refresh(self, topic, ErrorCode::INTERNAL, std::string{"malformed response: "} + e.getDescription().cStr());
    }
  };
  send_any(self, std::move(p));
}

void refresh(self_ptr self, const std::string& topic) {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initMetadata().initTopics(1).set(0, topic);
  ask_any(self, topic, wire::to_bytes(builder), [=](schema::Response::Reader r) {
    // (inspect() applied it to the cache on the way.)
    auto topics = r.getMetadata().getTopics();
    if (topics.size() == 1 && topics[0].getPartitions().size() > 0) {
      finish_refresh(self, topic, ErrorCode::NONE, {});
      return;
    }
    capnp::MallocMessageBuilder describe;
    describe.initRoot<schema::Request>().initDescribeTopic().setName(topic);
    ask_any(self, topic, wire::to_bytes(describe), [=](schema::Response::Reader d) {
      self->state.cache.apply_topic(d.getDescribeTopic());
      finish_refresh(self, topic, ErrorCode::NONE, {});
    });
  });
}

void dispatch(self_ptr self, pending p) {
  auto& st = self->state;
  if (st.options.pinned) {
    send_to(self, st.options.bootstrap.at(0), std::move(p));
    return;
  }
  if (!p.route.to_leader) {
    send_any(self, std::move(p));
    return;
  }
  if (auto address = st.cache.leader_address(p.route.topic, p.route.partition)) {
    send_to(self, *address, std::move(p));
    return;
  }
  auto topic = p.route.topic;
  auto& waiting = st.awaiting[topic];
  waiting.push_back(std::move(p));
  if (waiting.size() == 1)
    refresh(self, topic);
}

// Sessions nothing used for idle_close_ms are closed (the broker frees them).
void close_idle(self_ptr self) {
  const auto now = clock_type::now();
  const auto idle = std::chrono::milliseconds{self->state.options.idle_close_ms};
  std::vector<std::string> idle_links;
  for (auto& [address, l] : self->state.links)
    if (l.open && l.in_flight.empty() && l.waiting.empty() && now - l.last_used >= idle)
      idle_links.push_back(address);
  for (const auto& address : idle_links) {
    auto node = self->state.links.extract(address);
    auto& l = node.mapped();
    self->demonitor(l.connection);
    self->send_exit(l.connection, caf::exit_reason::user_shutdown);
  }
}

caf::behavior cluster_session(self_ptr self, cluster_options options, std::shared_ptr<std::atomic<bool>> reachable) {
  self->state.options = std::move(options);
  self->state.reachable = std::move(reachable);
  self->state.candidates = broker_candidates{self->state.options.bootstrap};
  if (self->state.options.tls)
    self->state.tls = security::tls_context::make_client(self->state.options.tls_options, self->state.tls_error);
  self->set_down_handler([=](caf::down_msg& dm) {
    for (auto& [address, l] : self->state.links) {
      if (l.connection && l.connection.address() == dm.source) {
        const auto address_copy = address;
        const auto connection = l.connection;
        drop_link(self, address_copy, decode_error(dm.reason).message, connection);
        return;
      }
    }
  });
  const auto check_every = std::chrono::milliseconds{std::max<std::uint32_t>(self->state.options.idle_close_ms / 2, 50)};
  self->delayed_send(self, check_every, idle_check_atom::value);
  return {
    [=](request_atom, bytes& request) {
      auto rp = self->make_response_promise<bytes>();
      pending p;
      p.route = route_of(request);
      p.request = std::move(request);
      p.done = [rp](caf::expected<bytes> response) mutable {
        if (response)
          rp.deliver(std::move(*response));
        else
          rp.deliver(response.error());
      };
      dispatch(self, std::move(p));
      return rp;
    },
    [=](caf::connect_atom) {
      auto rp = self->make_response_promise<caf::unit_t>();
      pending p;
      p.probe = true;
      p.done = [rp](caf::expected<bytes> response) mutable {
        if (response)
          rp.deliver(caf::unit);
        else
          rp.deliver(response.error());
      };
      send_any(self, std::move(p));
      return rp;
    },
    [=](caf::get_atom) {
      std::vector<std::string> open;
      for (const auto& [address, l] : self->state.links)
        if (l.open)
          open.push_back(address);
      return open;
    },
    [=](wire_lost_atom, const caf::error& why) {
      const auto sender = caf::actor_cast<caf::actor>(self->current_sender());
      for (auto& [address, l] : self->state.links) {
        if (l.connection && l.connection == sender) {
          const auto address_copy = address;
          auto d = decode_error(why);
          if (d.code == ErrorCode::AUTHENTICATION_FAILED)
            refuse_waiting(self, address_copy, sender, d.message);
          drop_link(self, address_copy, d.message, sender);
          return;
        }
      }
    },
    [=](idle_check_atom) {
      close_idle(self);
      self->delayed_send(self, check_every, idle_check_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_cluster_session(caf::actor_system& system, cluster_options options,
                                 std::shared_ptr<std::atomic<bool>> reachable) {
  return system.spawn(cluster_session, std::move(options), std::move(reachable));
}

} // namespace herald::client
