#include "rpc/convert.h"

#include <cstring>
#include <utility>

#include "common/check.h"
#include "common/coding.h"

namespace sluice::rpc {

namespace {

pb::Matcher::Type ToProto(model::LabelMatcher::Type t) {
  switch (t) {
    case model::LabelMatcher::Type::kEqual:
      return pb::Matcher::EQUAL;
    case model::LabelMatcher::Type::kNotEqual:
      return pb::Matcher::NOT_EQUAL;
    case model::LabelMatcher::Type::kRegexMatch:
      return pb::Matcher::REGEX_MATCH;
    case model::LabelMatcher::Type::kRegexNoMatch:
      return pb::Matcher::REGEX_NO_MATCH;
  }
  return pb::Matcher::EQUAL;
}

Result<model::LabelMatcher::Type> FromProto(pb::Matcher::Type t) {
  switch (t) {
    case pb::Matcher::EQUAL:
      return model::LabelMatcher::Type::kEqual;
    case pb::Matcher::NOT_EQUAL:
      return model::LabelMatcher::Type::kNotEqual;
    case pb::Matcher::REGEX_MATCH:
      return model::LabelMatcher::Type::kRegexMatch;
    case pb::Matcher::REGEX_NO_MATCH:
      return model::LabelMatcher::Type::kRegexNoMatch;
    default:
      return Status::InvalidArgument("unknown matcher type " + std::to_string(t));
  }
}

}  // namespace

void ToProto(const read::SelectRequest& req, pb::ReadRequest* out) {
  for (const auto& m : req.matchers) {
    pb::Matcher* pm = out->add_matchers();
    pm->set_type(ToProto(m.type()));
    pm->set_name(m.name());
    pm->set_value(m.value());
  }
  out->set_from_ns(req.from_ns);
  out->set_through_ns(req.through_ns);
  out->set_direction(req.direction == model::Direction::kForward ? pb::FORWARD : pb::BACKWARD);
  out->set_order(req.order == read::Order::kTime ? pb::TIME : pb::STREAM);
  out->set_limit(req.limit);
  for (const auto& lit : req.required_literals) out->add_required_literals(lit);
  out->set_lines_needed(req.lines_needed);
  out->set_parser_hints(req.parser_hints);
}

Result<read::SelectRequest> FromProto(const pb::ReadRequest& in) {
  read::SelectRequest req;
  for (const auto& pm : in.matchers()) {
    SLUICE_ASSIGN_OR_RETURN(model::LabelMatcher::Type type, FromProto(pm.type()));
    SLUICE_ASSIGN_OR_RETURN(model::LabelMatcher m,
                            model::LabelMatcher::Make(type, pm.name(), pm.value()));
    req.matchers.push_back(std::move(m));
  }
  if (in.through_ns() < in.from_ns()) {
    return Status::InvalidArgument("the end of the range is before its start");
  }
  req.from_ns = in.from_ns();
  req.through_ns = in.through_ns();
  req.direction =
      in.direction() == pb::BACKWARD ? model::Direction::kBackward : model::Direction::kForward;
  req.order = in.order() == pb::STREAM ? read::Order::kStream : read::Order::kTime;
  req.limit = in.limit();
  req.required_literals.assign(in.required_literals().begin(), in.required_literals().end());
  req.lines_needed = in.lines_needed();
  req.parser_hints = in.parser_hints();
  return req;
}

void ToProto(const model::LabelSet& labels, pb::LabelSet* out) {
  for (const auto& l : labels.labels()) {
    pb::LabelPair* p = out->add_labels();
    p->set_name(l.name);
    p->set_value(l.value);
  }
}

model::LabelSet FromProto(const pb::LabelSet& in) {
  std::vector<model::Label> labels;
  labels.reserve(in.labels_size());
  for (const auto& p : in.labels()) labels.push_back(model::Label{p.name(), p.value()});
  return model::LabelSet(std::move(labels));
}

void ToProto(const chunk::BlockStats& s, pb::BlockStats* out) {
  out->set_blocks(s.blocks);
  out->set_skipped_by_bloom(s.skipped_by_bloom);
  out->set_skipped_by_scan(s.skipped_by_scan);
  out->set_decompressed(s.decompressed);
  out->set_lines_sections_decompressed(s.lines_sections_decompressed);
  out->set_entries_skipped_by_literal(s.entries_skipped_by_literal);
  out->set_compressed_bytes_read(s.compressed_bytes_read);
  out->set_raw_bytes_decompressed(s.raw_bytes_decompressed);
}

void AddFromProto(const pb::BlockStats& in, chunk::BlockStats* s) {
  s->blocks += in.blocks();
  s->skipped_by_bloom += in.skipped_by_bloom();
  s->skipped_by_scan += in.skipped_by_scan();
  s->decompressed += in.decompressed();
  s->lines_sections_decompressed += in.lines_sections_decompressed();
  s->entries_skipped_by_literal += in.entries_skipped_by_literal();
  s->compressed_bytes_read += in.compressed_bytes_read();
  s->raw_bytes_decompressed += in.raw_bytes_decompressed();
}

}  // namespace sluice::rpc
