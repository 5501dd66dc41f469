#include "apps/cluster_status.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>

namespace herald::cli {

namespace {

// Wide enough for most names; longer ones are cut so that a table still fits
// 80 columns (the full name is in `herald topic list`).
constexpr std::size_t max_topic_width = 24;

std::string address_of(const client::broker_status& b) { return b.host + ":" + std::to_string(b.port); }

std::string clip(const std::string& s, std::size_t width) {
  return s.size() <= width ? s : s.substr(0, width - 2) + "..";
}

// Columns separated by two spaces; numbers right-aligned, text left-aligned;
// no trailing blanks.
std::string table(const std::vector<std::string>& header, const std::vector<bool>& right,
                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const auto pad = std::string(width[c] - cells[c].size(), ' ');
      if (c > 0) l += "  ";
      l += right[c] ? pad + cells[c] : cells[c] + (c + 1 < cells.size() ? pad : "");
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

// "LABEL (n): a b c" wrapped at 80 columns, continuation lines indented.
std::string wrapped_list(const std::string& label, const std::vector<std::string>& items) {
  std::string out = label + " (" + std::to_string(items.size()) + "):";
  std::size_t col = out.size();
  for (const auto& item : items) {
    if (col + 1 + item.size() > 80) {
      out += "\n   ";
      col = 3;
    }
    out += " " + item;
    col += 1 + item.size();
  }
  return out + "\n";
}

std::string join(const std::vector<std::int32_t>& ids) {
  std::string s;
  for (auto id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s.empty() ? "-" : s;
}

}  // namespace

std::size_t status_report::leaderless() const {
  return static_cast<std::size_t>(
    std::count_if(partitions.begin(), partitions.end(), [](const partition_row& p) { return p.leader < 0; }));
}

std::size_t status_report::under_replicated() const {
  return static_cast<std::size_t>(
    std::count_if(partitions.begin(), partitions.end(), [](const partition_row& p) { return p.under_replicated; }));
}

cluster_snapshot gather(client::connection& first, const std::string& first_address,
                        const client::cluster_options& settings) {
  cluster_snapshot snap;
  snap.metadata = first.metadata();
  for (const auto& b : snap.metadata.brokers) {
    auto& answer = snap.answers[b.node_id];
    if (!b.alive) {
      answer.unreachable = "not registered";
      continue;
    }
    std::unique_ptr<client::connection> own;
    client::connection* conn = &first;
    try {
      if (address_of(b) != first_address) {
        own = std::make_unique<client::connection>(address_of(b), settings);
        conn = own.get();
      }
      for (const auto& t : snap.metadata.topics) {
        try {
          answer.topics.push_back(conn->describe_topic(t.name));
        } catch (const client::error& e) {
          // Created or deleted meanwhile, or not known there yet: the other
          // brokers' answers still count.
          if (e.code() != schema::ErrorCode::UNKNOWN_TOPIC) throw;
        }
      }
    } catch (const std::exception& e) {
      answer.topics.clear();
      answer.unreachable = e.what();
    }
  }
  return snap;
}

status_report build_report(const cluster_snapshot& snap, std::int64_t max_lag_ms) {
  status_report report;
  report.max_lag_ms = max_lag_ms;
  report.controller_id = snap.metadata.controller_id;
  report.zookeeper = snap.metadata.controller_id >= 0;
  std::set<std::int32_t> answering;
  for (const auto& b : snap.metadata.brokers) {
    broker_row row;
    row.broker = b;
    report.zookeeper |= !b.rack.empty() || !b.alive;
    auto a = snap.answers.find(b.node_id);
    if (!b.alive)
      row.state = "no";
    else if (a == snap.answers.end() || !a->second.unreachable.empty())
      row.state = "unreachable";
    else {
      row.state = "yes";
      answering.insert(b.node_id);
    }
    report.brokers.push_back(row);
  }

  for (const auto& topic : snap.metadata.topics) {
    for (std::uint32_t p = 0; p < topic.partition_count; ++p) {
      partition_row row;
      row.topic = topic.name;
      row.partition = p;
      // Every answer about this partition, by the broker that gave it.
      std::vector<std::pair<std::int32_t, const client::partition_status*>> seen;
      for (const auto& [id, answer] : snap.answers)
        for (const auto& t : answer.topics)
          if (t.name == topic.name)
            for (const auto& ps : t.partitions)
              if (ps.id == p) seen.emplace_back(id, &ps);
      const client::partition_status* lead = nullptr;
      for (const auto& [id, ps] : seen) {
        if (row.replicas.empty()) row.replicas = ps->replicas;
        row.high_watermark = std::max(row.high_watermark, ps->high_watermark);
        // The leader is the broker that says it leads: another's word may be
        // stale, and only the leader knows its followers.
        if (lead == nullptr && ps->error.empty() && ps->leader == id) {
          lead = ps;
          row.leader = id;
        }
      }
      if (lead != nullptr) row.high_watermark = lead->high_watermark;
      // Without a leader nobody knows how far the others are: nothing to show.
      if (lead == nullptr) {
        report.partitions.push_back(std::move(row));
        continue;
      }
      for (auto r : row.replicas) {
        if (r == row.leader) continue;
        replica_view v;
        v.node = r;
        const client::follower_status* f = nullptr;
        if (lead != nullptr)
          for (const auto& candidate : lead->followers)
            if (candidate.node_id == r) f = &candidate;
        v.lag = f != nullptr ? std::to_string(f->lag) : "?";
        v.in_sync = lead != nullptr && f != nullptr && answering.count(r) != 0 && !f->learner && f->connected &&
                    f->behind_ms >= 0 && f->behind_ms <= max_lag_ms;
        row.under_replicated |= lead != nullptr && !v.in_sync;
        row.followers.push_back(v);
      }
      report.partitions.push_back(std::move(row));
    }
  }
  for (auto& b : report.brokers)
    for (const auto& p : report.partitions) {
      if (std::find(p.replicas.begin(), p.replicas.end(), b.broker.node_id) != p.replicas.end()) ++b.partitions;
      if (p.leader == b.broker.node_id) ++b.leaders;
    }
  return report;
}

std::string render(const status_report& report) {
  std::ostringstream out;
  std::size_t answering = 0;
  for (const auto& b : report.brokers) answering += b.state == "yes" ? 1 : 0;
  std::set<std::string> topics;
  for (const auto& p : report.partitions) topics.insert(p.topic);
  out << "brokers: " << report.brokers.size() << " (" << answering << " answering); controller: "
      << (report.controller_id >= 0 ? std::to_string(report.controller_id)
          : report.zookeeper        ? std::string{"none elected"}
                                    : std::string{"none (static cluster)"})
      << "\n";
  out << "partitions: " << report.partitions.size() << " in " << topics.size() << " topic(s); "
      << report.leaderless() << " without leader, " << report.under_replicated() << " under-replicated\n";
  std::vector<std::string> leaderless, under;
  for (const auto& p : report.partitions) {
    // Cut only where a name could not fit a line of its own.
    const auto suffix = "/" + std::to_string(p.partition);
    const auto name = clip(p.topic, 76 - suffix.size()) + suffix;
    if (p.leader < 0) leaderless.push_back(name);
    if (p.under_replicated) under.push_back(name);
  }
  if (!leaderless.empty()) out << wrapped_list("NO LEADER", leaderless);
  if (!under.empty()) out << wrapped_list("UNDER-REPLICATED", under);

  std::vector<std::vector<std::string>> rows;
  for (const auto& b : report.brokers)
    rows.push_back({std::to_string(b.broker.node_id), address_of(b.broker), b.broker.rack.empty() ? "-" : b.broker.rack,
                    b.state, std::to_string(b.partitions), std::to_string(b.leaders)});
  out << "\n"
      << table({"BROKER", "ADDRESS", "RACK", "ALIVE", "PARTITIONS", "LEADERS"},
               {true, false, false, false, true, true}, rows);

  if (report.partitions.empty()) {
    out << "\nno topics\n";
    return out.str();
  }
  rows.clear();
  for (const auto& p : report.partitions) {
    std::string followers;
    for (const auto& f : p.followers)
      followers += (followers.empty() ? "" : " ") + std::to_string(f.node) + ":" + f.lag + (f.in_sync ? "" : "*");
    rows.push_back({clip(p.topic, max_topic_width), std::to_string(p.partition),
                    p.leader < 0 ? "-" : std::to_string(p.leader), join(p.replicas),
                    p.high_watermark < 0 ? "-" : std::to_string(p.high_watermark),
                    followers.empty() ? "-" : followers});
  }
  out << "\n"
      << table({"TOPIC", "PART", "LEADER", "REPLICAS", "HIGH-WATERMARK", "FOLLOWER:LAG"},
               {false, true, true, false, true, false}, rows);
  out << "lag: records behind the leader's log end; *: out of sync (broker down, not a\n"
           "voter yet, or not at the leader's log end for over "
        << report.max_lag_ms << " ms)\n";
  return out.str();
}

int run_status(client::connection& first, const std::string& first_address, std::int64_t max_lag_ms,
               const client::cluster_options& settings) {
  const auto report = build_report(gather(first, first_address, settings), max_lag_ms);
  std::fputs(render(report).c_str(), stdout);
  return report.leaderless() > 0 ? 1 : 0;
}

}  // namespace herald::cli
