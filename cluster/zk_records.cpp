#include "cluster/zk_records.hpp"

#include "cluster/address.hpp"

#include <charconv>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "cluster/topic_limits.hpp"

namespace herald::cluster::zk {

namespace {

constexpr std::uint32_t record_version = 1;

void line(std::string& out, std::string_view key, std::string_view value) {
  out.append(key).append("=").append(value).append("\n");
}

template <class T>
void line(std::string& out, std::string_view key, T value) {
  line(out, key, std::string_view{std::to_string(value)});
}

const char* fsync_name(fsync_policy p) {
  switch (p) {
    case fsync_policy::always: return "always";
    case fsync_policy::interval: return "interval";
    case fsync_policy::never: return "never";
  }
  return "always";
}

// Key -> (line number, value) of one record, after the framing checks.
struct fields {
  std::map<std::string, std::pair<std::size_t, std::string>, std::less<>> values;

  const std::pair<std::size_t, std::string>* find(std::string_view key) const {
    auto i = values.find(key);
    return i == values.end() ? nullptr : &i->second;
  }
};

bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

// Splits `text` into lines and fields; checks the version line.
std::string split(std::string_view text, fields& out) {
  if (text.size() > max_record_bytes)
    return "record of " + std::to_string(text.size()) + " bytes, more than the " + std::to_string(max_record_bytes) +
           " allowed";
  if (text.empty())
    return "empty record (no version line)";
  if (text.back() != '\n')
    return "record does not end with a newline (truncated?)";
  std::size_t number = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++number;
    const auto end = text.find('\n', pos);
    const auto l = text.substr(pos, end - pos);
    pos = end + 1;
    const auto eq = l.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return "line " + std::to_string(number) + " is not key=value";
    const auto key = l.substr(0, eq);
    for (char c : key)
      if (!key_char(c))
        return "line " + std::to_string(number) + ": key has a byte outside [a-z0-9_.]";
    const auto value = l.substr(eq + 1);
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f)
        return "line " + std::to_string(number) + " (" + std::string{key} + "): control byte in the value";
    }
    if (number == 1) {
      if (key != "version")
        return "first line is not version=N";
      std::uint32_t v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc{} || p != value.data() + value.size() || v == 0)
        return "version is not a positive number";
      if (v > record_version)
        return "record version " + std::to_string(v) + " is newer than this broker reads (" +
               std::to_string(record_version) + ")";
      continue;
    }
    if (!out.values.emplace(std::string{key}, std::make_pair(number, std::string{value})).second)
      return "line " + std::to_string(number) + ": key " + std::string{key} + " appears twice";
  }
  return {};
}

template <class T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty() || s.front() == '+')
    return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

// Reads field `key` as a number in [lo, hi]; error text otherwise.
template <class T>
std::string number_field(const fields& f, std::string_view key, T lo, T hi, T& out) {
  const auto* v = f.find(key);
  if (v == nullptr)
    return "missing " + std::string{key};
  if (!parse_number(v->second, out) || out < lo || out > hi)
    return "line " + std::to_string(v->first) + ": " + std::string{key} + "=" + v->second + " is not a number in " +
           std::to_string(lo) + ".." + std::to_string(hi);
  return {};
}

std::string text_field(const fields& f, std::string_view key, std::string& out) {
  const auto* v = f.find(key);
  if (v == nullptr)
    return "missing " + std::string{key};
  out = v->second;
  return {};
}

