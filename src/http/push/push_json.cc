// Loki's JSON push format:
//   {"streams": [
//     {"stream": {"<label name>": "<value>", ...},
//      "values": [["<unix ns>", "<line>"],
//                 ["<unix ns>", "<line>", {"<metadata name>": "<value>", ...}]]}]}
// Timestamps are strings of Unix nanoseconds; JSON integers are accepted too. Unknown keys are
// ignored. The "stream" object becomes the label text `{name="value", ...}` that the distributor
// parses (model::ParseLabels).
//
// simdjson's DOM API is used rather than On Demand: On Demand is compiled for the target of the
// including file (here baseline x86-64, i.e. its scalar fallback), while the DOM parser dispatches
// at runtime to the AVX2/AVX-512 kernels. It also validates the whole document up front.
//
// Invalid UTF-8: simdjson rejects it, but Loki passes such bytes through, so on a UTF-8 error the
// body is re-parsed with each invalid byte b replaced by the private-use code point U+10FF00+b
// (4 bytes: F4 8F BE|BF xx), and every extracted string maps those back to the raw byte. This is
// only done when the body cannot already contain such code points, raw or \u-escaped.
//
// The request's lines are views into the parser's string buffer: the parser goes with the request
// (PushRequest::storage) and comes back to its thread for the next request when that is done.

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/duration.h"
#include "common/utf8.h"
#include "http/push/push_internal.h"
#include "model/labels.h"

namespace sluice::http::push_internal {

static_assert(ByteBuffer::kPadding >= simdjson::SIMDJSON_PADDING);

namespace {

namespace dom = simdjson::dom;

// A thread's parser keeps its buffers (a few times the largest document) between calls; past this
// size they are given back after the call.
constexpr size_t kRetainParserCapacity = 8 << 20;

constexpr const char* kPrefix = "invalid JSON push body: ";

Status Invalid(std::string msg) { return Status::InvalidArgument(kPrefix + msg); }

Status JsonError(simdjson::error_code e) { return Invalid(simdjson::error_message(e)); }

// True when `s` may hold the escape code points already: raw, or as the \u surrogate pair
// \uDBFF\uDF80..\uDFFF.
bool MayContainEscapes(std::string_view s) {
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    if (s[i] == '\xf4' && s[i + 1] == '\x8f' && (s[i + 2] == '\xbe' || s[i + 2] == '\xbf')) {
      return true;
    }
    if (s[i] == '\\' && s[i + 1] == 'u' && i + 5 < s.size() && (s[i + 2] | 0x20) == 'd' &&
        (s[i + 3] | 0x20) == 'b' && (s[i + 4] | 0x20) == 'f' && (s[i + 5] | 0x20) == 'f') {
      return true;
    }
  }
  return false;
}

// Rewrites `in` with invalid UTF-8 bytes escaped (see the top of this file). Returns false when
// that cannot be done safely or would pass max_bytes.
bool EscapeInvalidUtf8(std::string_view in, uint64_t max_bytes, ByteBuffer* out) {
  if (MayContainEscapes(in)) {
    return false;
  }
  size_t invalid = 0;
  for (size_t i = 0; i < in.size();) {
    size_t n = Utf8SequenceLength(in, i);
    if (n == 0) {
      ++invalid;
      n = 1;
    }
    i += n;
  }
  const uint64_t size = in.size() + invalid * 3;
  if (size > max_bytes) {
    return false;
  }
  out->set_size(0);
  out->Reserve(size);
  char* p = out->data();
  for (size_t i = 0; i < in.size();) {
    size_t n = Utf8SequenceLength(in, i);
    if (n == 0) {
      auto b = static_cast<unsigned char>(in[i]);  // >= 0x80: ASCII is always valid
      *p++ = '\xf4';
      *p++ = '\x8f';
      *p++ = static_cast<char>(0xbe + ((b >> 6) & 1));
      *p++ = static_cast<char>(0x80 | (b & 0x3f));
      ++i;
    } else {
      std::memcpy(p, in.data() + i, n);
      p += n;
      i += n;
    }
  }
  out->set_size(size);
  return true;
}

class JsonPushParser {
 public:
  explicit JsonPushParser(bool escaped) : escaped_(escaped) {}

  // Whether Parse failed because the body is not valid UTF-8.
  bool utf8_error() const { return utf8_error_; }

