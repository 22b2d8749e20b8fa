#pragma once

// The ring descriptor: every instance of the ring with its address, state, zone, tokens and last
// heartbeat. Stored as one value in the KV store (kv.h), encoded with ring.proto (field numbers as
// Loki's dskit ring.proto). Every writer updates it with compare-and-swap on the value's revision
// (UpdateDesc), so concurrent heartbeats of different instances retry instead of overwriting
// each other: the merge rule is "re-read, re-apply my change to my own entry, CAS again".

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::ring {

// Values are those of ring.proto (and Loki's InstanceState), because they are serialized.
enum class InstanceState : uint8_t {
  kActive = 0,
  kLeaving = 1,
  kPending = 2,
  kJoining = 3,
  kLeft = 4,
};

// "ACTIVE", "LEAVING" ... as Loki prints them.
std::string_view StateName(InstanceState state);

struct InstanceDesc {
  std::string id;
  std::string addr;
  std::string zone;
  InstanceState state = InstanceState::kPending;
  int64_t timestamp = 0;             // last heartbeat, Unix seconds (as Loki stores it)
  int64_t registered_timestamp = 0;  // first registration, Unix seconds
  std::vector<uint32_t> tokens;      // sorted ascending
  std::vector<int32_t> partitions;   // Kafka partitions it consumes, sorted; empty: none

  // Heartbeat no older than heartbeat_timeout_ns at now_ns (a timeout of 0 disables the check,
  // as in Loki).
  bool HeartbeatFresh(int64_t now_ns, int64_t heartbeat_timeout_ns) const;
};

struct Desc {
  std::map<std::string, InstanceDesc> instances;  // by instance id
  // Every Kafka partition an instance has consumed, sorted; kept after its owners left.
  std::vector<int32_t> kafka_partitions;
  // Adds `partitions` to kafka_partitions.
  void NotePartitions(const std::vector<int32_t>& partitions);

  // Every token of every instance; the set of tokens in use (new instances avoid them).
  std::vector<uint32_t> AllTokens() const;

  std::string Encode() const;
  // An empty value decodes to an empty ring (a KV key that does not exist yet).
  static Result<Desc> Decode(std::string_view bytes);
};

}  // namespace sluice::ring