// "replicas:1,2,3 epoch:4 settled:true"
std::string parse_partition(std::string_view value, partition_assignment& out) {
  constexpr std::string_view r = "replicas:", e = " epoch:", s = " settled:";
  if (value.substr(0, r.size()) != r)
    return "does not start with replicas:";
  const auto epos = value.find(e);
  const auto spos = value.find(s);
  if (epos == std::string_view::npos || spos == std::string_view::npos || spos < epos)
    return "is not 'replicas:<ids> epoch:<n> settled:<true|false>'";
  auto list = value.substr(r.size(), epos - r.size());
  if (list.empty())
    return "has no replicas";
  std::set<broker_id> seen;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = list.substr(0, comma);
    broker_id id = 0;
    if (!parse_number(item, id) || id <= 0)
      return "replica '" + std::string{item} + "' is not a broker id > 0";
    if (!seen.insert(id).second)
      return "names broker " + std::to_string(id) + " twice";
    out.replicas.push_back(id);
    if (out.replicas.size() > max_replicas_per_partition)
      return "has more than " + std::to_string(max_replicas_per_partition) + " replicas";
    if (comma == std::string_view::npos)
      break;
    list = list.substr(comma + 1);
    if (list.empty())
      return "replica list ends with a comma";
  }
  if (!parse_number(value.substr(epos + e.size(), spos - epos - e.size()), out.epoch))
    return "epoch is not a number";
  const auto settled = value.substr(spos + s.size());
  if (settled == "true")
    out.settled = true;
  else if (settled == "false")
    out.settled = false;
  else
    return "settled is neither true nor false";
  return {};
}

std::string hex(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4)
    out[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return out;
}

std::uint64_t random_u64() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

} // namespace

std::string check_owner(std::string_view owner) {
  if (owner.size() > max_owner_bytes)
    return "owner longer than " + std::to_string(max_owner_bytes) + " bytes";
  if (owner.substr(0, 5) != "User:" || owner.size() == 5)
    return "owner '" + std::string{owner} + "' is not User:<name>";
  return {};
}

std::string check_rack(std::string_view rack) {
  if (rack.size() > 64)
    return "rack name longer than 64 characters";
  for (char c : rack)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return "rack name '" + std::string{rack} + "' has a character outside [A-Za-z0-9._-]";
  return {};
}

std::string check_host(std::string_view host) {
  if (host.empty() || host.size() > 255)
    return "host must be 1..255 characters";
  for (char c : host) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f)
      return "host '" + std::string{host} + "' has a space or control character";
  }
  return {};
}

std::string encode(const broker_record& b) {
  std::string out;
  line(out, "version", record_version);
  line(out, "id", b.id);
  line(out, "host", std::string_view{b.host});
  line(out, "port", b.port);
  line(out, "rack", std::string_view{b.rack});
  line(out, "weight", b.weight);
  if (b.cluster_port != 0)
    line(out, "cluster", std::string_view{b.cluster_host + ":" + std::to_string(b.cluster_port)});
  return out;
}

std::string encode(const controller_record& c) {
  std::string out;
  line(out, "version", record_version);
  line(out, "id", c.id);
  line(out, "epoch", c.epoch);
  return out;
}

std::string encode(const topic_record& t) {
  const auto& d = t.descriptor;
  std::string out;
  line(out, "version", record_version);
  line(out, "name", std::string_view{d.name});
  line(out, "id", d.id);
  line(out, "partitions", d.partition_count);
  line(out, "replication_factor", d.replication_factor);
  line(out, "segment_bytes", d.config.segment_bytes);
  line(out, "max_batch_bytes", d.config.max_batch_bytes);
  line(out, "fsync", std::string_view{fsync_name(d.config.fsync)});
  line(out, "fsync_interval_ms", d.config.fsync_interval_ms);
  line(out, "retention_ms", d.config.retention_ms);
  line(out, "retention_bytes", d.config.retention_bytes);
  line(out, "cleanup", std::string_view{d.config.compact ? "compact" : "delete"});
  line(out, "tombstone_retention_ms", d.config.tombstone_retention_ms);
  line(out, "min_compaction_lag_ms", d.config.min_compaction_lag_ms);
  if (!d.owner.empty())
    line(out, "owner", std::string_view{d.owner});
  for (std::size_t i = 0; i < t.partitions.size(); ++i) {
    const auto& p = t.partitions[i];
    std::string v = "replicas:";
    for (std::size_t r = 0; r < p.replicas.size(); ++r) {
      if (r > 0)
        v += ",";
      v += std::to_string(p.replicas[r]);
    }
    v += " epoch:" + std::to_string(p.epoch) + " settled:" + (p.settled ? "true" : "false");
    line(out, "partition." + std::to_string(i), std::string_view{v});
  }
  return out;
}

