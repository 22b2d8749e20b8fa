#include "iter/merge.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <vector>

namespace sluice::iter {
namespace {

using model::Direction;
using model::Entry;

model::LabelSet L(std::string_view text) { return model::ParseLabels(text).value(); }

std::vector<Entry> E(std::vector<std::pair<int64_t, std::string>> v) {
  std::vector<Entry> out;
  for (auto& [ts, line] : v) out.push_back(Entry{ts, line, {}});
  return out;
}

// "labels@ts:line" for each entry, in iteration order.
std::vector<std::string> Drain(EntryIterator* it) {
  std::vector<std::string> out;
  while (it->Next()) {
    out.push_back(it->Labels().ToString() + "@" + std::to_string(it->At().timestamp_ns) + ":" +
                  it->At().line);
  }
  EXPECT_TRUE(it->Error().ok());
  return out;
}

class FailingIterator final : public EntryIterator {
 public:
  bool Next() override { return false; }
  const Entry& At() const override { return e_; }
  const model::LabelSet& Labels() const override { return l_; }
  Status Error() const override { return Status::IOError("boom"); }

 private:
  Entry e_;
  model::LabelSet l_;
};

// A forward, one-stream iterator with deferred lines, as a timestamps-only source returns them:
// an entry whose timestamp no other entry of the iterator shares comes without its line until
// LoadLine(), which it counts.
class DeferredIterator final : public EntryIterator {
 public:
  DeferredIterator(std::string_view labels, std::vector<Entry> entries, int* loads)
      : labels_(L(labels)), entries_(std::move(entries)), loads_(loads) {}

  bool Next() override {
    if (next_ >= entries_.size()) return false;
    cur_ = next_++;
    bool shared = (cur_ > 0 && entries_[cur_ - 1].timestamp_ns == entries_[cur_].timestamp_ns) ||
                  (cur_ + 1 < entries_.size() &&
                   entries_[cur_ + 1].timestamp_ns == entries_[cur_].timestamp_ns);
    entry_ = Entry{entries_[cur_].timestamp_ns, "", {}};
    loaded_ = false;
    if (shared) Fill();
    return true;
  }
  const Entry& At() const override { return entry_; }
  const model::LabelSet& Labels() const override { return labels_; }
  bool LineLoaded() const override { return loaded_; }
  Status LoadLine() override {
    if (!loaded_) {
      ++*loads_;
      Fill();
    }
    return Status::OK();
  }

