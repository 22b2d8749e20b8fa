#include "rpc/frontend_convert.h"

#include <limits>
#include <utility>

#include "rpc/status.h"

namespace sluice::rpc {

namespace {

void ToProto(const std::vector<model::Label>& labels,
             google::protobuf::RepeatedPtrField<fpb::Pair>* out) {
  out->Reserve(static_cast<int>(labels.size()));
  for (const auto& l : labels) {
    fpb::Pair* p = out->Add();
    p->set_name(l.name);
    p->set_value(l.value);
  }
}

std::vector<model::Label> LabelsFromProto(const google::protobuf::RepeatedPtrField<fpb::Pair>& in) {
  std::vector<model::Label> out;
  out.reserve(in.size());
  for (const auto& p : in) out.push_back(model::Label{p.name(), p.value()});
  return out;
}

void ToProto(const std::vector<std::pair<std::string, std::string>>& pairs,
             google::protobuf::RepeatedPtrField<fpb::Pair>* out) {
  for (const auto& [name, value] : pairs) {
    fpb::Pair* p = out->Add();
    p->set_name(name);
    p->set_value(value);
  }
}

std::vector<std::pair<std::string, std::string>> PairsFromProto(
    const google::protobuf::RepeatedPtrField<fpb::Pair>& in) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(in.size());
  for (const auto& p : in) out.emplace_back(p.name(), p.value());
  return out;
}

void ToProto(const chunk::BlockStats& s, fpb::BlockStats* out) {
  out->set_blocks(s.blocks);
  out->set_skipped_by_bloom(s.skipped_by_bloom);
  out->set_skipped_by_scan(s.skipped_by_scan);
  out->set_decompressed(s.decompressed);
  out->set_lines_sections_decompressed(s.lines_sections_decompressed);
  out->set_entries_skipped_by_literal(s.entries_skipped_by_literal);
  out->set_compressed_bytes_read(s.compressed_bytes_read);
  out->set_raw_bytes_decompressed(s.raw_bytes_decompressed);
}

chunk::BlockStats FromProto(const fpb::BlockStats& in) {
  chunk::BlockStats s;
  s.blocks = in.blocks();
  s.skipped_by_bloom = in.skipped_by_bloom();
  s.skipped_by_scan = in.skipped_by_scan();
  s.decompressed = in.decompressed();
  s.lines_sections_decompressed = in.lines_sections_decompressed();
  s.entries_skipped_by_literal = in.entries_skipped_by_literal();
  s.compressed_bytes_read = in.compressed_bytes_read();
  s.raw_bytes_decompressed = in.raw_bytes_decompressed();
  return s;
}

void ToProto(const read::SourceStats& s, fpb::SourceStats* out) {
  out->set_reached(s.reached);
  out->set_chunks(s.chunks);
  out->set_batches(s.batches);
  out->set_chunks_downloaded(s.chunks_downloaded);
  out->set_chunks_download_ns(s.chunks_download_ns);
  out->set_chunk_refs_fetch_ns(s.chunk_refs_fetch_ns);
  ToProto(s.blocks, out->mutable_blocks());
  out->set_head_lines(s.head_lines);
  out->set_head_bytes(s.head_bytes);
  out->set_head_metadata_bytes(s.head_metadata_bytes);
  out->set_lines_processed(s.pipeline.lines_processed);
  out->set_bytes_processed(s.pipeline.bytes_processed);
  out->set_metadata_bytes_processed(s.pipeline.metadata_bytes_processed);
  out->set_lines_passed(s.pipeline.lines_passed);
  out->set_lines_sent(s.lines_sent);
}

read::SourceStats FromProto(const fpb::SourceStats& in) {
  read::SourceStats s;
  s.reached = in.reached();
  s.chunks = in.chunks();
  s.batches = in.batches();
  s.chunks_downloaded = in.chunks_downloaded();
  s.chunks_download_ns = in.chunks_download_ns();
  s.chunk_refs_fetch_ns = in.chunk_refs_fetch_ns();
  s.blocks = FromProto(in.blocks());
  s.head_lines = in.head_lines();
  s.head_bytes = in.head_bytes();
  s.head_metadata_bytes = in.head_metadata_bytes();
  s.pipeline.lines_processed = in.lines_processed();
  s.pipeline.bytes_processed = in.bytes_processed();
  s.pipeline.metadata_bytes_processed = in.metadata_bytes_processed();
  s.pipeline.lines_passed = in.lines_passed();
  s.lines_sent = in.lines_sent();
  return s;
}

void ToProto(const querier::QueryStats& s, fpb::Stats* out) {
  out->set_exec_time_ns(s.exec_time_ns);
  out->set_queue_time_ns(s.queue_time_ns);
  out->set_total_bytes_processed(s.total_bytes_processed);
  out->set_total_lines_processed(s.total_lines_processed);
  out->set_total_structured_metadata_bytes_processed(s.total_structured_metadata_bytes_processed);
  out->set_total_entries_returned(s.total_entries_returned);
  out->set_total_post_filter_lines(s.total_post_filter_lines);
  out->set_duplicates(s.duplicates);
  ToProto(s.store, out->mutable_store());
  ToProto(s.ingester, out->mutable_ingester());
  out->set_blocks_considered(s.blocks_considered);
  out->set_blocks_skipped_by_bloom(s.blocks_skipped_by_bloom);
  out->set_blocks_decompressed(s.blocks_decompressed);
  out->set_blocks_skipped_by_scan(s.blocks_skipped_by_scan);
  out->set_subqueries(s.subqueries);
  out->set_splits(s.splits);
  out->set_shards(s.shards);
}

querier::QueryStats FromProto(const fpb::Stats& in) {
  querier::QueryStats s;
  s.exec_time_ns = in.exec_time_ns();
  s.queue_time_ns = in.queue_time_ns();
  s.total_bytes_processed = in.total_bytes_processed();
  s.total_lines_processed = in.total_lines_processed();
  s.total_structured_metadata_bytes_processed = in.total_structured_metadata_bytes_processed();
  s.total_entries_returned = in.total_entries_returned();
  s.total_post_filter_lines = in.total_post_filter_lines();
  s.duplicates = in.duplicates();
  s.store = FromProto(in.store());
  s.ingester = FromProto(in.ingester());
  s.blocks_considered = in.blocks_considered();
  s.blocks_skipped_by_bloom = in.blocks_skipped_by_bloom();
  s.blocks_decompressed = in.blocks_decompressed();
  s.blocks_skipped_by_scan = in.blocks_skipped_by_scan();
  s.subqueries = in.subqueries();
  s.splits = in.splits();
  s.shards = in.shards();
  return s;
}

fpb::QueryResult::Type ToProto(querier::ResultType t) {
  switch (t) {
    case querier::ResultType::kStreams:
      return fpb::QueryResult::STREAMS;
    case querier::ResultType::kMatrix:
      return fpb::QueryResult::MATRIX;
    case querier::ResultType::kVector:
      return fpb::QueryResult::VECTOR;
    case querier::ResultType::kScalar:
      return fpb::QueryResult::SCALAR;
  }
  return fpb::QueryResult::STREAMS;
}

querier::ResultType FromProto(fpb::QueryResult::Type t) {
  switch (t) {
    case fpb::QueryResult::MATRIX:
      return querier::ResultType::kMatrix;
    case fpb::QueryResult::VECTOR:
      return querier::ResultType::kVector;
    case fpb::QueryResult::SCALAR:
      return querier::ResultType::kScalar;
    default:
      return querier::ResultType::kStreams;
  }
}

}  // namespace