decoded<broker_record> decode_broker(std::string_view text) {
  decoded<broker_record> r;
  auto fail = [&](std::string why) {
    r.error = "broker record: " + why;
    r.value = {};
    return r;
  };
  fields f;
  if (auto e = split(text, f); !e.empty())
    return fail(e);
  auto& b = r.value;
  std::uint32_t port = 0;
  for (auto e : {number_field(f, "id", broker_id{1}, std::numeric_limits<broker_id>::max(), b.id),
                 text_field(f, "host", b.host), number_field(f, "port", 1u, 65535u, port),
                 text_field(f, "rack", b.rack), number_field(f, "weight", 1u, 1'000'000u, b.weight)})
    if (!e.empty())
      return fail(e);
  b.port = static_cast<std::uint16_t>(port);
  if (auto e = check_host(b.host); !e.empty())
    return fail(e);
  if (auto e = check_rack(b.rack); !e.empty())
    return fail(e);
  if (const auto* c = f.find("cluster"); c != nullptr) {
    auto hp = parse_host_port(c->second, false);
    if (!hp)
      return fail("line " + std::to_string(c->first) + ": cluster=" + c->second + " is not HOST:PORT");
    if (auto e = check_host(hp->first); !e.empty())
      return fail("cluster " + e);
    b.cluster_host = hp->first;
    b.cluster_port = hp->second;
  }
  return r;
}

decoded<controller_record> decode_controller(std::string_view text) {
  decoded<controller_record> r;
  fields f;
  std::string e = split(text, f);
  if (e.empty())
    e = number_field(f, "id", broker_id{1}, std::numeric_limits<broker_id>::max(), r.value.id);
  if (e.empty())
    e = number_field(f, "epoch", std::uint64_t{1}, std::numeric_limits<std::uint64_t>::max(), r.value.epoch);
  if (!e.empty()) {
    r.error = "controller record: " + e;
    r.value = {};
  }
  return r;
}

