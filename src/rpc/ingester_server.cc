// The ingester's gRPC service. The layout of a SelectStreams answer is proto/ingester.proto's
// (heads first, then what the querier's merge asks for next); Sender produces it.

#include "rpc/ingester_server.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <queue>
#include <thread>
#include <utility>

#include "iter/merge.h"
#include "model/tenant.h"
#include "rpc/convert.h"
#include "rpc/status.h"
#include "tracing/tracing.h"

namespace sluice::rpc {

namespace {

// How many entries the sender adds between two looks at the call's cancellation.
constexpr uint32_t kCheckEvery = 256;

// The call's tenant: one id, as the distributor or querier names it in x-scope-orgid.
Result<std::string> TenantOf(const grpc::ServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(kTenantMetadata);
  if (it == md.end() || it->second.empty()) return Status::Unauthenticated("no org id");
  std::string tenant(it->second.data(), it->second.size());
  SLUICE_RETURN_IF_ERROR(model::ValidateTenantId(tenant));
  return tenant;
}

// This call's span: a child of the caller's when its metadata carries a trace context. Traces
// start where requests enter the system (HTTP); a call without one is not traced.
tracing::Span ServerSpan(std::string_view name, const grpc::ServerContext& ctx) {
  if (!tracing::Enabled()) return tracing::Span();
  const auto& md = ctx.client_metadata();
  auto it = md.find(kTraceparentMetadata);
  if (it == md.end()) return tracing::Span();
  auto parent = tracing::ParseTraceparent(std::string_view(it->second.data(), it->second.size()));
  if (!parent) return tracing::Span();
  return tracing::Span::Server(name, parent);
}

Status CancelledStatus(const grpc::ServerContext& ctx) {
  if (ctx.deadline() <= std::chrono::system_clock::now()) {
    return Status::DeadlineExceeded(std::string(read::kQueryTimeoutMessage));
  }
  return Status::Unavailable("the call was cancelled");
}

// Returns the entry its wrapped iterator is already on at the first Next(), then goes on: how
// an iterator read up to its first entry (to learn its labels) joins a merge.
class PrimedIterator final : public iter::ForwardingIterator {
 public:
  explicit PrimedIterator(iter::EntryIteratorPtr it) : ForwardingIterator(std::move(it)) {}
  bool Next() override {
    if (primed_) {
      primed_ = false;
      return true;
    }
    return inner_->Next();
  }

 private:
  bool primed_ = true;
};

// Writes one SelectStreams answer.
class Sender {
 public:
  Sender(grpc::ServerContext* ctx, grpc::ServerWriter<pb::SelectStreamsResponse>* writer,
         size_t batch_bytes, IngesterService::Counters* counters)
      : ctx_(ctx), writer_(writer), batch_bytes_(batch_bytes), counters_(counters) {}

  Status Run(std::vector<iter::EntryIteratorPtr> its, const read::SelectRequest& req,
             const read::ReadStats& stats) {
    forward_ = req.direction == model::Direction::kForward;
    SLUICE_RETURN_IF_ERROR(Open(std::move(its)));
    SLUICE_RETURN_IF_ERROR(SendHeads());
    if (req.order == read::Order::kTime) {
      SLUICE_RETURN_IF_ERROR(SendByTime());
    } else {
      SLUICE_RETURN_IF_ERROR(SendByStream());
    }
    // The source counted into its own section (read::ReadStats::For); send both.
    chunk::BlockStats blocks = stats.store.blocks;
    blocks.Add(stats.ingester.blocks);
    ToProto(blocks, msg_.mutable_stats());
    return Flush();
  }

 private:
  struct Stream {
    model::LabelSet labels;
    iter::EntryIteratorPtr it;  // on the entry to send next (or sent last)
  };