void ToProto(const querier::PulledJob& job, fpb::Job* out) {
  out->set_id(job.handle);
  for (const auto& t : job.tenants) out->add_tenants(t);
  const int64_t deadline = job.deadline != nullptr ? job.deadline->load() : 0;
  // INT64_MAX is the frontend's "none"; a lowered deadline (abandoned) stays as it is.
  out->set_deadline_ns(deadline == std::numeric_limits<int64_t>::max() ? 0 : deadline);
  out->set_attempt(static_cast<uint32_t>(job.attempt));
  out->set_queue_time_ns(job.queue_time_ns);
  if (job.trace.valid()) out->set_traceparent(tracing::FormatTraceparent(job.trace));
  if (job.query.has_value()) {
    const querier::QueryRequest& r = *job.query;
    fpb::QueryJob* q = out->mutable_query();
    q->set_query(r.query);
    q->set_start_ns(r.start_ns);
    q->set_end_ns(r.end_ns);
    q->set_step_ns(r.step_ns);
    q->set_interval_ns(r.interval_ns);
    q->set_limit(r.limit);
    q->set_direction(r.direction == model::Direction::kForward ? fpb::FORWARD : fpb::BACKWARD);
    q->set_instant(r.instant);
    q->set_categorize_labels(r.categorize_labels);
  } else if (job.http.has_value()) {
    const querier::HttpJob& h = *job.http;
    fpb::HttpJob* p = out->mutable_http();
    p->set_method(h.method);
    p->set_path(h.path);
    ToProto(h.params, p->mutable_params());
    ToProto(h.headers, p->mutable_headers());
    p->set_body(h.body);
  }
}

