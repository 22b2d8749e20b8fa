#pragma once

// Test helpers for the log pipeline: run one line through a query's pipeline and look at what
// came out, and serve entries unloaded. Header-only, for logql's *_test.cc files.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "iter/iterator.h"
#include "logql/log/pipeline.h"
#include "logql/syntax/parser.h"
#include "model/labels.h"

namespace sluice::logql::log::testing {

struct Output {
  bool kept = false;
  std::string line;
  std::string labels;  // the final labels, `{a="b", ...}`; "" when dropped
};

// Compiles `query`'s pipeline and runs `line` of a stream labelled `stream` through it.
inline Output RunLine(std::string_view query, std::string_view stream, std::string_view line,
                      const std::vector<model::Label>& metadata = {}, int64_t ts = 0) {
  Output out;
  auto expr = syntax::Parse(query);
  EXPECT_TRUE(expr.ok()) << query << ": " << expr.status().message();
  if (!expr.ok()) return out;
  auto pipeline = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  EXPECT_TRUE(pipeline.ok()) << query << ": " << pipeline.status().message();
  if (!pipeline.ok()) return out;
  auto labels = model::ParseLabels(stream);
  EXPECT_TRUE(labels.ok()) << stream;
  if (!labels.ok()) return out;
  LabelsBuilder builder;
  builder.Reset(&*labels, &metadata);
  std::string_view l = line;
  out.kept = pipeline->Process(ts, &l, &builder);
  if (out.kept) {
    out.line.assign(l);
    out.labels = builder.Labels().ToString();
  }
  return out;
}

// The final labels of `line`, or "dropped".
inline std::string LabelsOf(std::string_view query, std::string_view stream,
                            std::string_view line) {
  Output o = RunLine(query, stream, line);
  return o.kept ? o.labels : "dropped";
}

// The compile error of `query`'s pipeline ("" when it compiles).
inline std::string CompileErrorOf(std::string_view query) {
  auto expr = syntax::Parse(query);
  if (!expr.ok()) return "parse: " + expr.status().message();
  auto p = Pipeline::Compile((*expr)->Cast<syntax::LogSelectorExpr>());
  return p.ok() ? "" : p.status().message();
}

// Serves `it`'s entries the way a timestamps-only read may: line and metadata empty until
// LoadLine(), which counts its calls in *loads.
class UnloadedIterator final : public iter::EntryIterator {
 public:
  UnloadedIterator(iter::EntryIteratorPtr it, int* loads) : it_(std::move(it)), loads_(loads) {}
  bool Next() override {
    if (!it_->Next()) return false;
    // As a timestamps-only read: the line is left out, the metadata is kept.
    entry_ = model::Entry{it_->At().timestamp_ns, {}, it_->At().metadata};
    loaded_ = false;
    return true;
  }
  const model::Entry& At() const override { return entry_; }
  const model::LabelSet& Labels() const override { return it_->Labels(); }
  Status Error() const override { return it_->Error(); }
  bool LineLoaded() const override { return loaded_; }
  Status LoadLine() override {
    ++*loads_;
    entry_ = it_->At();
    loaded_ = true;
    return Status::OK();
  }

 private:
  iter::EntryIteratorPtr it_;
  int* loads_;
  model::Entry entry_;
  bool loaded_ = false;
};

}  // namespace sluice::logql::log::testing
