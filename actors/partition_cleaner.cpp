// The partition's cleaner worker: reclaims expired records (per-record TTL)
// and, under cleanup policy compact, keeps only each key's latest record
// (storage/compaction.hpp). The rewrite runs on a detached worker actor, off
// the partition actor's thread, over closed segments that are wholly
// committed (closed segment files never change); the replica then swaps the
// result in (replace_segments), which refuses a result that retention,
// truncation or a roll made stale. Which segments, and what an outcome
// changes, is replication/cleaner_plan.hpp's.
//
// Every batch stays (each is a Raft entry with its offsets): only records
// thin out, so the Raft index -> offset map is untouched. Replicas clean on
// their own schedule, so their bytes differ where they cleaned differently;
// what a consumer reads is the same.

#include <chrono>

#include "actors/atoms.hpp"
#include "actors/partition_state.hpp"
#include "storage/compaction.hpp"

namespace herald::actors {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
    .count();
}

void cleaner_worker(caf::event_based_actor* self, std::shared_ptr<const replication::cleaner_job> job,
                    std::shared_ptr<const std::atomic<bool>> cancelled, caf::actor reply_to) {
  replication::cleaner_outcome out;
  auto cleaned =
      storage::compact_segments(job->dir, job->bases, job->policy, job->max_output_bytes,
                                [&cancelled] { return cancelled->load(std::memory_order_relaxed); });
  if (cleaned)
    out.cleaned = std::move(*cleaned);
  else
    out.error = cleaned.error().message;
  self->send(reply_to, cleaned_atom::value, std::move(out));
  self->quit();
}

} // namespace

void start_cleaner(partition_ptr self) {
  auto job = self->state.replica->plan_cleaner(now_ms());
  if (!job) return;
  // Linked: a worker that dies without answering takes the partition down
  // to be restarted, instead of leaving the cleaner marked busy for ever.
  // The other way, the link acts only once compact_segments() returns, so
  // the partition's end also sets the cancel flag it checks every batch.
  self->spawn<caf::detached + caf::linked>(cleaner_worker,
                                           std::make_shared<const replication::cleaner_job>(std::move(*job)),
                                           std::shared_ptr<const std::atomic<bool>>(self->state.cleaner_stop.flag),
                                           caf::actor_cast<caf::actor>(self));
}

} // namespace herald::actors