  Status Parse(dom::parser& parser, const ByteBuffer& body, model::PushRequest* out) {
    dom::element root;
    if (auto e = parser.parse(body.data(), body.size(), /*realloc_if_needed=*/false).get(root)) {
      utf8_error_ = e == simdjson::UTF8_ERROR;
      return JsonError(e);
    }
    dom::object obj;
    if (root.get_object().get(obj) != simdjson::SUCCESS) {
      return Invalid("the body must be a JSON object");
    }
    bool saw_streams = false;
    for (dom::key_value_pair field : obj) {
      if (field.key != "streams") {
        continue;
      }
      saw_streams = true;
      dom::array streams;
      if (field.value.get_array().get(streams) != simdjson::SUCCESS) {
        return Invalid("\"streams\" must be an array");
      }
      out->streams.reserve(out->streams.size() + streams.size());
      for (dom::element stream : streams) {
        SLUICE_RETURN_IF_ERROR(ParseStream(stream, out));
      }
    }
    if (!saw_streams) {
      return Invalid("missing \"streams\"");
    }
    return Status::OK();
  }

 private:
  Status ParseStream(dom::element value, model::PushRequest* out) {
    const size_t index = out->streams.size();
    dom::object obj;
    if (value.get_object().get(obj) != simdjson::SUCCESS) {
      return Invalid(fmt::format("streams[{}] must be an object", index));
    }
    model::PushRequest::RawStream& stream = out->streams.emplace_back();
    bool saw_labels = false;
    bool saw_entries = false;
    for (dom::key_value_pair field : obj) {
      if (field.key == "stream") {
        saw_labels = true;
        std::string labels;
        SLUICE_RETURN_IF_ERROR(ParseLabels(field.value, index, &labels));
        stream.labels = out->Own(std::move(labels));
      } else if (field.key == "labels") {
        // The legacy (/api/prom/push) shape: labels as selector text, entries as objects.
        std::string_view text;
        if (field.value.get_string().get(text) != simdjson::SUCCESS) {
          return Invalid(
              fmt::format("streams[{}].labels must be a string like {{job=\"x\"}}", index));
        }
        saw_labels = true;
        stream.labels = escaped_ ? out->Own(std::string(Unescape(text, &scratch_))) : text;
      } else if (field.key == "entries") {
        saw_entries = true;
        dom::array entries;
        if (field.value.get_array().get(entries) != simdjson::SUCCESS) {
          return Invalid(
              fmt::format("streams[{}].entries must be an array of {{\"ts\", \"line\"}}", index));
        }
        for (dom::element entry : entries) {
          SLUICE_RETURN_IF_ERROR(ParseLegacyEntry(entry, index, &stream.entries, out));
        }
      } else if (field.key == "values") {
        saw_entries = true;
        dom::array values;
        if (field.value.get_array().get(values) != simdjson::SUCCESS) {
          return Invalid(fmt::format(
              "streams[{}].values must be an array of [\"<unix ns>\", \"<line>\"]", index));
        }
        stream.entries.reserve(stream.entries.size() + values.size());
        for (dom::element entry : values) {
          SLUICE_RETURN_IF_ERROR(ParseEntry(entry, index, &stream.entries, out));
        }
      }
    }
    if (!saw_labels) {
      stream.labels = "{}";
    }
    if (!saw_entries) {
      // Never accept a shape we do not understand with a 204: that would drop data silently.
      return Invalid(fmt::format("streams[{}] has no \"values\"", index));
    }
    return Status::OK();
  }

  // {"ts": "<RFC3339 or Unix ns>", "line": "..."}
  Status ParseLegacyEntry(dom::element value, size_t stream_index,
                          std::vector<model::EntryView>* entries, model::PushRequest* out) {
    const size_t index = entries->size();
    dom::object obj;
    if (value.get_object().get(obj) != simdjson::SUCCESS) {
      return Invalid(fmt::format("streams[{}].entries[{}] must be an object {{\"ts\", \"line\"}}",
                                 stream_index, index));
    }
    std::string_view ts, line;
    if (obj["ts"].get_string().get(ts) != simdjson::SUCCESS ||
        obj["line"].get_string().get(line) != simdjson::SUCCESS) {
      return Invalid(fmt::format("streams[{}].entries[{}] needs string \"ts\" and \"line\"",
                                 stream_index, index));
    }
    auto parsed = sluice::ParseTimestamp(ts);
    if (!parsed.ok()) {
      return Invalid(fmt::format("streams[{}].entries[{}]: invalid timestamp \"{}\"", stream_index,
                                 index, ts));
    }
    model::EntryView& entry = entries->emplace_back();
    entry.timestamp_ns = *parsed;
    entry.line = Line(line, out);
    return Status::OK();
  }

