#include "client/blocking.hpp"

#include <atomic>
#include <deque>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <kj/exception.h>

#include "protocol/atoms.hpp"
#include "protocol/errors.hpp"
#include "protocol/client_system.hpp"
#include "client/actors.hpp"
#include "cluster/address.hpp"
#include "cluster/topic_schema.hpp"
#include "schema/wire.hpp"

namespace herald::client {

using bytes = std::vector<char>;
using schema::ErrorCode;

namespace {

constexpr auto admin_timeout = std::chrono::seconds{30};

[[noreturn]] void throw_caf_error(const caf::error& err) {
  auto d = decode_error(err);
  throw error(d.code, d.message);
}

topic_status read_topic(schema::TopicInfo::Reader t) {
  topic_status s;
  s.name = t.getName().cStr();
  s.partition_count = t.getPartitionCount();
  s.replication_factor = t.getReplicationFactor();
  s.config = cluster::read_topic_config(t.getConfig(), cluster::topic_config{});
  s.owner = t.getOwner().cStr();
  for (auto p : t.getPartitions()) {
    partition_status ps;
    ps.id = p.getId();
    ps.leader = p.getLeader();
    for (auto r : p.getReplicas())
      ps.replicas.push_back(r);
    for (auto f : p.getFollowers())
      ps.followers.push_back({f.getNodeId(), f.getMatchOffset(), f.getLag(), f.getMatchIndex(), f.getBehindMs(),
                              f.getLearner(), f.getState(), f.getConnected()});
    ps.log_start_offset = p.getLogStartOffset();
    ps.high_watermark = p.getHighWatermark();
    if (p.getError().getCode() != ErrorCode::NONE)
      ps.error = p.getError().getMessage().cStr();
    s.partitions.push_back(std::move(ps));
  }
  return s;
}

} // namespace

error::error(schema::ErrorCode code, const std::string& message)
  : std::runtime_error(std::string{wire::to_string(code)} + (message.empty() ? "" : ": " + message)), code_(code) {}

std::pair<std::string, std::uint16_t> parse_broker(const std::string& address) {
  auto parsed = cluster::parse_host_port(address, false);
  if (!parsed)
    throw error(ErrorCode::INVALID_REQUEST, "broker address '" + address + "' is not HOST:PORT");
  return *parsed;
}

std::vector<std::string> parse_broker_list(const std::string& addresses) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= addresses.size()) {
    auto comma = addresses.find(',', at);
    if (comma == std::string::npos)
      comma = addresses.size();
    auto one = addresses.substr(at, comma - at);
    auto [host, port] = parse_broker(one);
    out.push_back(host + ":" + std::to_string(port));
    at = comma + 1;
  }
  return out;
}

struct connection::impl {
  caf::actor_system_config cfg;
  caf::actor_system system;
  // The cluster session (client/actors.hpp): requests go through it to the
  // broker that should answer them.
  caf::actor session;
  std::shared_ptr<std::atomic<bool>> reachable = std::make_shared<std::atomic<bool>>(true);

  cluster_options options;

  impl(const std::string& addresses, routing mode, cluster_options settings)
      : system((configure_client_system(cfg), cfg)), options(std::move(settings)) {
    options.bootstrap = parse_broker_list(addresses);
    options.pinned = mode == routing::pinned;
    const auto patience = std::chrono::milliseconds{options.connect_timeout_ms} *
                            static_cast<int>(options.bootstrap.size()) +
                          std::chrono::seconds{5};
    session = spawn_cluster_session(system, options, reachable);
    caf::scoped_actor self{system};
    caf::error failure;
    self->request(session, patience, caf::connect_atom::value)
      .receive([] {}, [&](caf::error& e) { failure = std::move(e); });
    if (failure) {
      caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
      auto d = decode_error(failure);
      // A refusal of our credentials is not a reachability problem: say so.
      if (d.code == ErrorCode::AUTHENTICATION_FAILED)
        throw error(d.code, d.message);
      throw error(ErrorCode::PARTITION_UNAVAILABLE, "cannot connect to broker " + addresses + ": " + d.message);
    }
  }

  ~impl() {
    caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
  }

  // Sends one request and returns the response; throws on any error code.
  template <class F>
  auto call(bytes request, F&& on_response) {
    caf::scoped_actor self{system};
    bytes response;
    caf::error failure;
    self->request(session, admin_timeout, request_atom::value, std::move(request))
      .receive([&](bytes& r) { response = std::move(r); }, [&](caf::error& e) { failure = std::move(e); });
    if (failure)
      throw_caf_error(failure);
    try {
      wire::message_reader reader(response);
      auto r = reader.root<schema::Response>();
      if (r.getError().getCode() != ErrorCode::NONE)
        throw error(r.getError().getCode(), r.getError().getMessage().cStr());
      return on_response(r);
    } catch (const kj::Exception& e) {
      throw error(ErrorCode::INTERNAL, std::string{"malformed response: "} + e.getDescription().cStr());
    }
  }
};