 private:
  void Fill() {
    entry_ = entries_[cur_];
    loaded_ = true;
  }
  model::LabelSet labels_;
  std::vector<Entry> entries_;
  int* loads_;
  size_t next_ = 0, cur_ = 0;
  Entry entry_;
  bool loaded_ = false;
};

// Merges compare lines only where they must (entries of several iterators at one timestamp),
// and what they return matches the merge of fully loaded iterators, lines and duplicates alike.
TEST(MergeIteratorTest, DeferredLinesLoadOnlyToCompare) {
  auto a = E({{1, "a1"}, {3, "a3"}, {3, "a3b"}, {5, "same"}, {7, "a7"}});
  auto b = E({{2, "b2"}, {5, "same"}, {6, "b6"}, {7, "b7"}});
  auto full = [&] {
    std::vector<EntryIteratorPtr> its;
    its.push_back(NewVectorIterator(L(R"({s="x"})"), a, Direction::kForward));
    its.push_back(NewVectorIterator(L(R"({s="x"})"), b, Direction::kForward));
    return its;
  };
  auto deferred = [&](int* loads) {
    std::vector<EntryIteratorPtr> its;
    its.push_back(std::make_unique<DeferredIterator>(R"({s="x"})", a, loads));
    its.push_back(std::make_unique<DeferredIterator>(R"({s="x"})", b, loads));
    return its;
  };
  MergeIterator want(full(), Direction::kForward);
  std::vector<std::string> expected = Drain(&want);
  ASSERT_EQ(expected.size(), 8u);  // "same" at 5 once

  int loads = 0;
  MergeIterator merge(deferred(&loads), Direction::kForward);
  EXPECT_EQ(Drain(&merge),
            std::vector<std::string>({R"({s="x"}@1:)", R"({s="x"}@2:)", R"({s="x"}@3:a3)",
                                      R"({s="x"}@3:a3b)", R"({s="x"}@5:same)", R"({s="x"}@6:)",
                                      R"({s="x"}@7:a7)", R"({s="x"}@7:b7)"}));
  EXPECT_EQ(loads, 4);  // both entries at 5 and at 7
  EXPECT_EQ(merge.duplicates(), 1u);

  // Loading every entry through the merge gives the full read.
  loads = 0;
  MergeIterator loading(deferred(&loads), Direction::kForward);
  std::vector<std::string> got;
  while (loading.Next()) {
    ASSERT_TRUE(loading.LoadLine().ok());
    EXPECT_TRUE(loading.LineLoaded());
    got.push_back(loading.Labels().ToString() + "@" + std::to_string(loading.At().timestamp_ns) +
                  ":" + loading.At().line);
  }
  EXPECT_EQ(got, expected);

  // Stream after stream: the same entries, and the same loads.
  loads = 0;
  StreamOrderedIterator ordered(deferred(&loads), Direction::kForward);
  EXPECT_EQ(Drain(&ordered).size(), 8u);
  EXPECT_EQ(loads, 4);
  EXPECT_EQ(ordered.duplicates(), 1u);
}

TEST(VectorIteratorTest, BothDirections) {
  auto fwd =
      NewVectorIterator(L(R"({a="1"})"), E({{1, "x"}, {2, "y"}, {2, "z"}}), Direction::kForward);
  EXPECT_EQ(Drain(fwd.get()),
            (std::vector<std::string>{R"({a="1"}@1:x)", R"({a="1"}@2:y)", R"({a="1"}@2:z)"}));
  auto bwd =
      NewVectorIterator(L(R"({a="1"})"), E({{1, "x"}, {2, "y"}, {2, "z"}}), Direction::kBackward);
  EXPECT_EQ(Drain(bwd.get()),
            (std::vector<std::string>{R"({a="1"}@2:z)", R"({a="1"}@2:y)", R"({a="1"}@1:x)"}));
}

TEST(MergeIteratorTest, ForwardOrdersByTimeThenLabelsThenLine) {
  std::vector<EntryIteratorPtr> its;
  its.push_back(
      NewVectorIterator(L(R"({a="2"})"), E({{1, "b"}, {3, "c"}, {5, "e"}}), Direction::kForward));
  its.push_back(
      NewVectorIterator(L(R"({a="1"})"), E({{1, "z"}, {2, "a"}, {5, "d"}}), Direction::kForward));
  auto it = NewMergeIterator(std::move(its), Direction::kForward);
  EXPECT_EQ(Drain(it.get()),
            (std::vector<std::string>{R"({a="1"}@1:z)", R"({a="2"}@1:b)", R"({a="1"}@2:a)",
                                      R"({a="2"}@3:c)", R"({a="1"}@5:d)", R"({a="2"}@5:e)"}));
}

TEST(MergeIteratorTest, BackwardIsTheExactReverse) {
  std::vector<EntryIteratorPtr> its;
  its.push_back(
      NewVectorIterator(L(R"({a="2"})"), E({{1, "b"}, {3, "c"}, {5, "e"}}), Direction::kBackward));
  its.push_back(
      NewVectorIterator(L(R"({a="1"})"), E({{1, "z"}, {2, "a"}, {5, "d"}}), Direction::kBackward));
  auto it = NewMergeIterator(std::move(its), Direction::kBackward);
  EXPECT_EQ(Drain(it.get()),
            (std::vector<std::string>{R"({a="2"}@5:e)", R"({a="1"}@5:d)", R"({a="2"}@3:c)",
                                      R"({a="1"}@2:a)", R"({a="2"}@1:b)", R"({a="1"}@1:z)"}));
}

TEST(MergeIteratorTest, DropsExactDuplicatesBothDirections) {
  for (Direction dir : {Direction::kForward, Direction::kBackward}) {
    std::vector<EntryIteratorPtr> its;
    // Same stream from memory and from a chunk (a flush that was replayed again).
    its.push_back(
        NewVectorIterator(L(R"({a="1"})"), E({{1, "x"}, {2, "b"}, {2, "a"}, {3, "y"}}), dir));
    its.push_back(
        NewVectorIterator(L(R"({a="1"})"), E({{2, "b"}, {2, "a"}, {3, "y"}, {4, "w"}}), dir));
    // Another stream with the same line at the same time is not a duplicate.
    its.push_back(NewVectorIterator(L(R"({a="2"})"), E({{2, "a"}}), dir));
    auto merge = std::make_unique<MergeIterator>(std::move(its), dir);
    std::vector<std::string> want = {R"({a="1"}@1:x)", R"({a="1"}@2:b)", R"({a="1"}@2:a)",
                                     R"({a="2"}@2:a)", R"({a="1"}@3:y)", R"({a="1"}@4:w)"};
    if (dir == Direction::kBackward) std::reverse(want.begin(), want.end());
    EXPECT_EQ(Drain(merge.get()), want);
    EXPECT_EQ(merge->duplicates(), 3u);
  }
}

TEST(MergeIteratorTest, EqualTimestampsKeepWriteOrder) {
  // Agents send millisecond timestamps: many lines share one and must not be re-sorted by text.
  for (Direction dir : {Direction::kForward, Direction::kBackward}) {
    std::vector<EntryIteratorPtr> its;
    its.push_back(NewVectorIterator(L(R"({a="1"})"), E({{5, "b"}, {5, "a"}, {5, "c"}}), dir));
    its.push_back(NewVectorIterator(L(R"({a="1"})"), E({{5, "0"}}), dir));  // a newer source
    std::vector<std::string> want = {R"({a="1"}@5:b)", R"({a="1"}@5:a)", R"({a="1"}@5:c)",
                                     R"({a="1"}@5:0)"};
    if (dir == Direction::kBackward) std::reverse(want.begin(), want.end());
    auto merge = NewMergeIterator(std::move(its), dir);
    EXPECT_EQ(Drain(merge.get()), want);
  }
}

TEST(MergeIteratorTest, LargeEqualTimestampGroupsDedupe) {
  std::vector<Entry> a, b;
  for (int i = 0; i < 1000; ++i) {
    a.push_back(Entry{7, "line " + std::to_string(i), {}});
    b.push_back(Entry{7, "line " + std::to_string(i), {}});
  }
  std::vector<EntryIteratorPtr> its;
  its.push_back(NewVectorIterator(L(R"({a="1"})"), a, Direction::kForward));
  its.push_back(NewVectorIterator(L(R"({a="1"})"), b, Direction::kForward));
  auto merge = std::make_unique<MergeIterator>(std::move(its), Direction::kForward);
  auto got = Drain(merge.get());
  ASSERT_EQ(got.size(), 1000u);
  EXPECT_EQ(got[999], R"({a="1"}@7:line 999)");
  EXPECT_EQ(merge->duplicates(), 1000u);
}

TEST(MergeIteratorTest, DuplicatesWithinOneSourceAndDifferentLinesKept) {
  std::vector<EntryIteratorPtr> its;
  its.push_back(
      NewVectorIterator(L(R"({a="1"})"), E({{1, "x"}, {1, "x"}, {1, "y"}}), Direction::kForward));
  auto it = NewMergeIterator(std::move(its), Direction::kForward);
  EXPECT_EQ(Drain(it.get()), (std::vector<std::string>{R"({a="1"}@1:x)", R"({a="1"}@1:y)"}));
}

TEST(MergeIteratorTest, KeepsFirstMetadata) {
  std::vector<Entry> a = {Entry{1, "x", {{"trace", "1"}}}};
  std::vector<Entry> b = {Entry{1, "x", {{"trace", "2"}}}};
  std::vector<EntryIteratorPtr> its;
  its.push_back(NewVectorIterator(L(R"({a="1"})"), a, Direction::kForward));
  its.push_back(NewVectorIterator(L(R"({a="1"})"), b, Direction::kForward));
  auto it = NewMergeIterator(std::move(its), Direction::kForward);
  ASSERT_TRUE(it->Next());
  ASSERT_EQ(it->At().metadata.size(), 1u);
  EXPECT_FALSE(it->Next());
}

TEST(MergeIteratorTest, EmptyAndNullInputs) {
  std::vector<EntryIteratorPtr> its;
  its.push_back(nullptr);
  its.push_back(NewVectorIterator(L(R"({a="1"})"), {}, Direction::kForward));
  auto it = NewMergeIterator(std::move(its), Direction::kForward);
  EXPECT_FALSE(it->Next());
  EXPECT_TRUE(it->Error().ok());
  auto none = NewMergeIterator({}, Direction::kBackward);
  EXPECT_FALSE(none->Next());
}

TEST(MergeIteratorTest, PropagatesErrors) {
  std::vector<EntryIteratorPtr> its;
  its.push_back(NewVectorIterator(L(R"({a="1"})"), E({{1, "x"}}), Direction::kForward));
  its.push_back(std::make_unique<FailingIterator>());
  auto it = NewMergeIterator(std::move(its), Direction::kForward);
  EXPECT_FALSE(it->Next());
  EXPECT_EQ(it->Error().code(), StatusCode::kIOError);
}

TEST(MergeIteratorTest, ManySourcesStayOrdered) {
  std::vector<EntryIteratorPtr> its;
  for (int s = 0; s < 50; ++s) {
    std::vector<std::pair<int64_t, std::string>> v;
    for (int i = 0; i < 100; ++i) v.push_back({i * 7 + s, "l"});
    its.push_back(
        NewVectorIterator(L("{s=\"" + std::to_string(s) + "\"}"), E(v), Direction::kBackward));
  }
  auto it = NewMergeIterator(std::move(its), Direction::kBackward);
  int64_t prev = INT64_MAX;
  int n = 0;
  while (it->Next()) {
    EXPECT_LE(it->At().timestamp_ns, prev);
    prev = it->At().timestamp_ns;
    ++n;
  }
  EXPECT_EQ(n, 5000);
}

// Random streams split over several sources (with overlaps and duplicates): the stream-ordered
// read holds exactly the global merge's entries, each stream's in the same order, streams in
// label order.
TEST(StreamOrderedIteratorTest, SameEntriesAsTheMergeStreamByStream) {
  for (Direction dir : {Direction::kForward, Direction::kBackward}) {
    auto make = [dir](uint32_t seed) {
      std::vector<EntryIteratorPtr> its;
      uint32_t x = seed;
      auto rnd = [&x] {
        x = x * 1103515245u + 12345u;
        return (x >> 16) & 0x7fff;
      };
      for (int src = 0; src < 3; ++src) {
        for (int s = 0; s < 6; ++s) {
          std::vector<std::pair<int64_t, std::string>> v;
          int64_t ts = 0;
          for (int i = 0; i < 20; ++i) {
            ts += rnd() % 3;
            v.emplace_back(ts, "l" + std::to_string(rnd() % 4));
          }
          its.push_back(NewVectorIterator(L("{s=\"" + std::to_string(5 - s) + "\"}"), E(v), dir));
        }
      }
      return its;
    };
    auto merged = MergeIterator(make(7), dir);
    auto global = Drain(&merged);
    StreamOrderedIterator ordered(make(7), dir);
    auto streams = Drain(&ordered);
    EXPECT_EQ(ordered.duplicates(), merged.duplicates());
    ASSERT_EQ(streams.size(), global.size());
    // Regroup the global order by stream (stable), streams in label order.
    std::vector<std::string> regrouped = global;
    std::stable_sort(regrouped.begin(), regrouped.end(), [dir](const auto& a, const auto& b) {
      auto la = a.substr(0, a.find('@')), lb = b.substr(0, b.find('@'));
      return dir == Direction::kForward ? la < lb : lb < la;
    });
    EXPECT_EQ(streams, regrouped);
  }
}

TEST(StreamOrderedIteratorTest, EmptyInputsAndErrors) {
  std::vector<EntryIteratorPtr> none;
  StreamOrderedIterator empty(std::move(none), Direction::kForward);
  EXPECT_FALSE(empty.Next());
  EXPECT_TRUE(empty.Error().ok());

  std::vector<EntryIteratorPtr> its;
  its.push_back(NewVectorIterator(L(R"({a="1"})"), E({{1, "x"}}), Direction::kForward));
  its.push_back(std::make_unique<FailingIterator>());
  StreamOrderedIterator failing(std::move(its), Direction::kForward);
  EXPECT_FALSE(failing.Next());
  EXPECT_EQ(failing.Error().code(), StatusCode::kIOError);
}

TEST(WrapperIteratorsTest, StreamLabelAdding) {
  auto it = NewStreamLabelAddingIterator(
      NewVectorIterator(L(R"({a="1", t="x"})"), E({{1, "x"}, {2, "y"}}), Direction::kForward), "t",
      "tenant");
  EXPECT_EQ(Drain(it.get()),
            (std::vector<std::string>{R"({a="1", t="tenant"}@1:x)", R"({a="1", t="tenant"}@2:y)"}));
}

TEST(WrapperIteratorsTest, TimeRangeAndLimit) {
  auto fwd = NewTimeRangeIterator(
      NewVectorIterator(L(R"({a="1"})"), E({{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}}),
                        Direction::kForward),
      2, 4, Direction::kForward);
  EXPECT_EQ(Drain(fwd.get()), (std::vector<std::string>{R"({a="1"}@2:b)", R"({a="1"}@3:c)"}));
  auto bwd = NewTimeRangeIterator(
      NewVectorIterator(L(R"({a="1"})"), E({{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}}),
                        Direction::kBackward),
      2, 4, Direction::kBackward);
  EXPECT_EQ(Drain(bwd.get()), (std::vector<std::string>{R"({a="1"}@3:c)", R"({a="1"}@2:b)"}));
  auto lim = NewLimitIterator(
      NewVectorIterator(L(R"({a="1"})"), E({{1, "a"}, {2, "b"}, {3, "c"}}), Direction::kForward),
      2);
  EXPECT_EQ(Drain(lim.get()), (std::vector<std::string>{R"({a="1"}@1:a)", R"({a="1"}@2:b)"}));
}

TEST(WrapperIteratorsTest, LabelAdding) {
  auto it = NewLabelAddingIterator(
      NewVectorIterator(L(R"({a="1", __tenant_id__="x"})"), E({{1, "a"}}), Direction::kForward),
      "__tenant_id__", "team");
  EXPECT_EQ(Drain(it.get()), (std::vector<std::string>{R"({__tenant_id__="team", a="1"}@1:a)"}));
}

}  // namespace
}  // namespace sluice::iter
