#pragma once
// A Raft simulation over the real partition replica: partition_replica
// (raft_store + partition_log) on files, under the storage fault injector
// (storage/fault_injection.hpp): whole-machine power losses that keep only
// what was synced (or a random prefix of the rest, possibly torn), failed
// fsyncs, replica restarts, lost, delayed and reordered messages, cuts.
// Everything comes from the seed (no clock, no threads), files live in
// /dev/shm when there is one.
//
// Checked throughout: at most one leader per term, and a replica's high
// watermark never passes its log end nor goes back within one run of it.
// At the end (faults stopped): a leader is elected and a fresh write reaches
// every replica's high watermark; and under fsync=always every produce that
// was acknowledged (acks=all) is in every replica's log at its offset with
// its bytes (unless retention removed it). Under fsync=interval/never a
// power loss may lose acknowledged records, which Raft cannot survive, so
// only the first two hold there.
//
// Known failures, all under fsync=interval/never (seeds 101..1100: 15 of
// 1,000 fail, none under always; seeds 1..100, which CTest runs, pass):
// - "segment N.log byte 0: bad magic" at open after a power loss (e.g.
//   481, 1030): an fsync that failed while a segment was being closed
//   dropped its data for good (the model, like Linux, marks the pages
//   clean), a restart then trusted the page cache, and the power loss left
//   the closed segment without its data. A storage question: the failed
//   close is not cut back as sync() cuts the active segment.
// - a follower stuck, its committed entry contradicted by the leader (554),
//   or "leader's log differs at a committed index" (768): a power loss lost
//   acknowledged entries on a majority, which Raft cannot survive.

#include <cstdint>
#include <iosfwd>
#include <string>

namespace herald::replication::sim {

struct sim_options {
  std::uint64_t seed = 1;
  std::uint64_t steps = 3000;        // steps with faults
  std::uint64_t liveness_steps = 20000;
  std::ostream* trace = nullptr;
  bool trace_messages = false;  // with trace: every delivery too
};

struct sim_stats {
  std::uint64_t acked = 0;
  std::uint64_t power_losses = 0;
  std::uint64_t restarts = 0;
  std::uint64_t failed_syncs = 0;
  std::uint64_t leaders = 0;
};

struct sim_result {
  bool ok = true;
  std::string failure;
  std::string params;
  sim_stats stats;
};

sim_result run(const sim_options& opts);
std::string replay_command(const sim_options& opts);

}  // namespace herald::replication::sim