Result<ReceivedJob> FromProto(const fpb::Job& in) {
  ReceivedJob job;
  job.id = in.id();
  job.tenants.assign(in.tenants().begin(), in.tenants().end());
  job.deadline_ns = in.deadline_ns();
  if (!in.traceparent().empty()) job.trace = tracing::ParseTraceparent(in.traceparent());
  switch (in.kind_case()) {
    case fpb::Job::kQuery: {
      const fpb::QueryJob& q = in.query();
      querier::QueryRequest r;
      r.query = q.query();
      r.start_ns = q.start_ns();
      r.end_ns = q.end_ns();
      r.step_ns = q.step_ns();
      r.interval_ns = q.interval_ns();
      r.limit = q.limit();
      r.direction =
          q.direction() == fpb::FORWARD ? model::Direction::kForward : model::Direction::kBackward;
      r.instant = q.instant();
      r.categorize_labels = q.categorize_labels();
      job.query = std::move(r);
      break;
    }
    case fpb::Job::kHttp: {
      const fpb::HttpJob& p = in.http();
      querier::HttpJob h;
      h.method = p.method();
      h.path = p.path();
      h.params = PairsFromProto(p.params());
      h.headers = PairsFromProto(p.headers());
      h.body = p.body();
      job.http = std::move(h);
      break;
    }
    default:
      return Status::InvalidArgument("query frontend sent a job of an unknown kind");
  }
  return job;
}

void ToProto(const querier::QueryResult& result, fpb::QueryResult* out) {
  out->set_type(ToProto(result.type));
  out->mutable_streams()->Reserve(static_cast<int>(result.streams.size()));
  for (const auto& s : result.streams) {
    fpb::Stream* ps = out->add_streams();
    ToProto(s.labels.labels(), ps->mutable_labels());
    ps->mutable_entries()->Reserve(static_cast<int>(s.entries.size()));
    for (const auto& e : s.entries) {
      fpb::Entry* pe = ps->add_entries();
      pe->set_timestamp_ns(e.timestamp_ns);
      pe->set_line(e.line);
      ToProto(e.metadata, pe->mutable_structured_metadata());
      ToProto(e.parsed, pe->mutable_parsed());
    }
  }
  out->mutable_series()->Reserve(static_cast<int>(result.series.size()));
  for (const auto& s : result.series) {
    fpb::Series* ps = out->add_series();
    ToProto(s.labels.labels(), ps->mutable_labels());
    ps->mutable_points()->Reserve(static_cast<int>(s.points.size()));
    for (const auto& p : s.points) {
      fpb::Point* pp = ps->add_points();
      pp->set_ts_ms(p.ts_ms);
      pp->set_value(p.value);
    }
  }
  out->mutable_scalar()->set_ts_ms(result.scalar.ts_ms);
  out->mutable_scalar()->set_value(result.scalar.value);
  ToProto(result.stats, out->mutable_stats());
}

querier::QueryResult FromProto(const fpb::QueryResult& in) {
  querier::QueryResult r;
  r.type = FromProto(in.type());
  r.streams.reserve(in.streams_size());
  for (const auto& ps : in.streams()) {
    model::Stream s;
    s.labels = model::LabelSet(LabelsFromProto(ps.labels()));
    s.entries.reserve(ps.entries_size());
    for (const auto& pe : ps.entries()) {
      model::Entry e;
      e.timestamp_ns = pe.timestamp_ns();
      e.line = pe.line();
      e.metadata = LabelsFromProto(pe.structured_metadata());
      e.parsed = LabelsFromProto(pe.parsed());
      s.entries.push_back(std::move(e));
    }
    r.streams.push_back(std::move(s));
  }
  r.series.reserve(in.series_size());
  for (const auto& ps : in.series()) {
    logql::engine::Series s;
    s.labels = model::LabelSet(LabelsFromProto(ps.labels()));
    s.points.reserve(ps.points_size());
    for (const auto& pp : ps.points()) s.points.push_back({pp.ts_ms(), pp.value()});
    r.series.push_back(std::move(s));
  }
  r.scalar = {in.scalar().ts_ms(), in.scalar().value()};
  r.stats = FromProto(in.stats());
  return r;
}

void ToProto(const querier::HttpReply& reply, fpb::HttpReply* out) {
  out->set_status(reply.status);
  out->set_content_type(reply.content_type);
  out->set_body(reply.body);
  ToProto(reply.headers, out->mutable_headers());
}

querier::HttpReply FromProto(const fpb::HttpReply& in) {
  querier::HttpReply reply;
  reply.status = in.status();
  reply.content_type = in.content_type();
  reply.body = in.body();
  reply.headers = PairsFromProto(in.headers());
  return reply;
}

void ToProto(const Status& status, fpb::Error* out) {
  grpc::Status g = ToGrpcStatus(status);
  out->set_grpc_code(static_cast<int32_t>(g.error_code()));
  out->set_message(g.error_message());
  out->set_details(g.error_details());
}

Status FromProto(const fpb::Error& in, std::string_view peer) {
  // Only sluice peers send errors here, always with the exact code in the details; anything
  // else is a peer bug, reported as such rather than guessed from the canonical code.
  if (!std::string_view(in.details()).starts_with("sluice:")) {
    return Status::Internal("querier " + std::string(peer) + ": " + in.message());
  }
  Status st = FromGrpcStatus(
      grpc::Status(static_cast<grpc::StatusCode>(in.grpc_code()), in.message(), in.details()),
      peer);
  if (st.ok()) return Status::Internal("querier " + std::string(peer) + " sent an empty error");
  return st;
}

}  // namespace sluice::rpc
