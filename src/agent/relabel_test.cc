#include "agent/relabel.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include "agent/journal.h"

namespace sluice::agent {
namespace {

RelabelRule Rule(std::vector<std::string> sources, std::string target,
                 std::string action = "replace") {
  RelabelRule r;
  r.source_labels = std::move(sources);
  r.target_label = std::move(target);
  r.action = std::move(action);
  return r;
}

TEST(Relabel, ReplaceCopiesAJournalFieldIntoALabel) {
  Relabeler r({Rule({"__journal__systemd_unit"}, "unit")});
  std::map<std::string, std::string> labels = {{"__journal__systemd_unit", "ssh.service"},
                                               {"job", "j"}};
  ASSERT_TRUE(r.Apply(&labels));
  EXPECT_EQ(labels.at("unit"), "ssh.service");
}

TEST(Relabel, ReplaceWithGroupsSeparatorAndEmptyResult) {
  RelabelRule rule = Rule({"a", "b"}, "ab");
  rule.separator = "/";
  rule.regex = "(\\w+)/(\\w+)";
  rule.replacement = "${2}-$1";
  RelabelRule missing = Rule({"nope"}, "job");  // "" matches (.*): $1 is "", so job is deleted
  Relabeler r({rule, missing});
  std::map<std::string, std::string> labels = {{"a", "x"}, {"b", "y"}, {"job", "j"}};
  ASSERT_TRUE(r.Apply(&labels));
  EXPECT_EQ(labels.at("ab"), "y-x");
  EXPECT_FALSE(labels.contains("job"));
}

TEST(Relabel, RegexIsAnchored) {
  RelabelRule rule = Rule({"a"}, "t");
  rule.regex = "ss";
  rule.replacement = "hit";
  Relabeler r({rule});
  std::map<std::string, std::string> labels = {{"a", "ssh"}};
  ASSERT_TRUE(r.Apply(&labels));
  EXPECT_FALSE(labels.contains("t"));
}

TEST(Relabel, KeepAndDropFilterEntries) {
  RelabelRule keep = Rule({"unit"}, "", "keep");
  keep.regex = "ssh.*";
  RelabelRule drop = Rule({"prio"}, "", "drop");
  drop.regex = "7";
  Relabeler r({keep, drop});
  std::map<std::string, std::string> a = {{"unit", "ssh.service"}, {"prio", "6"}};
  std::map<std::string, std::string> b = {{"unit", "cron.service"}, {"prio", "6"}};
  std::map<std::string, std::string> c = {{"unit", "ssh.service"}, {"prio", "7"}};
  EXPECT_TRUE(r.Apply(&a));
  EXPECT_FALSE(r.Apply(&b));
  EXPECT_FALSE(r.Apply(&c));
}

TEST(Relabel, LabelmapAndLabeldrop) {
  RelabelRule map;
  map.action = "labelmap";
  map.regex = "__journal_(.+)";
  RelabelRule drop;
  drop.action = "labeldrop";
  drop.regex = "_p.*";
  Relabeler r({map, drop});
  std::map<std::string, std::string> labels = {{"__journal_message_id", "m"},
                                               {"__journal__pid", "1"}};
  ASSERT_TRUE(r.Apply(&labels));
  EXPECT_EQ(labels.at("message_id"), "m");
  EXPECT_FALSE(labels.contains("_pid"));  // mapped, then dropped
  EXPECT_TRUE(
      labels.contains("__journal_message_id"));  // kept: the journal source drops "__" later
}

TEST(Relabel, ExpandTemplateFollowsGo) {
  re2::RE2 re("(?P<host>\\w+):(\\d+)");
  std::vector<std::string_view> groups = {"web:80", "web", "80"};
  EXPECT_EQ(ExpandTemplate(re, "$host/${2}/$$/$1x/$9", groups), "web/80/$//");
}

TEST(JournalLabels, FieldsBecomeLowerCasedJournalLabelsWithPriorityKeyword) {
  auto labels =
      JournalFieldLabels({{"_SYSTEMD_UNIT", "a.service"}, {"PRIORITY", "3"}, {"MESSAGE", "m"}});
  EXPECT_EQ(labels.at("__journal__systemd_unit"), "a.service");
  EXPECT_EQ(labels.at("__journal_priority"), "3");
  EXPECT_EQ(labels.at("__journal_priority_keyword"), "error");
  EXPECT_EQ(labels.at("__journal_message"), "m");
}

}  // namespace
}  // namespace sluice::agent
