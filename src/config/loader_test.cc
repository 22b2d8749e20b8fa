#include "config/loader.h"

#include <gtest/gtest.h>

namespace sluice::config {
namespace {

// A configuration with one of each kind of key, to drive the three visitors.
struct Item {
  std::string name;
  std::vector<std::string> tags;
};
struct Sub {
  int64_t every = 0;
};
struct TestConfig {
  bool enabled = false;
  int count = 1;
  uint64_t size = 0;
  std::map<std::string, std::string> labels;
  std::optional<Sub> sub;
  std::vector<Item> items;
};

template <typename V>
void Visit(TestConfig& c, V& v) {
  v.Field("enabled", c.enabled);
  v.Section("nested", [&] {
    v.Field("count", c.count);
    v.Field("size", BytesField{&c.size});
  });
  v.Field("labels", c.labels);
  v.OptionalSection("sub", c.sub, [&](Sub& s) { v.Field("every", DurationField{&s.every}); });
  v.List("items", c.items, [&](Item& item) {
    v.Field("name", item.name);
    v.Field("tags", item.tags);
    return item.name.empty() ? Status::InvalidArgument("name is required") : Status::OK();
  });
}

Result<TestConfig> Load(std::string_view yaml) {
  TestConfig c;
  SLUICE_RETURN_IF_ERROR(LoadYamlInto(yaml, [&](auto& v) { Visit(c, v); }));
  return c;
}

TEST(LoaderTest, BooleansAreTrueFalseOneZero) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, bool>>{
           {"true", true}, {"1", true}, {"false", false}, {"0", false}}) {
    bool b = !want;
    ASSERT_TRUE(ParseScalar("k", text, b).ok()) << text;
    EXPECT_EQ(b, want) << text;
    auto c = Load("enabled: " + text);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->enabled, want) << text;
  }
  bool b = false;
  EXPECT_EQ(ParseScalar("k", "yes", b).message(), "k: cannot parse \"yes\" as a boolean");
}

TEST(LoaderTest, IntegersMustBeWhole) {
  int i = 0;
  EXPECT_TRUE(ParseScalar("k", "-3", i).ok());
  EXPECT_EQ(i, -3);
  EXPECT_FALSE(ParseScalar("k", "3x", i).ok());
  uint64_t u = 0;
  EXPECT_EQ(ParseScalar("k", "-1", u).message(), "k: cannot parse \"-1\" as an integer");
}

TEST(LoaderTest, ListsOfMappings) {
  auto c = Load(R"(
items:
  - name: a
    tags: [x, y]
  - name: b
    tags: z
labels: {env: prod}
sub:
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->items.size(), 2u);
  EXPECT_EQ(c->items[0].tags, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(c->items[1].tags, (std::vector<std::string>{"z"}));  // a single string: a list of one
  EXPECT_EQ(c->labels.at("env"), "prod");
  ASSERT_TRUE(c->sub.has_value());  // present with no value: the defaults
  EXPECT_FALSE(Load("").value().sub.has_value());
  EXPECT_TRUE(Load("items:\n").value().items.empty());
}

TEST(LoaderTest, ErrorsNameTheKey) {
  EXPECT_EQ(Load("items: [{name: a}, {name: b, nmae: c}]").status().message(),
            "unknown configuration key \"nmae\" in section items[1]; did you mean "
            "\"items[1].name\"?");
  EXPECT_EQ(Load("nested: {cuont: 1}").status().message(),
            "unknown configuration key \"cuont\" in section nested; did you mean "
            "\"nested.count\"?");
  EXPECT_EQ(Load("bogus: 1").status().message(),
            "unknown configuration key \"bogus\" in the top level");
  EXPECT_EQ(Load("items: {name: a}").status().message(), "items: expected a list");
  EXPECT_EQ(Load("items: [a]").status().message(), "items[0]: expected a mapping");
  EXPECT_EQ(Load("items: [{tags: [x]}]").status().message(), "items[0]: name is required");
  EXPECT_EQ(Load("items: [{tags: [[x]]}]").status().message(),
            "items[0].tags: expected a list of strings");
  EXPECT_EQ(Load("nested: {count: [1]}").status().message(),
            "nested.count: expected a single value");
  EXPECT_EQ(Load("nested: {count: x}").status().message(),
            "nested.count: cannot parse \"x\" as an integer");
  EXPECT_EQ(Load("labels: {a: [1]}").status().message(), "labels: label values must be strings");
  EXPECT_EQ(Load("sub: 5").status().message(), "sub: expected a mapping");
  // Unknown keys in an element are reported before the element's own check.
  EXPECT_EQ(Load("items: [{nmae: a}]").status().message(),
            "unknown configuration key \"nmae\" in section items[0]; did you mean "
            "\"items[0].name\"?");
}

TEST(LoaderTest, NullLeavesTheDefault) {
  auto c = Load("nested:\n  count:\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->count, 1);
}

TEST(LoaderTest, FlagsInBothForms) {
  auto flags = ParseFlags({"-nested.count=3", "-nested.size", "1KB", "--enabled",
                           "-config.file=a.yaml", "-log.level", "debug"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  ASSERT_EQ(flags->size(), 5u);
  EXPECT_EQ((*flags)[1].name, "nested.size");
  EXPECT_EQ((*flags)[1].value, "1KB");
  EXPECT_EQ((*flags)[2].name, "enabled");
  EXPECT_EQ((*flags)[2].value, "true");  // a bare flag is a boolean set
  EXPECT_EQ(TakeFlag(*flags, "config.file"), "a.yaml");
  EXPECT_EQ(TakeFlag(*flags, "config.file"), "");
  ASSERT_EQ(flags->size(), 4u);

  static constexpr FlagAlias kAliases[] = {{"log.level", "nested.count"}};
  EXPECT_EQ(FlagPath("log.level", kAliases), "nested.count");
  EXPECT_EQ(FlagPath("nested.some-name", kAliases), "nested.some_name");

  TestConfig c;
  auto visit = [&](auto& v) { Visit(c, v); };
  flags->pop_back();  // "-log.level debug" is not an integer
  ASSERT_TRUE(ApplyFlags(*flags, kAliases, visit).ok());
  EXPECT_EQ(c.count, 3);
  EXPECT_EQ(c.size, 1024u);
  EXPECT_TRUE(c.enabled);
  EXPECT_TRUE(ApplyFlags({{"enabled", "0"}}, kAliases, visit).ok());
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(ApplyFlags({{"log.level", "x"}}, kAliases, visit).message(),
            "-nested.count: cannot parse \"x\" as an integer");
  EXPECT_EQ(ApplyFlags({{"nested.bogus", "1"}}, kAliases, visit).message(),
            "unknown flag -nested.bogus");
  EXPECT_EQ(ApplyFlags({{"nested.cuont", "1"}}, kAliases, visit).message(),
            "unknown flag -nested.cuont (did you mean -nested.count?)");
  EXPECT_FALSE(ApplyFlags({{"labels", "a"}}, kAliases, visit).ok());  // maps are YAML only
  EXPECT_EQ(ParseFlags({"stray"}).status().message(), "unexpected argument \"stray\"");
}

}  // namespace
}  // namespace sluice::config
