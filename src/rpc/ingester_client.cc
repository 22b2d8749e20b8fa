#include "rpc/ingester_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <utility>

#include <grpc/slice.h>
#include <grpcpp/impl/client_unary_call.h>

#include "common/check.h"
#include "metrics/metrics.h"
#include "rpc/convert.h"
#include "rpc/status.h"
#include "tracing/tracing.h"
#include "write/push_wire.h"

namespace sluice::rpc {

namespace {

// Ingester.Push's path, as the generated stub names it.
constexpr char kPushMethod[] = "/sluice.ingester.v1.Ingester/Push";
static_assert(std::string_view(kPushMethod).substr(1, std::string_view(kPushMethod).size() - 6) ==
              pb::Ingester::service_full_name());

int ClampToInt(uint64_t v) {
  return static_cast<int>(std::min<uint64_t>(v, std::numeric_limits<int>::max()));
}

// A read call's status: a timed-out query says so in Loki's words, wherever it ran out.
Status ReadStatus(const grpc::Status& gs, std::string_view peer) {
  if (gs.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return Status::DeadlineExceeded(std::string(read::kQueryTimeoutMessage));
  }
  return FromGrpcStatus(gs, peer);
}

// One SelectStreams call: its connection stream, and what has been received for each stream
// but not read yet. Shared by the call's per-stream iterators; the last one to go cancels the
// call if it has not ended. Used by one thread at a time (see read::StreamSource).
class SelectCall {
 public:
  SelectCall(std::string peer, chunk::BlockStats* stats, std::atomic<uint64_t>* peak_buffered)
      : peer_(std::move(peer)), stats_(stats), peak_buffered_(peak_buffered) {}
  ~SelectCall() {
    if (reader_ == nullptr) return;
    if (!done_) ctx_.TryCancel();
    (void)reader_->Finish();
  }

  grpc::ClientContext* context() { return &ctx_; }
  void Start(std::unique_ptr<grpc::ClientReader<pb::SelectStreamsResponse>> reader) {
    reader_ = std::move(reader);
  }

  // Reads until every stream is introduced. Then streams() is complete.
  Status ReadHeads() {
    while (!heads_done_) {
      if (!ReadOne()) return status_.ok() ? Status::OK() : status_;
    }
    return Status::OK();
  }

  struct Buffer {
    model::LabelSet labels;
    std::deque<model::Entry> entries;
    bool ended = false;
  };
  size_t num_streams() const { return streams_.size(); }
  const model::LabelSet& labels(uint32_t id) const { return streams_[id].labels; }

  // The stream's next entry into *out; false at its end or on error (then status()).
  bool Next(uint32_t id, model::Entry* out) {
    while (streams_[id].entries.empty()) {
      if (streams_[id].ended || !ReadOne()) return false;
    }
    *out = std::move(streams_[id].entries.front());
    streams_[id].entries.pop_front();
    --buffered_;
    return true;
  }
  const Status& status() const { return status_; }

 private:
  // Receives one message and files its entries; false when the call has ended.
  bool ReadOne() {
    if (done_) return false;
    pb::SelectStreamsResponse msg;
    if (!reader_->Read(&msg)) {
      done_ = true;
      status_ = ReadStatus(reader_->Finish(), peer_);
      reader_.reset();
      for (auto& s : streams_) s.ended = true;
      return false;
    }
    if (heads_done_ && msg.streams_size() > 0) {
      return Fail("a stream was introduced after the first entries of every stream");
    }
    for (auto& ls : msg.streams()) streams_.push_back(Buffer{FromProto(ls), {}, false});
    for (auto& e : *msg.mutable_entries()) {
      if (e.stream() >= streams_.size()) return Fail("an entry of an unknown stream");
      model::Entry entry;
      entry.timestamp_ns = e.timestamp_ns();
      entry.line = std::move(*e.mutable_line());
      for (auto& m : *e.mutable_structured_metadata()) {
        entry.metadata.push_back(
            model::Label{std::move(*m.mutable_name()), std::move(*m.mutable_value())});
      }
      streams_[e.stream()].entries.push_back(std::move(entry));
      ++buffered_;
    }
    uint64_t peak = peak_buffered_->load();
    while (buffered_ > peak && !peak_buffered_->compare_exchange_weak(peak, buffered_)) {
    }
    for (uint32_t id : msg.ended()) {
      if (id >= streams_.size()) return Fail("the end of an unknown stream");
      streams_[id].ended = true;
    }
    if (msg.heads_done()) heads_done_ = true;
    if (msg.has_stats() && stats_ != nullptr) AddFromProto(msg.stats(), stats_);
    return true;
  }