  // One iterator per stream, each on its first entry, in the order the client's merge reads
  // them: label order, in the query's direction.
  Status Open(std::vector<iter::EntryIteratorPtr> its) {
    std::vector<iter::EntryIteratorPtr> live;
    for (auto& it : its) {
      if (it->Next()) {
        live.push_back(std::move(it));
      } else {
        SLUICE_RETURN_IF_ERROR(it->Error());
      }
    }
    // Stable: a stream's iterators stay oldest first, as the merge expects.
    std::stable_sort(live.begin(), live.end(),
                     [](const auto& a, const auto& b) { return a->Labels() < b->Labels(); });
    if (!forward_) std::reverse(live.begin(), live.end());
    size_t start = 0;
    while (start < live.size()) {
      size_t end = start + 1;
      while (end < live.size() && live[end]->Labels() == live[start]->Labels()) ++end;
      Stream s;
      s.labels = live[start]->Labels();
      if (end - start == 1) {
        s.it = std::move(live[start]);
      } else {
        // The ingester gives one iterator per block: merged (duplicates dropped) so the stream
        // goes out once. Reversing above swapped the group's order: restore oldest first.
        std::vector<iter::EntryIteratorPtr> group;
        for (size_t i = start; i < end; ++i) {
          group.push_back(std::make_unique<PrimedIterator>(std::move(live[i])));
        }
        if (!forward_) std::reverse(group.begin(), group.end());
        s.it = iter::NewMergeIterator(std::move(group), req_direction());
        if (!s.it->Next()) return s.it->Error();  // it has at least the primed entries
      }
      streams_.push_back(std::move(s));
      start = end;
    }
    return Status::OK();
  }

  model::Direction req_direction() const {
    return forward_ ? model::Direction::kForward : model::Direction::kBackward;
  }

  Status SendHeads() {
    for (uint32_t id = 0; id < streams_.size(); ++id) {
      const Stream& s = streams_[id];
      ToProto(s.labels, msg_.add_streams());
      for (const auto& l : s.labels.labels()) bytes_ += l.name.size() + l.value.size() + 4;
      SLUICE_RETURN_IF_ERROR(Add(id, s.it->At()));
    }
    msg_.set_heads_done(true);
    // The client returns its iterators only now: do not make it wait for a full batch.
    return Flush();
  }

  // Mirrors the client's heap: the stream whose current entry the merge takes first is the
  // one it advances first.
  Status SendByTime() {
    auto after = [this](uint32_t a, uint32_t b) {  // true: a comes after b
      const model::Entry& ea = streams_[a].it->At();
      const model::Entry& eb = streams_[b].it->At();
      if (ea.timestamp_ns != eb.timestamp_ns) {
        return forward_ ? ea.timestamp_ns > eb.timestamp_ns : ea.timestamp_ns < eb.timestamp_ns;
      }
      return forward_ ? streams_[b].labels < streams_[a].labels
                      : streams_[a].labels < streams_[b].labels;
    };
    std::priority_queue<uint32_t, std::vector<uint32_t>, decltype(after)> heap(after);
    for (uint32_t id = 0; id < streams_.size(); ++id) heap.push(id);
    while (!heap.empty()) {
      uint32_t id = heap.top();
      heap.pop();
      SLUICE_RETURN_IF_ERROR(Advance(id));
      if (streams_[id].it) heap.push(id);
    }
    return Status::OK();
  }

  Status SendByStream() {
    for (uint32_t id = 0; id < streams_.size(); ++id) {
      while (streams_[id].it) SLUICE_RETURN_IF_ERROR(Advance(id));
    }
    return Status::OK();
  }

  // Sends the stream's next entry, or that it ended (and releases it).
  Status Advance(uint32_t id) {
    Stream& s = streams_[id];
    if (s.it->Next()) return Add(id, s.it->At());
    SLUICE_RETURN_IF_ERROR(s.it->Error());
    s.it.reset();
    msg_.add_ended(id);
    return Status::OK();
  }

  Status Add(uint32_t id, const model::Entry& e) {
    pb::Entry* pe = msg_.add_entries();
    pe->set_stream(id);
    pe->set_timestamp_ns(e.timestamp_ns);
    pe->set_line(e.line);
    bytes_ += e.line.size() + 16;
    for (const auto& m : e.metadata) {
      pb::LabelPair* p = pe->add_structured_metadata();
      p->set_name(m.name);
      p->set_value(m.value);
      bytes_ += m.name.size() + m.value.size() + 4;
    }
    ++entries_;
    if (entries_ % kCheckEvery == 0 && ctx_->IsCancelled()) return Cancelled();
    if (bytes_ >= batch_bytes_) return Flush();
    return Status::OK();
  }

  Status Flush() {
    if (ctx_->IsCancelled()) return Cancelled();
    const uint64_t n = static_cast<uint64_t>(msg_.entries_size());
    if (!writer_->Write(msg_)) return Cancelled();
    counters_->entries_sent += n;
    ++counters_->messages_sent;
    msg_.Clear();
    bytes_ = 0;
    return Status::OK();
  }

  Status Cancelled() {
    ++counters_->select_cancelled;
    return CancelledStatus(*ctx_);
  }