  // Builds `{name="value", ...}` in the client's order. A name that is not a valid label name is
  // written quoted, which ParseLabels always rejects: a name such as `a="x", b` cannot smuggle in
  // other labels.
  Status ParseLabels(dom::element value, size_t index, std::string* labels) {
    dom::object obj;
    if (value.get_object().get(obj) != simdjson::SUCCESS) {
      return Invalid(fmt::format(
          "streams[{}].stream must be an object of label names to string values", index));
    }
    labels->assign("{");
    bool first = true;
    for (dom::key_value_pair field : obj) {
      std::string_view val;
      if (field.value.get_string().get(val) != simdjson::SUCCESS) {
        return Invalid(fmt::format("streams[{}].stream: the value of label {} must be a string",
                                   index, model::QuoteString(Unescape(field.key, &scratch_))));
      }
      if (!first) {
        labels->append(", ");
      }
      first = false;
      std::string_view key = Unescape(field.key, &scratch_);
      if (model::IsValidLabelName(key)) {
        labels->append(key);
      } else {
        labels->append(model::QuoteString(key));
      }
      labels->push_back('=');
      labels->append(model::QuoteString(Unescape(val, &scratch_)));
    }
    labels->push_back('}');
    return Status::OK();
  }

  Status ParseEntry(dom::element value, size_t stream_index, std::vector<model::EntryView>* entries,
                    model::PushRequest* out) {
    const size_t index = entries->size();
    auto where = [&] { return fmt::format("streams[{}].values[{}]", stream_index, index); };
    dom::array arr;
    if (value.get_array().get(arr) != simdjson::SUCCESS) {
      return Invalid(
          fmt::format("{} must be an array [\"<unix ns>\", \"<line>\"] with optional "
                      "structured metadata {{\"name\": \"value\"}} third",
                      where()));
    }
    const size_t n = arr.size();
    if (n < 2) {
      return Invalid(fmt::format("{} must hold a timestamp and a line", where()));
    }
    if (n > 3) {
      return Invalid(fmt::format("{} has more than 3 elements", where()));
    }
    model::EntryView& entry = entries->emplace_back();
    auto it = arr.begin();
    SLUICE_RETURN_IF_ERROR(ParseTimestamp(*it, where, &entry.timestamp_ns));
    ++it;
    std::string_view line;
    if ((*it).get_string().get(line) != simdjson::SUCCESS) {
      return Invalid(fmt::format("{}: the line must be a string", where()));
    }
    entry.line = Line(line, out);
    if (n == 3) {
      ++it;
      std::vector<model::Label> metadata;
      SLUICE_RETURN_IF_ERROR(ParseMetadata(*it, where, &metadata));
      if (!metadata.empty()) entry.metadata = out->owned_metadata.emplace_back(std::move(metadata));
    }
    return Status::OK();
  }

