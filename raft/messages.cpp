#include "raft/messages.hpp"

namespace herald::raft {

namespace {

template <class... F>
struct overload : F... {
  using F::operator()...;
};
template <class... F>
overload(F...) -> overload<F...>;

}  // namespace

const char* kind_name(const message_body& body) {
  static constexpr const char* names[] = {"request_vote",      "request_vote_response",
                                          "append_entries",    "append_entries_response",
                                          "install_snapshot",  "install_snapshot_response",
                                          "timeout_now"};
  return names[body.index()];
}

std::string to_string(const message& m) {
  using std::to_string;
  std::string s = std::to_string(m.from) + "->" + std::to_string(m.to) + " t" + std::to_string(m.term) + " ";
  s += kind_name(m.body);
  s += std::visit(
      overload{
          [](const request_vote& v) {
            return std::string(v.pre_vote ? " pre" : "") + (v.leadership_transfer ? " transfer" : "") +
                   " last=" + to_string(v.last_log_index) + "/t" + to_string(v.last_log_term);
          },
          [](const request_vote_response& v) {
            return std::string(v.pre_vote ? " pre" : "") + (v.vote_granted ? " granted" : " rejected");
          },
          [](const append_entries& v) {
            std::string r = " prev=" + to_string(v.prev_log_index) + "/t" + to_string(v.prev_log_term) +
                            " n=" + to_string(v.entries.size()) + " commit=" + to_string(v.leader_commit);
            if (!v.entries.empty())
              r += " [" + to_string(v.entries.front().index) + ".." + to_string(v.entries.back().index) + "]";
            return r;
          },
          [](const append_entries_response& v) {
            if (v.success) return " ok match=" + to_string(v.match_index);
            return " reject prev=" + to_string(v.rejected_index) + " hint=" + to_string(v.hint_index) + "/t" +
                   to_string(v.hint_term) + " last=" + to_string(v.last_log_index);
          },
          [](const install_snapshot& v) {
            return " snap=" + to_string(v.meta.index) + "/t" + to_string(v.meta.term) +
                   " off=" + to_string(v.offset) + " len=" + to_string(v.data.size()) + (v.done ? " done" : "");
          },
          [](const install_snapshot_response& v) {
            return " snap=" + to_string(v.snapshot_index) + (v.done ? " done" : "") +
                   (v.rejected ? " rejected" : "") + " next=" + to_string(v.next_offset);
          },
          [](const timeout_now& v) { return " last=" + std::to_string(v.last_index); },
      },
      m.body);
  return s;
}

}  // namespace herald::raft