  grpc::ServerContext* ctx_;
  grpc::ServerWriter<pb::SelectStreamsResponse>* writer_;
  const size_t batch_bytes_;
  IngesterService::Counters* counters_;
  bool forward_ = true;
  std::vector<Stream> streams_;  // by id
  pb::SelectStreamsResponse msg_;
  size_t bytes_ = 0;  // about msg_'s size
  uint64_t entries_ = 0;
};

int ClampToInt(uint64_t v) {
  return static_cast<int>(std::min<uint64_t>(v, std::numeric_limits<int>::max()));
}

// A read request as the source takes it, with the call's tenant.
Status ReadRequestOf(const grpc::ServerContext& ctx, const pb::ReadRequest& in,
                     read::SelectRequest* req, std::string* tenant) {
  SLUICE_ASSIGN_OR_RETURN(*tenant, TenantOf(ctx));
  SLUICE_ASSIGN_OR_RETURN(*req, FromProto(in));
  return Status::OK();
}

}  // namespace

IngesterService::IngesterService(write::Pusher* pusher, read::StreamSource* source,
                                 size_t select_batch_bytes)
    : pusher_(pusher), source_(source), batch_bytes_(select_batch_bytes) {
  using grpc::internal::RpcMethod;
  using grpc::internal::RpcMethodHandler;
  using grpc::internal::RpcServiceMethod;
  // The generated Ingester::Service's table (ingester.grpc.pb.cc), with Push's request as bytes.
  const std::string prefix = std::string("/") + pb::Ingester::service_full_name() + "/";
  method_names_ = {prefix + "Push", prefix + "SelectStreams", prefix + "StreamLabels",
                   prefix + "Label", prefix + "CountChunks"};
  AddMethod(new RpcServiceMethod(
      method_names_[0].c_str(), RpcMethod::NORMAL_RPC,
      new RpcMethodHandler<IngesterService, grpc::ByteBuffer, pb::PushResponse>(
          [](IngesterService* s, grpc::ServerContext* ctx, const grpc::ByteBuffer* req,
             pb::PushResponse* resp) { return s->Push(ctx, req, resp); },
          this)));
  AddMethod(new RpcServiceMethod(
      method_names_[1].c_str(), RpcMethod::SERVER_STREAMING,
      new grpc::internal::ServerStreamingHandler<IngesterService, pb::ReadRequest,
                                                 pb::SelectStreamsResponse>(
          [](IngesterService* s, grpc::ServerContext* ctx, const pb::ReadRequest* req,
             grpc::ServerWriter<pb::SelectStreamsResponse>* writer) {
            return s->SelectStreams(ctx, req, writer);
          },
          this)));
  AddMethod(new RpcServiceMethod(
      method_names_[2].c_str(), RpcMethod::NORMAL_RPC,
      new RpcMethodHandler<IngesterService, pb::ReadRequest, pb::StreamLabelsResponse>(
          [](IngesterService* s, grpc::ServerContext* ctx, const pb::ReadRequest* req,
             pb::StreamLabelsResponse* resp) { return s->StreamLabels(ctx, req, resp); },
          this)));
  AddMethod(new RpcServiceMethod(
      method_names_[3].c_str(), RpcMethod::NORMAL_RPC,
      new RpcMethodHandler<IngesterService, pb::LabelRequest, pb::LabelResponse>(
          [](IngesterService* s, grpc::ServerContext* ctx, const pb::LabelRequest* req,
             pb::LabelResponse* resp) { return s->Label(ctx, req, resp); },
          this)));
  AddMethod(new RpcServiceMethod(
      method_names_[4].c_str(), RpcMethod::NORMAL_RPC,
      new RpcMethodHandler<IngesterService, pb::ReadRequest, pb::CountChunksResponse>(
          [](IngesterService* s, grpc::ServerContext* ctx, const pb::ReadRequest* req,
             pb::CountChunksResponse* resp) { return s->CountChunks(ctx, req, resp); },
          this)));
}

grpc::Status IngesterService::Push(grpc::ServerContext* ctx, const grpc::ByteBuffer* request,
                                   pb::PushResponse* response) {
  tracing::Span span = ServerSpan("ingester.Push", *ctx);
  tracing::ScopedActive active(span);
  if (push_delay_ns_ > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(push_delay_ns_));
  auto tenant = TenantOf(*ctx);
  if (!tenant.ok()) return ToGrpcStatus(tenant.status());
  // A push the distributor has given up on is not worth a WAL write.
  if (ctx->IsCancelled()) return ToGrpcStatus(CancelledStatus(*ctx));
  // The decoded lines point into these bytes: one slice as received, or one copy of the
  // received frames.
  grpc::Slice bytes;
  if (!request->TrySingleSlice(&bytes).ok() && !request->DumpToSingleSlice(&bytes).ok()) {
    return ToGrpcStatus(Status::Internal("cannot read the push request's bytes"));
  }
  write::ReceivedPush push;
  Status st = write::DecodePushRequest(
      std::string_view(reinterpret_cast<const char*>(bytes.begin()), bytes.size()), &labels_,
      &push);
  if (st.ok()) st = pusher_->Push(*tenant, push.streams);
  if (!st.ok()) span.SetError(st.message());
  return ToGrpcStatus(st);
}

grpc::Status IngesterService::SelectStreams(grpc::ServerContext* ctx,
                                            const pb::ReadRequest* request,
                                            grpc::ServerWriter<pb::SelectStreamsResponse>* writer) {
  ++counters_.select_calls;
  tracing::Span span = ServerSpan("ingester.SelectStreams", *ctx);
  tracing::ScopedActive active(span);
  read::SelectRequest req;
  std::string tenant;
  Status st = ReadRequestOf(*ctx, *request, &req, &tenant);
  if (!st.ok()) return ToGrpcStatus(st);
  // Lines always travel: see ReadRequest.lines_needed in the proto.
  req.lines_needed = true;
  read::ReadStats stats;
  req.stats = &stats;
  auto its = source_->SelectStreams(req, tenant);
  if (!its.ok()) return ToGrpcStatus(its.status());
  Sender sender(ctx, writer, batch_bytes_, &counters_);
  return ToGrpcStatus(sender.Run(std::move(its).value(), req, stats));
}

grpc::Status IngesterService::StreamLabels(grpc::ServerContext* ctx, const pb::ReadRequest* request,
                                           pb::StreamLabelsResponse* response) {
  read::SelectRequest req;
  std::string tenant;
  Status st = ReadRequestOf(*ctx, *request, &req, &tenant);
  if (!st.ok()) return ToGrpcStatus(st);
  auto got = source_->StreamLabels(req, tenant);
  if (!got.ok()) return ToGrpcStatus(got.status());
  for (const auto& ls : *got) ToProto(ls, response->add_streams());
  return grpc::Status::OK;
}

grpc::Status IngesterService::Label(grpc::ServerContext* ctx, const pb::LabelRequest* request,
                                    pb::LabelResponse* response) {
  read::SelectRequest req;
  std::string tenant;
  Status st = ReadRequestOf(*ctx, request->read(), &req, &tenant);
  if (!st.ok()) return ToGrpcStatus(st);
  auto got = request->values() ? source_->TenantLabelValues(req, tenant, request->name())
                               : source_->TenantLabelNames(req, tenant);
  if (!got.ok()) return ToGrpcStatus(got.status());
  for (auto& v : *got) response->add_values(std::move(v));
  return grpc::Status::OK;
}

grpc::Status IngesterService::CountChunks(grpc::ServerContext* ctx, const pb::ReadRequest* request,
                                          pb::CountChunksResponse* response) {
  read::SelectRequest req;
  std::string tenant;
  Status st = ReadRequestOf(*ctx, *request, &req, &tenant);
  if (!st.ok()) return ToGrpcStatus(st);
  auto got = source_->CountChunks(req, tenant);
  if (!got.ok()) return ToGrpcStatus(got.status());
  response->set_chunks(*got);
  return grpc::Status::OK;
}

Result<std::unique_ptr<GrpcServer>> GrpcServer::Start(const Options& options,
                                                      const std::vector<grpc::Service*>& services) {
  grpc::ServerBuilder builder;
  int port = 0;
  // gRPC sets SO_REUSEPORT by default: a second process on the same port would bind too and
  // get half the calls. A port in use must fail the start instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options.address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(ClampToInt(options.max_recv_msg_size));
  builder.SetMaxSendMessageSize(ClampToInt(options.max_send_msg_size));
  for (grpc::Service* s : services) builder.RegisterService(s);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Status::Unavailable("cannot listen for gRPC on " + options.address);
  }
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(server), port));
}

std::string GrpcServer::ListenAddress(const std::string& host, int port) {
  if (host.empty()) return "0.0.0.0:" + std::to_string(port);
  if (host.find(':') != std::string::npos && host.front() != '[') {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

GrpcServer::~GrpcServer() { Shutdown(0); }

void GrpcServer::Shutdown(int64_t grace_ns) {
  if (shut_down_) return;
  shut_down_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::nanoseconds(grace_ns));
  server_->Wait();
}

}  // namespace sluice::rpc