connection::connection(const std::string& broker_addresses, routing mode)
  : impl_(std::make_unique<impl>(broker_addresses, mode, cluster_options{})) {}

connection::connection(const std::string& broker_addresses, const cluster_options& options, routing mode)
  : impl_(std::make_unique<impl>(broker_addresses, mode, options)) {}

connection::~connection() = default;

bool connection::connected() const {
  return *impl_->reachable;
}

void connection::create_topic(const std::string& name, std::uint32_t partitions, std::uint16_t replication_factor,
                              const std::optional<cluster::topic_config>& config) {
  capnp::MallocMessageBuilder builder;
  auto c = builder.initRoot<schema::Request>().initCreateTopic();
  c.setName(name);
  c.setPartitions(partitions);
  c.setReplicationFactor(replication_factor);
  auto cfg = c.initConfig();
  if (config)
    cluster::write_topic_config(*config, cfg);
  impl_->call(wire::to_bytes(builder), [](schema::Response::Reader) {});
}

void connection::delete_topic(const std::string& name) {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initDeleteTopic().setName(name);
  impl_->call(wire::to_bytes(builder), [](schema::Response::Reader) {});
}

std::string connection::restart_partition(const std::string& topic, std::uint32_t partition) {
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Request>().initRestartPartition();
  r.setTopic(topic);
  r.setPartition(partition);
  return impl_->call(wire::to_bytes(builder),
                     [](schema::Response::Reader r) { return std::string{r.getError().getMessage().cStr()}; });
}

void connection::alter_topic_partitions(const std::string& name, std::uint32_t partitions) {
  capnp::MallocMessageBuilder builder;
  auto a = builder.initRoot<schema::Request>().initAlterTopic();
  a.setName(name);
  a.setPartitions(partitions);
  impl_->call(wire::to_bytes(builder), [](schema::Response::Reader) {});
}

void connection::reassign_partition(const std::string& topic, std::uint32_t partition,
                                    const std::vector<std::int32_t>& replicas) {
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Request>().initReassignPartition();
  r.setTopic(topic);
  r.setPartition(partition);
  auto list = r.initReplicas(static_cast<unsigned>(replicas.size()));
  for (unsigned i = 0; i < replicas.size(); ++i) list.set(i, replicas[i]);
  impl_->call(wire::to_bytes(builder), [](schema::Response::Reader) {});
}

std::vector<char> connection::admin_request(std::vector<char> request) {
  return impl_->call(std::move(request), [](schema::Response::Reader r) {
    capnp::MallocMessageBuilder copy;
    copy.setRoot(r);
    return wire::to_bytes(copy);
  });
}

std::vector<topic_status> connection::list_topics() {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initMetadata();
  return impl_->call(wire::to_bytes(builder), [](schema::Response::Reader r) {
    std::vector<topic_status> out;
    for (auto t : r.getMetadata().getTopics())
      out.push_back(read_topic(t));
    return out;
  });
}

cluster_metadata connection::metadata() {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initMetadata();
  return impl_->call(wire::to_bytes(builder), [](schema::Response::Reader r) {
    cluster_metadata out;
    auto m = r.getMetadata();
    out.controller_id = m.getControllerId();
    for (auto b : m.getBrokers())
      out.brokers.push_back({b.getNodeId(), b.getHost().cStr(), b.getPort(), b.getRack().cStr(), b.getAlive()});
    for (auto t : m.getTopics())
      out.topics.push_back(read_topic(t));
    return out;
  });
}

topic_status connection::describe_topic(const std::string& name) {
  capnp::MallocMessageBuilder builder;
  builder.initRoot<schema::Request>().initDescribeTopic().setName(name);
  return impl_->call(wire::to_bytes(builder),
                     [](schema::Response::Reader r) { return read_topic(r.getDescribeTopic()); });
}

// --- producer -------------------------------------------------------------

namespace {

using send_handle = decltype(std::declval<caf::scoped_actor&>()->request(
  std::declval<caf::actor&>(), caf::infinite, send_atom::value, std::string{}, std::optional<std::string>{},
  std::string{}));

} // namespace

struct producer::impl {
  connection& conn;
  caf::scoped_actor self;
  caf::actor actor;
  caf::duration timeout;
  std::deque<send_handle> pending;  // in send() order
  produce_outcome outcome;
  bool prefix_intact = true;