  bool Fail(const std::string& what) {
    status_ = Status::Internal("ingester " + peer_ + ": bad SelectStreams answer: " + what);
    done_ = true;
    for (auto& s : streams_) s.ended = true;
    return false;
  }

  const std::string peer_;
  chunk::BlockStats* stats_;  // nullable
  std::atomic<uint64_t>* peak_buffered_;
  uint64_t buffered_ = 0;  // entries received and not read yet
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<pb::SelectStreamsResponse>> reader_;
  std::vector<Buffer> streams_;  // by id
  bool heads_done_ = false;
  bool done_ = false;
  Status status_;
};

class RemoteStreamIterator final : public iter::EntryIterator {
 public:
  RemoteStreamIterator(std::shared_ptr<SelectCall> call, uint32_t id)
      : call_(std::move(call)), id_(id) {}

  bool Next() override { return call_->Next(id_, &current_); }
  const model::Entry& At() const override { return current_; }
  const model::LabelSet& Labels() const override { return call_->labels(id_); }
  Status Error() const override { return call_->status(); }

 private:
  std::shared_ptr<SelectCall> call_;
  uint32_t id_;
  model::Entry current_;
};

// Sets the tenant and a deadline: `cap_ns` from now (0: none), or earlier when the query's
// deadline is. False when the query's deadline has passed already.
bool Prepare(grpc::ClientContext* ctx, std::string_view tenant, const read::Deadline& deadline,
             int64_t cap_ns) {
  ctx->AddMetadata(kTenantMetadata, std::string(tenant));
  if (const tracing::SpanContext& trace = tracing::ActiveContext(); trace.valid()) {
    ctx->AddMetadata(kTraceparentMetadata, tracing::FormatTraceparent(trace));
  }
  int64_t remaining = cap_ns > 0 ? cap_ns : std::numeric_limits<int64_t>::max();
  if (deadline.set()) {
    int64_t at = deadline.at_ns;
    if (deadline.shared_ns != nullptr) at = std::min(at, deadline.shared_ns->load());
    const int64_t now = deadline.clock->NowNanos();
    if (at <= now) return false;
    if (at != std::numeric_limits<int64_t>::max()) remaining = std::min(remaining, at - now);
  }
  if (remaining != std::numeric_limits<int64_t>::max()) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::nanoseconds(remaining));
  }
  return true;
}

// A unary read call (series, labels, chunk counts) under remote_timeout and the query's deadline.
template <typename Request, typename Response>
Status UnaryRead(pb::Ingester::Stub* stub,
                 grpc::Status (pb::Ingester::Stub::*method)(grpc::ClientContext*, const Request&,
                                                            Response*),
                 const read::SelectRequest& req, std::string_view tenant, int64_t timeout_ns,
                 const std::string& peer, const Request& request, Response* response) {
  grpc::ClientContext ctx;
  if (!Prepare(&ctx, tenant, req.deadline, timeout_ns)) {
    return Status::DeadlineExceeded(std::string(read::kQueryTimeoutMessage));
  }
  return ReadStatus((stub->*method)(&ctx, request, response), peer);
}

// Loki's client-side histogram of calls to ingesters, with sluice's `ingester` label: one slow
// ingester stands out from its peers, which the distributor's quorum otherwise hides.
metrics::Histogram* PushDuration(const std::string& address, bool ok) {
  static auto* family = metrics::DefaultRegistry().NewHistogram(
      "loki_ingester_client_request_duration_seconds", "Time spent doing Ingester requests.",
      {"operation", "status_code", "ingester"}, {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10});
  return family->WithLabels({"/logproto.Pusher/Push", ok ? "success" : "error", address});
}

