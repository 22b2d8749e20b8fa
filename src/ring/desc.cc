#include "ring/desc.h"

#include <algorithm>

#include "ring.pb.h"

namespace sluice::ring {

std::string_view StateName(InstanceState state) {
  switch (state) {
    case InstanceState::kActive:
      return "ACTIVE";
    case InstanceState::kLeaving:
      return "LEAVING";
    case InstanceState::kPending:
      return "PENDING";
    case InstanceState::kJoining:
      return "JOINING";
    case InstanceState::kLeft:
      break;
  }
  return "LEFT";
}

bool InstanceDesc::HeartbeatFresh(int64_t now_ns, int64_t heartbeat_timeout_ns) const {
  if (heartbeat_timeout_ns <= 0) return true;
  return now_ns - timestamp * 1'000'000'000 <= heartbeat_timeout_ns;
}

std::vector<uint32_t> Desc::AllTokens() const {
  std::vector<uint32_t> out;
  for (const auto& [id, inst] : instances)
    out.insert(out.end(), inst.tokens.begin(), inst.tokens.end());
  std::sort(out.begin(), out.end());
  return out;
}

void Desc::NotePartitions(const std::vector<int32_t>& partitions) {
  kafka_partitions.insert(kafka_partitions.end(), partitions.begin(), partitions.end());
  std::sort(kafka_partitions.begin(), kafka_partitions.end());
  kafka_partitions.erase(std::unique(kafka_partitions.begin(), kafka_partitions.end()),
                         kafka_partitions.end());
}

std::string Desc::Encode() const {
  pb::Desc msg;
  for (const auto& [id, inst] : instances) {
    pb::InstanceDesc& p = (*msg.mutable_ingesters())[id];
    p.set_id(inst.id);
    p.set_addr(inst.addr);
    p.set_zone(inst.zone);
    p.set_state(static_cast<pb::InstanceState>(inst.state));
    p.set_timestamp(inst.timestamp);
    p.set_registered_timestamp(inst.registered_timestamp);
    for (uint32_t t : inst.tokens) p.add_tokens(t);
    for (int32_t partition : inst.partitions) p.add_partitions(partition);
  }
  for (int32_t partition : kafka_partitions) msg.add_kafka_partitions(partition);
  std::string out;
  msg.SerializeToString(&out);
  return out;
}

Result<Desc> Desc::Decode(std::string_view bytes) {
  pb::Desc msg;
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("ring descriptor: not a valid ring.proto Desc");
  }
  Desc desc;
  for (const auto& [id, p] : msg.ingesters()) {
    InstanceDesc inst;
    inst.id = p.id().empty() ? id : p.id();
    inst.addr = p.addr();
    inst.zone = p.zone();
    int state = p.state();
    inst.state =
        state >= 0 && state <= 4 ? static_cast<InstanceState>(state) : InstanceState::kLeft;
    inst.timestamp = p.timestamp();
    inst.registered_timestamp = p.registered_timestamp();
    inst.tokens.assign(p.tokens().begin(), p.tokens().end());
    std::sort(inst.tokens.begin(), inst.tokens.end());
    inst.partitions.assign(p.partitions().begin(), p.partitions().end());
    std::sort(inst.partitions.begin(), inst.partitions.end());
    desc.instances.emplace(id, std::move(inst));
  }
  std::vector<int32_t> known(msg.kafka_partitions().begin(), msg.kafka_partitions().end());
  desc.NotePartitions(known);
  return desc;
}

}  // namespace sluice::ring