decoded<topic_record> decode_topic(std::string_view text) {
  decoded<topic_record> r;
  auto fail = [&](std::string why) {
    r.error = "topic record" + (r.value.descriptor.name.empty() ? std::string{} : " " + r.value.descriptor.name) +
              ": " + why;
    r.value = {};
    return r;
  };
  fields f;
  if (auto e = split(text, f); !e.empty())
    return fail(e);
  auto& d = r.value.descriptor;
  if (auto e = text_field(f, "name", d.name); !e.empty())
    return fail(e);
  if (auto e = check_topic_name(d.name); !e.empty()) {
    d.name.clear();
    return fail(e);
  }
  std::string fsync, cleanup;
  for (auto e :
       {number_field(f, "id", std::uint64_t{1}, std::numeric_limits<std::uint64_t>::max(), d.id),
        number_field(f, "partitions", 1u, max_partitions_per_topic, d.partition_count),
        number_field(f, "replication_factor", std::uint16_t{1}, std::numeric_limits<std::uint16_t>::max(),
                     d.replication_factor),
        number_field(f, "segment_bytes", std::uint64_t{0}, std::numeric_limits<std::uint64_t>::max(),
                     d.config.segment_bytes),
        number_field(f, "max_batch_bytes", 0u, std::numeric_limits<std::uint32_t>::max(), d.config.max_batch_bytes),
        text_field(f, "fsync", fsync),
        number_field(f, "fsync_interval_ms", 0u, std::numeric_limits<std::uint32_t>::max(),
                     d.config.fsync_interval_ms),
        number_field(f, "retention_ms", std::int64_t{-1}, std::numeric_limits<std::int64_t>::max(),
                     d.config.retention_ms),
        number_field(f, "retention_bytes", std::int64_t{-1}, std::numeric_limits<std::int64_t>::max(),
                     d.config.retention_bytes),
        text_field(f, "cleanup", cleanup),
        number_field(f, "tombstone_retention_ms", std::int64_t{0}, std::numeric_limits<std::int64_t>::max(),
                     d.config.tombstone_retention_ms),
        number_field(f, "min_compaction_lag_ms", std::int64_t{0}, std::numeric_limits<std::int64_t>::max(),
                     d.config.min_compaction_lag_ms)})
    if (!e.empty())
      return fail(e);
  if (fsync == "always")
    d.config.fsync = fsync_policy::always;
  else if (fsync == "interval")
    d.config.fsync = fsync_policy::interval;
  else if (fsync == "never")
    d.config.fsync = fsync_policy::never;
  else
    return fail("fsync=" + fsync + " is not always, interval or never");
  if (cleanup != "delete" && cleanup != "compact")
    return fail("cleanup=" + cleanup + " is neither delete nor compact");
  d.config.compact = cleanup == "compact";
  if (const auto* o = f.find("owner"); o != nullptr) {
    if (auto e = check_owner(o->second); !e.empty())
      return fail("line " + std::to_string(o->first) + ": " + e);
    d.owner = o->second;
  }
  if (auto e = check_topic_config(d.config); !e.empty())
    return fail(e);
  r.value.partitions.resize(d.partition_count);
  for (std::uint32_t i = 0; i < d.partition_count; ++i) {
    const auto key = "partition." + std::to_string(i);
    const auto* v = f.find(key);
    if (v == nullptr)
      return fail("missing " + key);
    if (auto e = parse_partition(v->second, r.value.partitions[i]); !e.empty())
      return fail("line " + std::to_string(v->first) + ": " + key + " " + e);
  }
  // A partition line past the count would be silently ignored as an unknown
  // key: it means the count or the lines are wrong, so refuse it.
  for (const auto& [key, v] : f.values)
    if (key.starts_with("partition.")) {
      std::uint32_t i = 0;
      if (!parse_number(std::string_view{key}.substr(10), i) || i >= d.partition_count ||
          key != "partition." + std::to_string(i))
        return fail("line " + std::to_string(v.first) + ": " + key + " is not a partition of 0.." +
                    std::to_string(d.partition_count - 1));
    }
  return r;
}

std::string new_cluster_id() {
  return hex(random_u64()) + hex(random_u64());
}

decoded<std::string> decode_cluster_id(std::string_view text) {
  decoded<std::string> r;
  if (!text.empty() && text.back() == '\n')
    text.remove_suffix(1);
  bool ok = text.size() == 32;
  for (char c : text)
    ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok)
    r.error = "cluster id is not 32 lowercase hex characters";
  else
    r.value = std::string{text};
  return r;
}

std::uint64_t new_topic_id() {
  for (;;)
    if (auto id = random_u64() >> 1; id != 0)  // below 2^63: safe in any signed 64-bit tool too
      return id;
}

connect_string split_connect_string(std::string_view text) {
  connect_string c;
  const auto slash = text.find('/');
  c.hosts = std::string{text.substr(0, slash)};
  if (slash != std::string_view::npos) {
    auto prefix = text.substr(slash);
    while (prefix.size() > 1 && prefix.back() == '/')
      prefix.remove_suffix(1);
    if (prefix != "/")
      c.prefix = std::string{prefix};
  }
  if (c.hosts.empty()) {
    c.error = "no HOST:PORT before the chroot";
    return c;
  }
  for (char ch : c.hosts)
    if (static_cast<unsigned char>(ch) <= 0x20)
      c.error = "space or control character in the host list";
  std::size_t seg = 0;
  for (std::size_t i = 1; i <= c.prefix.size(); ++i) {
    if (i == c.prefix.size() || c.prefix[i] == '/') {
      const auto part = std::string_view{c.prefix}.substr(seg + 1, i - seg - 1);
      if (part.empty() || part == "." || part == "..")
        c.error = "chroot '" + c.prefix + "' has an empty, '.' or '..' component";
      seg = i;
    } else if (static_cast<unsigned char>(c.prefix[i]) <= 0x20 || c.prefix[i] == 0x7f) {
      c.error = "chroot has a space or control character";
    }
  }
  return c;
}

} // namespace herald::cluster::zk