// The breaker's state changes, per ingester: an open breaker is an ingester the distributors
// have stopped waiting for.
CircuitBreaker::Options BreakerOptions(const config::Config::IngesterClient& config,
                                       const std::string& address) {
  static auto* transitions = metrics::DefaultRegistry().NewCounter(
      "sluice_ingester_client_circuit_breaker_transitions_total",
      "State changes of the circuit breaker of each ingester client, by the state entered.",
      {"ingester", "state"});
  static auto* open = metrics::DefaultRegistry().NewGauge(
      "sluice_ingester_client_circuit_breaker_open",
      "1 while the circuit breaker of an ingester client is open or half-open.", {"ingester"});
  CircuitBreaker::Options o;
  o.failure_threshold = config.circuit_breaker.failure_threshold;
  o.cooldown_ns = config.circuit_breaker.cooldown;
  metrics::Gauge* open_gauge = open->WithLabels({address});
  o.on_change = [address, open_gauge](CircuitBreaker::State state) {
    transitions->WithLabels({address, StateName(state)})->Inc();
    open_gauge->Set(state == CircuitBreaker::State::kClosed ? 0 : 1);
    spdlog::log(state == CircuitBreaker::State::kOpen ? spdlog::level::warn : spdlog::level::info,
                "msg=\"ingester client circuit breaker changed state\" ingester={} state={}",
                address, StateName(state));
  };
  return o;
}

}  // namespace

RemoteIngester::RemoteIngester(std::string address, const config::Config::IngesterClient& config,
                               const Clock* clock)
    : address_(std::move(address)),
      remote_timeout_ns_(config.remote_timeout),
      breaker_(BreakerOptions(config, address_), clock),
      bulkhead_(config.max_inflight_push_requests),
      push_ok_duration_(PushDuration(address_, true)),
      push_error_duration_(PushDuration(address_, false)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(ClampToInt(config.grpc_client_config.max_recv_msg_size));
  args.SetMaxSendMessageSize(ClampToInt(config.grpc_client_config.max_send_msg_size));
  // Reconnect to a restarted ingester within seconds (gRPC's default backoff grows to 120 s);
  // dskit's connect_backoff_base_delay / connect_backoff_max_delay defaults.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
  stub_ = pb::Ingester::NewStub(channel_);
  push_method_ = std::make_unique<grpc::internal::RpcMethod>(
      kPushMethod, grpc::internal::RpcMethod::NORMAL_RPC, channel_);
}

void RemoteIngester::NoteHeartbeat(int64_t unix_seconds) {
  if (breaker_.state() == CircuitBreaker::State::kClosed) return;
  // Whole seconds: only a heartbeat from a later second than the opening counts.
  if (breaker_.CloseIfOpenedBefore(unix_seconds * kNanosPerSecond)) {
    grpc::experimental::ChannelResetConnectionBackoff(channel_.get());
  }
}

Status RemoteIngester::Push(std::string_view tenant, std::vector<write::ValidatedStream>& streams) {
  write::PushRequestWriter writer(streams);
  return SendPush(tenant, writer.size(), [&](char* out) { writer.Write(out); });
}

Status RemoteIngester::PushEncoded(std::string_view tenant,
                                   std::span<const std::string_view> encoded) {
  size_t size = 0;
  for (std::string_view piece : encoded) size += piece.size();
  // One copy of the pieces, not a re-encoding: gRPC owns (and may keep) the buffer it sends,
  // while the pieces are borrowed for the call only.
  return SendPush(tenant, size, [&](char* out) {
    for (std::string_view piece : encoded) {
      if (!piece.empty()) std::memcpy(out, piece.data(), piece.size());
      out += piece.size();
    }
  });
}

Status RemoteIngester::SendPush(std::string_view tenant, size_t size,
                                const std::function<void(char*)>& write) {
  std::optional<Bulkhead::Slot> slot = bulkhead_.TryAcquire();
  if (!slot) {
    return Status::Unavailable("ingester " + address_ + ": " +
                               std::to_string(bulkhead_.max_in_flight()) +
                               " pushes in flight already (ingester_client.max_inflight_push_"
                               "requests)");
  }
  CircuitBreaker::Permit permit = breaker_.Allow();
  if (!permit.allowed) {
    return Status::Unavailable("ingester " + address_ +
                               ": circuit breaker open after repeated failures");
  }
  // One buffer of exactly the request's size, handed to gRPC without another copy.
  grpc::Slice slice(grpc_slice_malloc(size), grpc::Slice::STEAL_REF);
  write(reinterpret_cast<char*>(const_cast<uint8_t*>(slice.begin())));
  grpc::ByteBuffer request(&slice, 1);
  grpc::ClientContext ctx;
  (void)Prepare(&ctx, tenant, read::Deadline{}, remote_timeout_ns_);
  pb::PushResponse response;
  const auto start = std::chrono::steady_clock::now();
  Status st = FromGrpcStatus(
      grpc::internal::BlockingUnaryCall(channel_.get(), *push_method_, &ctx, request, &response),
      address_);
  (st.ok() ? push_ok_duration_ : push_error_duration_)
      ->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  breaker_.Record(permit, !IsUnanswered(st));
  return st;
}