  template <typename Where>
  Status ParseTimestamp(dom::element value, const Where& where, int64_t* ts) {
    switch (value.type()) {
      case dom::element_type::INT64:
        *ts = value.get_int64().value_unsafe();
        return Status::OK();
      case dom::element_type::UINT64:
        return Invalid(fmt::format("{}: invalid timestamp {}: want integer Unix nanoseconds",
                                   where(), value.get_uint64().value_unsafe()));
      case dom::element_type::DOUBLE:
        return Invalid(fmt::format("{}: invalid timestamp {}: want integer Unix nanoseconds",
                                   where(), value.get_double().value_unsafe()));
      case dom::element_type::STRING:
        break;
      default:
        return Invalid(
            fmt::format("{}: the timestamp must be a string of Unix nanoseconds", where()));
    }
    std::string_view text = value.get_string().value_unsafe();
    // strconv.ParseInt's syntax: optional sign, decimal digits.
    std::string_view digits = text;
    if (!digits.empty() && digits[0] == '+') {
      digits.remove_prefix(1);
      if (!digits.empty() && digits[0] == '-') {
        digits = {};
      }
    }
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *ts);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
      return Invalid(fmt::format("{}: invalid timestamp {}: want a string of Unix nanoseconds",
                                 where(), model::QuoteString(Unescape(text, &scratch_))));
    }
    return Status::OK();
  }

  template <typename Where>
  Status ParseMetadata(dom::element value, const Where& where,
                       std::vector<model::Label>* metadata) {
    dom::object obj;
    if (value.get_object().get(obj) != simdjson::SUCCESS) {
      return Invalid(fmt::format(
          "{}: structured metadata must be an object of names to string values", where()));
    }
    metadata->reserve(obj.size());
    for (dom::key_value_pair field : obj) {
      std::string_view val;
      if (field.value.get_string().get(val) != simdjson::SUCCESS) {
        return Invalid(fmt::format("{}: the value of structured metadata {} must be a string",
                                   where(), model::QuoteString(Unescape(field.key, &scratch_))));
      }
      model::Label& label = metadata->emplace_back();
      if (escaped_) {
        AppendUnescaped(field.key, &label.name);
        AppendUnescaped(val, &label.value);
      } else {
        label.name.assign(field.key);
        label.value.assign(val);
      }
    }
    return Status::OK();
  }

  // A line as the request keeps it: a view into the parser's strings, or, when invalid bytes were
  // escaped, the bytes mapped back in a string the request owns.
  std::string_view Line(std::string_view s, model::PushRequest* out) const {
    if (!escaped_ || s.find('\xf4') == std::string_view::npos) {
      return s;
    }
    std::string raw;
    AppendUnescaped(s, &raw);
    return out->Own(std::move(raw));
  }

  // Maps escaped invalid bytes back (a no-op view unless escaping is on). The result may live in
  // *scratch, so it is valid until the next call with the same scratch.
  std::string_view Unescape(std::string_view s, std::string* scratch) const {
    if (!escaped_ || s.find('\xf4') == std::string_view::npos) {
      return s;
    }
    scratch->clear();
    AppendUnescaped(s, scratch);
    return *scratch;
  }

  static void AppendUnescaped(std::string_view s, std::string* out) {
    out->reserve(out->size() + s.size());
    for (size_t i = 0; i < s.size();) {
      size_t hit = s.find('\xf4', i);
      if (hit == std::string_view::npos) {
        out->append(s.substr(i));
        return;
      }
      out->append(s.substr(i, hit - i));
      if (hit + 3 < s.size() && s[hit + 1] == '\x8f' &&
          (s[hit + 2] == '\xbe' || s[hit + 2] == '\xbf')) {
        auto hi = static_cast<unsigned char>(s[hit + 2] - '\xbe');
        auto lo = static_cast<unsigned char>(s[hit + 3]) & 0x3f;
        out->push_back(static_cast<char>(0x80 | (hi << 6) | lo));
        i = hit + 4;
      } else {
        out->push_back(s[hit]);
        i = hit + 1;
      }
    }
  }

  const bool escaped_;
  bool utf8_error_ = false;
  std::string scratch_;
};

// A parser whose strings the request's views point into. It returns to its thread's spare slot
// when the request is destroyed (on that thread, in the server), so the next request reuses its
// buffers; one that grew past kRetainParserCapacity is freed instead.
std::shared_ptr<dom::parser> LeaseParser() {
  thread_local std::unique_ptr<dom::parser> spare;
  dom::parser* parser = spare ? spare.release() : new dom::parser();
  return std::shared_ptr<dom::parser>(parser, [](dom::parser* p) {
    if (!spare && p->capacity() <= kRetainParserCapacity) {
      spare.reset(p);
    } else {
      delete p;
    }
  });
}

}  // namespace

Result<model::PushRequest> ParseJsonPush(const ByteBuffer& body, uint64_t max_bytes) {
  std::shared_ptr<dom::parser> parser = LeaseParser();
  model::PushRequest req;
  JsonPushParser plain(/*escaped=*/false);
  Status st = plain.Parse(*parser, body, &req);
  if (st.ok()) {
    req.storage = std::move(parser);
    return req;
  }
  if (!plain.utf8_error()) {
    return st;
  }
  // simdjson validates UTF-8 for the whole document before handing out anything, so nothing was
  // parsed yet and a second attempt on the escaped body starts clean.
  ByteBuffer escaped;
  if (!EscapeInvalidUtf8(body.view(), max_bytes, &escaped)) {
    return st;
  }
  req = model::PushRequest();
  SLUICE_RETURN_IF_ERROR(JsonPushParser(/*escaped=*/true).Parse(*parser, escaped, &req));
  req.storage = std::move(parser);
  return req;
}

}  // namespace sluice::http::push_internal