  impl(connection& c, const producer_options& options)
    : conn(c),
      self(conn.impl_->system),
      actor(spawn_producer(conn.impl_->system, conn.impl_->session, options)),
      // The producer actor answers every record within its own request
      // timeout; the margin only guards against a lost actor.
      timeout(std::chrono::milliseconds{options.request_timeout_ms} + std::chrono::seconds{30}) {}

  ~impl() {
    self->send_exit(actor, caf::exit_reason::user_shutdown);
  }

  void settle_oldest() {
    auto handle = std::move(pending.front());
    pending.pop_front();
    handle.receive(
      [&](std::uint32_t, std::int64_t) {
        ++outcome.acknowledged;
        if (prefix_intact)
          ++outcome.acknowledged_prefix;
      },
      [&](caf::error& err) {
        ++outcome.failed;
        prefix_intact = false;
        if (outcome.first_error.empty()) {
          auto d = decode_error(err);
          outcome.first_error = error(d.code, d.message).what();
        }
      });
  }
};

producer::producer(connection& conn, producer_options options) : impl_(std::make_unique<impl>(conn, options)) {}

producer::~producer() = default;

void producer::send(const std::string& topic, std::optional<std::string_view> key, std::string_view value) {
  send(topic, key, value, 0);
}

void producer::send(const std::string& topic, std::optional<std::string_view> key, std::string_view value,
                    std::int64_t expires_at_ms) {
  if (!impl_->conn.connected())
    throw error(ErrorCode::PARTITION_UNAVAILABLE, "connection to the broker lost");
  while (impl_->pending.size() >= max_unacknowledged)
    impl_->settle_oldest();
  std::optional<std::string> k;
  if (key)
    k.emplace(*key);
  impl_->pending.push_back(impl_->self->request(impl_->actor, impl_->timeout, send_atom::value, topic, std::move(k),
                                                std::string{value}, expires_at_ms));
}

void producer::send_tombstone(const std::string& topic, std::string_view key) {
  if (!impl_->conn.connected())
    throw error(ErrorCode::PARTITION_UNAVAILABLE, "connection to the broker lost");
  while (impl_->pending.size() >= max_unacknowledged)
    impl_->settle_oldest();
  impl_->pending.push_back(
    impl_->self->request(impl_->actor, impl_->timeout, tombstone_atom::value, topic, std::string{key}));
}

produce_outcome producer::flush() {
  impl_->self->request(impl_->actor, impl_->timeout, flush_atom::value)
    .receive([] {}, [](caf::error&) {});  // a delivered unit is an empty message
  while (!impl_->pending.empty())
    impl_->settle_oldest();
  impl_->self->request(impl_->actor, impl_->timeout, caf::get_atom::value)
    .receive([&](std::uint64_t resent) { impl_->outcome.resent = resent; }, [](caf::error&) {});
  return impl_->outcome;
}

// --- consumer -------------------------------------------------------------

struct consumer::impl {
  caf::scoped_actor self;
  caf::actor actor;

  impl(connection& conn, const std::string& topic, const consumer_options& options)
    : self(conn.impl_->system), actor(spawn_consumer(conn.impl_->system, conn.impl_->session, topic, options)) {}

  ~impl() {
    self->send_exit(actor, caf::exit_reason::user_shutdown);
  }
};

consumer::consumer(connection& conn, const std::string& topic, consumer_options options)
  : impl_(std::make_unique<impl>(conn, topic, options)) {}

consumer::~consumer() = default;

std::vector<consumer_record> consumer::poll(std::chrono::milliseconds timeout, std::uint32_t max_records) {
  std::vector<consumer_record> out;
  caf::error failure;
  auto ms = static_cast<std::uint32_t>(timeout.count());
  impl_->self->request(impl_->actor, timeout + std::chrono::seconds{30}, poll_atom::value, max_records, ms)
    .receive([&](std::vector<consumer_record>& r) { out = std::move(r); },
             [&](caf::error& e) { failure = std::move(e); });
  if (failure)
    throw_caf_error(failure);
  return out;
}

std::vector<consumer_partition_status> consumer::status() {
  std::vector<consumer_partition_status> out;
  caf::error failure;
  impl_->self->request(impl_->actor, admin_timeout, consumer_status_atom::value)
    .receive([&](std::vector<consumer_partition_status>& r) { out = std::move(r); },
             [&](caf::error& e) { failure = std::move(e); });
  if (failure)
    throw_caf_error(failure);
  return out;
}

} // namespace herald::client