Result<std::vector<iter::EntryIteratorPtr>> RemoteIngester::SelectStreams(
    const read::SelectRequest& req, std::string_view tenant) {
  pb::ReadRequest request;
  ToProto(req, &request);
  auto call = std::make_shared<SelectCall>(
      address_, req.stats != nullptr ? &req.stats->For(Kind()).blocks : nullptr, &peak_buffered_);
  if (!Prepare(call->context(), tenant, req.deadline, 0)) {
    return Status::DeadlineExceeded(std::string(read::kQueryTimeoutMessage));
  }
  call->Start(stub_->SelectStreams(call->context(), request));
  SLUICE_RETURN_IF_ERROR(call->ReadHeads());
  std::vector<iter::EntryIteratorPtr> out;
  out.reserve(call->num_streams());
  for (uint32_t id = 0; id < call->num_streams(); ++id) {
    out.push_back(std::make_unique<RemoteStreamIterator>(call, id));
  }
  return out;
}

Result<std::vector<model::LabelSet>> RemoteIngester::StreamLabels(const read::SelectRequest& req,
                                                                  std::string_view tenant) {
  pb::ReadRequest request;
  ToProto(req, &request);
  pb::StreamLabelsResponse response;
  SLUICE_RETURN_IF_ERROR(UnaryRead(stub_.get(), &pb::Ingester::Stub::StreamLabels, req, tenant,
                                   remote_timeout_ns_, address_, request, &response));
  std::vector<model::LabelSet> out;
  out.reserve(response.streams_size());
  for (const auto& ls : response.streams()) out.push_back(FromProto(ls));
  return out;
}

Result<std::vector<std::string>> RemoteIngester::Label(const read::SelectRequest& req,
                                                       std::string_view tenant, bool values,
                                                       std::string_view name) {
  pb::LabelRequest request;
  ToProto(req, request.mutable_read());
  request.set_values(values);
  request.set_name(std::string(name));
  pb::LabelResponse response;
  SLUICE_RETURN_IF_ERROR(UnaryRead(stub_.get(), &pb::Ingester::Stub::Label, req, tenant,
                                   remote_timeout_ns_, address_, request, &response));
  return std::vector<std::string>(response.values().begin(), response.values().end());
}

Result<std::vector<std::string>> RemoteIngester::TenantLabelNames(const read::SelectRequest& req,
                                                                  std::string_view tenant) {
  return Label(req, tenant, false, "");
}

Result<std::vector<std::string>> RemoteIngester::TenantLabelValues(const read::SelectRequest& req,
                                                                   std::string_view tenant,
                                                                   std::string_view name) {
  return Label(req, tenant, true, name);
}

Result<uint64_t> RemoteIngester::CountChunks(const read::SelectRequest& req,
                                             std::string_view tenant) {
  pb::ReadRequest request;
  ToProto(req, &request);
  pb::CountChunksResponse response;
  SLUICE_RETURN_IF_ERROR(UnaryRead(stub_.get(), &pb::Ingester::Stub::CountChunks, req, tenant,
                                   remote_timeout_ns_, address_, request, &response));
  return response.chunks();
}

std::shared_ptr<RemoteIngester> IngesterClientPool::Get(const std::string& address) {
  MutexLock lock(&mu_);
  auto& client = clients_[address];
  if (client == nullptr) client = std::make_shared<RemoteIngester>(address, config_, clock_);
  return client;
}

void IngesterClientPool::Remove(const std::string& address) {
  MutexLock lock(&mu_);
  clients_.erase(address);
}

size_t IngesterClientPool::size() const {
  MutexLock lock(&mu_);
  return clients_.size();
}

}  // namespace sluice::rpc
