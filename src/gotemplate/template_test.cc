#include "gotemplate/template.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "testing/fake_clock.h"

namespace sluice::gotemplate {
namespace {

// 2021-11-02T10:20:30.5Z
constexpr int64_t kNow = 1635848430'500000000;

struct Input {
  std::map<std::string, std::string> labels;
  std::string line;
  int64_t ts = 0;
};

// The output, or "ERR: <message>" for a compile or execution error.
std::string Render(std::string_view text, const Input& in = {}) {
  auto t = Template::Compile(text);
  if (!t.ok()) return "ERR: " + t.status().message();
  sluice::testing::FakeClock clock(kNow);
  Context ctx;
  ctx.label = [&](std::string_view name) -> std::optional<std::string_view> {
    auto it = in.labels.find(std::string(name));
    if (it == in.labels.end()) return std::nullopt;
    return std::string_view(it->second);
  };
  ctx.line = in.line;
  ctx.timestamp_ns = in.ts;
  ctx.clock = &clock;
  std::string out = "stale";
  Status st = t->Execute(ctx, &out);
  if (!st.ok()) return "ERR: " + st.message();
  return out;
}

std::string RunL(std::string_view text, std::map<std::string, std::string> labels) {
  return Render(text, Input{std::move(labels), "", 0});
}

bool ErrContains(const std::string& got, std::string_view want) {
  return got.rfind("ERR: ", 0) == 0 && got.find(want) != std::string::npos;
}

#define EXPECT_ERR(got, want) EXPECT_PRED2(ErrContains, got, want)

// ---- text, actions, fields ----

TEST(TemplateTest, TextAndFields) {
  EXPECT_EQ(Render("plain text"), "plain text");
  EXPECT_EQ(Render(""), "");
  EXPECT_EQ(RunL("{{.a}}", {{"a", "x"}}), "x");
  EXPECT_EQ(RunL("{{ .a }}-{{ .b }}", {{"a", "1"}, {"b", "2"}}), "1-2");
  // Loki's data is a map[string]string with missingkey=zero: a missing label is "".
  EXPECT_EQ(RunL("[{{ .missing }}]", {}), "[]");
  EXPECT_EQ(Render("[{{ __line__ }}]", Input{{}, "the line", 0}), "[the line]");
  EXPECT_EQ(RunL("{{ $.a }}", {{"a", "x"}}), "x");
  EXPECT_EQ(RunL("{{ index . \"a\" }}{{ index $ \"b\" }}", {{"a", "x"}, {"b", "y"}}), "xy");
}

TEST(TemplateTest, ExecuteReplacesOutput) {
  auto t = Template::Compile("{{ .a }}");
  ASSERT_TRUE(t.ok());
  Context ctx;
  ctx.label = [](std::string_view) { return std::optional<std::string_view>("v"); };
  std::string out = "previous";
  ASSERT_TRUE(t->Execute(ctx, &out).ok());
  EXPECT_EQ(out, "v");
  Context empty;  // no label function: every label is missing
  ASSERT_TRUE(t->Execute(empty, &out).ok());
  EXPECT_EQ(out, "");
}

TEST(TemplateTest, FastPathMatchesTreeWalker) {
  Input in{{{"a", "1"}, {"b", "two"}}, "LINE", 0};
  // The first of each pair takes the fast path, the second the tree walker.
  EXPECT_EQ(Render("x{{.a}}y{{.b}}z{{__line__}}{{.c}}", in), "x1ytwozLINE");
  EXPECT_EQ(Render("x{{.a | print}}y{{(.b)}}z{{__line__ | print}}{{.c | print}}", in),
            "x1ytwozLINE");
}

TEST(TemplateTest, TrimMarkersAndComments) {
  EXPECT_EQ(RunL("a  \n {{- .x -}} \n  b", {{"x", "X"}}), "aXb");
  EXPECT_EQ(RunL("a {{- .x }} b", {{"x", "X"}}), "aX b");
  EXPECT_EQ(RunL("a {{ .x -}} b", {{"x", "X"}}), "a Xb");
  EXPECT_EQ(Render("a{{/* a comment */}}b"), "ab");
  EXPECT_EQ(Render("a  {{- /* trimmed */ -}}  b"), "ab");
  // "{{-3}}" is the number -3, not a trim marker.
  EXPECT_EQ(Render("{{-3}}"), "-3");
  EXPECT_EQ(Render("{{ 3 -}}  x"), "3x");
}

TEST(TemplateTest, Literals) {
  EXPECT_EQ(Render(R"({{ "tab\there" }})"), "tab\there");
  EXPECT_EQ(Render("{{ `raw\\n` }}"), "raw\\n");
  EXPECT_EQ(Render(R"({{ "\u00e9\x41\101" }})"),
            "\xc3\xa9"
            "AA");
  EXPECT_EQ(Render("{{ 'a' }}"), "97");
  EXPECT_EQ(Render("{{ 42 }} {{ -7 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }}"),
            "42 -7 31 15 5 1000");
  EXPECT_EQ(Render("{{ 1.5 }} {{ 1.0 }} {{ 1e3 }} {{ .5 }}"), "1.5 1 1000 0.5");
  EXPECT_EQ(Render("{{ true }} {{ false }}"), "true false");
  EXPECT_EQ(Render("{{ 1e6 }} {{ 100000.0 }} {{ 0.00001 }} {{ 0.0001 }} {{ 1234567.0 }}"),
            "1e+06 100000 1e-05 0.0001 1.234567e+06");
}

// ---- variables and control structures ----

TEST(TemplateTest, Variables) {
  EXPECT_EQ(RunL("{{ $x := .a }}[{{ $x }}]", {{"a", "1"}}), "[1]");
  EXPECT_EQ(Render("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}"), "21");
  EXPECT_EQ(Render("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}"), "2");
  EXPECT_EQ(Render("{{ $x := upper \"a\" }}{{ $y := printf \"%s%s\" $x $x }}{{ $y }}"), "AA");
  EXPECT_EQ(Render("{{ if $v := \"set\" }}{{ $v }}{{ end }}"), "set");
}

TEST(TemplateTest, IfElse) {
  const char* t =
      "{{ if eq .level \"error\" }}E{{ else if eq .level \"warn\" }}W{{ else }}O{{ end }}";
  EXPECT_EQ(RunL(t, {{"level", "error"}}), "E");
  EXPECT_EQ(RunL(t, {{"level", "warn"}}), "W");
  EXPECT_EQ(RunL(t, {{"level", "info"}}), "O");
  EXPECT_EQ(RunL("{{ if .a }}yes{{ end }}", {}), "");
  EXPECT_EQ(Render("{{ if 0 }}a{{ else }}b{{ end }}{{ if 0.0 }}a{{ else }}b{{ end }}"), "bb");
  EXPECT_EQ(Render("{{ if fromJson \"[]\" }}a{{ else }}b{{ end }}"), "b");
  EXPECT_EQ(Render("{{ if __timestamp__ }}a{{ end }}"), "a");
}

TEST(TemplateTest, With) {
  EXPECT_EQ(RunL("{{ with .a }}<{{ . }}>{{ end }}", {{"a", "x"}}), "<x>");
  EXPECT_EQ(RunL("{{ with .a }}<{{ . }}>{{ else }}none{{ end }}", {}), "none");
  EXPECT_EQ(RunL("{{ with .a }}a{{ else with .b }}{{ . }}{{ end }}", {{"b", "B"}}), "B");
  EXPECT_EQ(Render(R"({{ with fromJson "{\"a\":{\"b\":7}}" }}{{ .a.b }}{{ end }})"), "7");
}

TEST(TemplateTest, Range) {
  EXPECT_EQ(Render(R"({{ range fromJson "[1,\"b\",true]" }}[{{ . }}]{{ end }})"), "[1][b][true]");
  EXPECT_EQ(Render(R"({{ range $i, $e := fromJson "[\"a\",\"b\"]" }}{{ $i }}={{ $e }};{{ end }})"),
            "0=a;1=b;");
  EXPECT_EQ(
      Render(R"({{ range $k, $v := fromJson "{\"b\":2,\"a\":1}" }}{{ $k }}={{ $v }};{{ end }})"),
      "a=1;b=2;");
  EXPECT_EQ(Render(R"({{ range fromJson "[]" }}x{{ else }}empty{{ end }})"), "empty");
  EXPECT_EQ(Render(R"({{ range fromJson "bad json" }}x{{ else }}nil{{ end }})"), "nil");
  EXPECT_EQ(Render("{{ range 3 }}{{ . }}{{ end }}"), "012");
  EXPECT_EQ(Render("{{ range $i := 3 }}{{ $i }}{{ end }}"), "012");
  EXPECT_EQ(Render("{{ range $i, $j := 3 }}{{ end }}"),
            "ERR: template: line:1:19: executing \"line\" at <3>: can't use 3 to iterate over "
            "more than one variable");
  EXPECT_EQ(Render("{{ range 5 }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}"), "012");
  EXPECT_EQ(Render("{{ range 5 }}{{ if eq . 1 }}{{ continue }}{{ end }}{{ . }}{{ end }}"), "0234");
  EXPECT_ERR(Render("{{ range \"abc\" }}{{ end }}"), "range can't iterate over abc");
  EXPECT_ERR(Render("{{ range . }}{{ end }}"), "ranging over the label map (.) is not supported");
  // Loki's doc example: one query per line from a JSON array.
  EXPECT_EQ(RunL("{{ range $q := fromJson .queries }} {{ $q.query }} {{ end }}",
                 {{"queries", R"~([{"query":"up"},{"query":"rate(x[1m])"}])~"}}),
            " up  rate(x[1m]) ");
}

TEST(TemplateTest, DefineTemplateBlock) {
  EXPECT_EQ(RunL(R"({{ define "t" }}<{{ .a }}>{{ end }}{{ template "t" . }}{{ template "t" . }})",
                 {{"a", "1"}}),
            "<1><1>");
  EXPECT_EQ(Render(R"({{ block "b" "arg" }}[{{ . }}]{{ end }})"), "[arg]");
  EXPECT_EQ(Render(R"({{ template "nope" }})"),
            "ERR: template: line:1:3: executing \"line\" at <nope>: template \"nope\" not defined");
  EXPECT_ERR(Render(R"({{ define "r" }}{{ template "r" }}{{ end }}{{ template "r" }})"),
             "exceeded maximum template depth (100)");
  EXPECT_ERR(Render(R"({{ define "a" }}x{{ end }}{{ define "a" }}y{{ end }})"),
             "multiple definition of template \"a\"");
}

// ---- builtins ----

TEST(TemplateTest, Comparisons) {
  EXPECT_EQ(Render("{{ eq 1 1 }} {{ eq 1 2 }} {{ eq 1 2 3 1 }} {{ ne \"a\" \"b\" }}"),
            "true false true true");
  EXPECT_EQ(Render("{{ lt 1 2 }} {{ le 2 2 }} {{ gt 1 2 }} {{ ge 2 2 }} {{ lt \"a\" \"b\" }}"),
            "true true false true true");
  EXPECT_EQ(Render("{{ lt 1.5 2.5 }} {{ eq (add 1 1) 2 }}"), "true true");
  EXPECT_EQ(RunL("{{ eq .a 1 }}", {{"a", "1"}}),
            "ERR: template: line:1:3: executing \"line\" at <eq .a 1>: error calling eq: "
            "incompatible types for comparison");
  EXPECT_ERR(Render("{{ lt true false }}"), "error calling lt: invalid type for comparison");
  EXPECT_ERR(Render("{{ eq 1 }}"), "error calling eq: missing argument for comparison");
  EXPECT_ERR(Render("{{ eq }}"), "wrong number of args for eq: want at least 1 got 0");
  EXPECT_ERR(Render("{{ lt 1 }}"), "wrong number of args for lt: want 2 got 1");
  EXPECT_ERR(Render(R"({{ eq (fromJson "[1]") (fromJson "[1]") }})"), "non-comparable type");
  EXPECT_EQ(Render(R"({{ eq (fromJson "null") "x" }})"), "false");
}

TEST(TemplateTest, AndOrNot) {
  EXPECT_EQ(Render("{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 \"\" \"x\" }} {{ or 0 \"\" }}"),
            "0 2 x ");
  EXPECT_EQ(Render("{{ not 0 }} {{ not \"a\" }}"), "true false");
  // Short-circuit: the failing call is never made.
  EXPECT_EQ(Render("{{ or 1 (div 1 0) }} {{ and 0 (div 1 0) }}"), "1 0");
  EXPECT_EQ(Render("{{ 0 | and 1 }} {{ 5 | or 0 }}"), "0 5");
  EXPECT_EQ(Render(R"({{ if and (contains "he" "hello") (contains "llo" "hello") }} yes {{end}})"),
            " yes ");
}

TEST(TemplateTest, LenIndexSlice) {
  EXPECT_EQ(Render(R"({{ len "abc" }} {{ len (fromJson "[1,2]") }} {{ len (fromJson "{}") }})"),
            "3 2 0");
  EXPECT_EQ(Render(R"({{ index "abc" 1 }} {{ index (fromJson "[5,6]") 1 }})"), "98 6");
  EXPECT_EQ(Render(R"({{ index (fromJson "{\"a\":{\"b\":[1,\"x\"]}}") "a" "b" 1 }})"), "x");
  EXPECT_EQ(Render(R"({{ index (fromJson "{}") "missing" }})"), "<no value>");
  EXPECT_ERR(Render(R"({{ index (fromJson "[1]") 5 }})"),
             "error calling index: index out of range: 5");
  EXPECT_ERR(Render("{{ index 3 1 }}"), "error calling index: can't index item of type int");
  EXPECT_ERR(Render("{{ len 3 }}"), "error calling len: len of type int");
  EXPECT_EQ(
      Render(R"({{ slice "abcdef" 1 3 }}|{{ slice "abc" 1 }}|{{ slice (fromJson "[1,2,3]") 1 }})"),
      "bc|bc|[2 3]");
  EXPECT_ERR(Render(R"({{ slice "abc" 2 1 }})"), "invalid slice index: 2 > 1");
}

TEST(TemplateTest, PrintFunctions) {
  EXPECT_EQ(Render(R"({{ print 1 2 "a" 3 "b" "c" }})"), "1 2a3bc");
  EXPECT_EQ(Render(R"({{ println 1 "a" }})"), "1 a\n");
  EXPECT_EQ(Render(R"({{ printf "%s=%d" "a" 1 }})"), "a=1");
  EXPECT_EQ(Render(R"({{ html "<a href='x'>&\"" }})"), "&lt;a href=&#39;x&#39;&gt;&amp;&#34;");
  EXPECT_EQ(Render(R"({{ js "a'b\"<>&=\\" }})"), R"(a\'b\"\u003C\u003E\u0026\u003D\\)");
  EXPECT_EQ(Render(R"({{ urlquery "a b&c/d" }})"), "a+b%26c%2Fd");
  EXPECT_EQ(Render(R"({{ print (fromJson "{\"b\":[1,2.5,null],\"a\":\"x\"}") }})"),
            "map[a:x b:[1 2.5 <nil>]]");
  EXPECT_ERR(Render("{{ call 1 }}"), "error calling call: non-function of type int");
}

TEST(TemplateTest, Printf) {
  struct Case {
    const char* tmpl;
    const char* want;
  } cases[] = {
      {R"({{ printf "%3d|%-3d|%03d" 5 5 5 }})", "  5|5  |005"},
      {R"({{ printf "%+d % d %d" 5 5 -5 }})", "+5  5 -5"},
      {R"({{ printf "%x %X %#x %o %#o %O %b" 255 255 255 8 8 8 5 }})",
       "ff FF 0xff 10 010 0o10 101"},
      {R"({{ printf "%c %q %U %#U" 65 65 65 233 }})", "A 'A' U+0041 U+00E9 'é'"},
      {R"({{ printf "%.2f %5.1f %-6.2f| %08.3f %+.1f" 3.14159 2.25 1.5 3.14159 2.0 }})",
       "3.14   2.2 1.50  | 0003.142 +2.0"},
      {R"({{ printf "%05.1f" -2.5 }})", "-02.5"},
      {R"({{ printf "%e %E %.2e" 1234.5678 0.5 100.0 }})", "1.234568e+03 5.000000E-01 1.00e+02"},
      {R"({{ printf "%g %g %g %.3g %G" 0.000001 100000.0 1e21 1234.5678 1e-7 }})",
       "1e-06 100000 1e+21 1.23e+03 1E-07"},
      {R"({{ printf "%v %v %v %v" 1.5 3.0 true "s" }})", "1.5 3 true s"},
      {R"({{ printf "%s|%10s|%-10s|%.2s|%5.1s|" "abc" "abc" "abc" "abc" "abc" }})",
       "abc|       abc|abc       |ab|    a|"},
      {R"({{ printf "%-40.40s|" "/a/509965767/alternative-to-my-mtg.html" }})",
       "/a/509965767/alternative-to-my-mtg.html |"},
      {R"({{ printf "%q %+q %#q" "a\"b\n" "é" "raw" }})", R"("a\"b\n" "\u00e9" `raw`)"},
      {R"({{ printf "%x % x %X" "hi" "hi" "hi" }})", "6869 68 69 6869"},
      {R"({{ printf "%t %v" true false }})", "true false"},
      {R"({{ printf "%5t|%-6v|" true false }})", " true|false |"},
      {R"({{ printf "%s %d %f %t" 5 "x" 1 1 }})", "%!s(int=5) %!d(string=x) %!f(int=1) %!t(int=1)"},
      {R"({{ printf "%d" 3.5 }})", "%!d(float64=3.5)"},
      {R"({{ printf "%v %v" 1 }})", "1 %!v(MISSING)"},
      {R"({{ printf "%d" 1 2 "x" }})", "1%!(EXTRA int=2, string=x)"},
      {R"({{ printf "%z" 1 }})", "%!z(int=1)"},
      {R"({{ printf "100%%" }})", "100%"},
      {R"({{ printf "abc%" }})", "abc%!(NOVERB)"},
      {R"({{ printf "%*d|%-*d|%.*f" 4 1 3 2 2 3.14159 }})", "   1|2  |3.14"},
      {R"({{ printf "%[2]d %[1]d" 1 2 }})", "2 1"},
      {R"({{ printf "%[3]d" 1 2 }})", "%!d(BADINDEX)"},
      {R"({{ printf "%T %T %T %T %T" 1 1.5 "s" true (add 1 1) }})",
       "int float64 string bool int64"},
      {R"({{ printf "%v %s %d" nil nil nil }})", "<nil> %!s(<nil>) %!d(<nil>)"},
      // JSON numbers are float64, as in Go.
      {R"({{ printf "%v|%d" (fromJson "[1,2]") (fromJson "[1,2]") }})",
       "[1 2]|[%!d(float64=1) %!d(float64=2)]"},
      {R"({{ printf "%.3v" "abcdef" }})", "abc"},
      {R"({{ printf "%f %v" (float64 "inf") (float64 "-inf") }})", "+Inf -Inf"},
      {R"({{ printf "%.1f" (float64 "nan") }})", "NaN"},
  };
  for (const Case& c : cases) EXPECT_EQ(Render(c.tmpl), c.want) << c.tmpl;
  // Loki's doc example; labels are strings, so %3d reports the type mismatch as Go does.
  EXPECT_EQ(RunL(R"({{.status_code | printf "%3d"}})", {{"status_code", "200"}}),
            "%!d(string=200)");
  EXPECT_EQ(RunL(R"({{.status_code | int | printf "%5d"}})", {{"status_code", "200"}}), "  200");
  EXPECT_EQ(RunL(R"({{ printf "The IP address was %s" .remote_addr }})",
                 {{"remote_addr", "129.168.1.1"}}),
            "The IP address was 129.168.1.1");
  EXPECT_EQ(RunL(R"("|" {{printf "%15.15s" .ClientHost}} "|")", {{"ClientHost", "10.0.0.1"}}),
            "\"|\"        10.0.0.1 \"|\"");
}

// ---- Loki's functions ----

TEST(TemplateTest, LineAndTimestamp) {
  Input in{{}, "Hello World", 1500000000};  // 1.5s after the epoch
  EXPECT_EQ(Render("{{ __line__ | lower }}", in), "hello world");
  EXPECT_EQ(Render("{{ __timestamp__ }}", in), "1970-01-01 00:00:01.5 +0000 UTC");
  EXPECT_EQ(Render(R"({{ __timestamp__ | date "2006-01-02T15:04:05.00Z07:00" }})", in),
            "1970-01-01T00:00:01.50Z");
  EXPECT_EQ(Render(R"({{ __timestamp__ | date "2006-01-02T15:04:05" }})", in),
            "1970-01-01T00:00:01");
  EXPECT_EQ(Render("{{ __timestamp__ | unixEpoch }}", in), "1");
  EXPECT_EQ(
      Render("{{ __timestamp__ | unixEpochMillis }} {{ __timestamp__ | unixEpochNanos }}", in),
      "1500 1500000000");
}

TEST(TemplateTest, OldGoStringFunctions) {
  EXPECT_EQ(Render(R"({{ ToLower "AbC" }} {{ ToUpper "aBc" }})"), "abc ABC");
  EXPECT_EQ(Render(R"({{ Replace "aaaa" "a" "b" 2 }} {{ Replace "aaaa" "a" "b" -1 }})"),
            "bbaa bbbb");
  EXPECT_EQ(Render(R"({{ Replace "ab" "" "-" -1 }})"), "-a-b-");
  EXPECT_EQ(
      Render(R"({{ Trim "xxhixx" "x" }} {{ TrimLeft "xxhixx" "x" }} {{ TrimRight "xxhixx" "x" }})"),
      "hi hixx xxhi");
  EXPECT_EQ(Render(R"({{ TrimPrefix "prefix-x" "prefix-" }} {{ TrimSuffix "x.log" ".log" }})"),
            "x x");
  EXPECT_EQ(Render(R"({{ TrimSpace "  \t a b \n" }})"), "a b");
}

TEST(TemplateTest, SprigStringFunctions) {
  EXPECT_EQ(Render(R"({{ lower "HELLO" }} {{ upper "hello" }} {{ title "hello world-foo_bar" }})"),
            "hello HELLO Hello World-Foo_bar");
  EXPECT_EQ(Render(R"({{ upper "straße ÿ" }} {{ lower "ÀÉÎ ΑΒΓ АБВ" }})"), "STRAßE Ÿ àéî αβγ абв");
  EXPECT_EQ(
      Render(R"({{ trunc 5 "hello world" }}|{{ trunc -5 "hello world" }}|{{ trunc 50 "hi" }})"),
      "hello|world|hi");
  EXPECT_EQ(Render(R"({{ substr 0 5 "hello world" }}|{{ substr 6 11 "hello world" }})"),
            "hello|world");
  EXPECT_EQ(
      Render(R"({{ substr 2 -1 "hello" }}|{{ substr -1 2 "hello" }}|{{ substr 2 99 "hello" }})"),
      "llo|he|llo");
  EXPECT_EQ(Render(R"({{ substr 0 7 "hello" |}})"), "hello");  // a trailing | is accepted
  EXPECT_ERR(Render(R"({{ substr -1 7 "hello" }})"),
             "error calling substr: runtime error: slice bounds out of range [:7] with length 5");
  EXPECT_ERR(Render(R"({{ substr 3 2 "hello" }})"), "slice bounds out of range [3:2]");
  EXPECT_EQ(
      Render(
          R"({{ contains "ell" "hello" }} {{ hasPrefix "he" "hello" }} {{ hasSuffix "lo" "hello" }})"),
      "true true true");
  EXPECT_EQ(Render(R"({{ contains "x" "hello" }} {{ hasPrefix "lo" "hello" }})"), "false false");
  EXPECT_EQ(Render(R"({{ indent 2 "a\nb" }}|{{ nindent 2 "a\nb" }})"), "  a\n  b|\n  a\n  b");
  EXPECT_EQ(Render(R"({{ replace "hello" "world" "hello world" }})"), "world world");
  EXPECT_EQ(Render(R"({{ repeat 3 "hello" }})"), "hellohellohello");
  EXPECT_ERR(Render(R"({{ repeat -1 "x" }})"),
             "error calling repeat: strings: negative Repeat count");
  EXPECT_ERR(Render(R"({{ repeat 100000000 "x" }})"), "result exceeds");
  EXPECT_EQ(
      Render(
          R"({{ trim "   hello    " }}|{{ trimAll "$" "$5.00$" }}|{{ trimPrefix "-" "-hello" }}|{{ trimSuffix "-" "hello-" }})"),
      "hello|5.00|hello|hello");
  EXPECT_EQ(
      Render(
          R"({{ alignLeft 5 "hello world" }}|{{ alignLeft 5 "hi" }}|{{ alignRight 5 "hello world" }}|{{ alignRight 5 "hi" }}|)"),
      "hello|hi   |world|   hi|");
  EXPECT_EQ(Render(R"({{ alignLeft 2 "héllo" }}|{{ alignRight 2 "hé" }}|{{ alignLeft -1 "x" }})"),
            "hé|hé|x");
  EXPECT_EQ(RunL(R"({{ .path | replace " " "_" | trunc 5 | upper }})", {{"path", "a b c d e f"}}),
            "A_B_C");
}

TEST(TemplateTest, EncodingFunctions) {
  EXPECT_EQ(Render(R"({{ b64enc "hello" }} {{ b64enc "hi" }} {{ b64enc "" }})"), "aGVsbG8= aGk= ");
  EXPECT_EQ(Render(R"({{ b64dec "aGVsbG8=" }} {{ b64dec "aGk=" }})"), "hello hi");
  EXPECT_EQ(Render(R"({{ b64dec "!!" }})"), "illegal base64 data at input byte 0");
  EXPECT_EQ(Render(R"({{ urlencode "a b&c=d/é" }})"), "a+b%26c%3Dd%2F%C3%A9");
  EXPECT_EQ(Render(R"({{ urldecode "a+b%26c%3d" }})"), "a b&c=");
  EXPECT_EQ(Render(R"({{ urldecode "%zz" }})"),
            "ERR: template: line:1:3: executing \"line\" at <urldecode \"%zz\">: error calling "
            "urldecode: invalid URL escape \"%zz\"");
}

TEST(TemplateTest, RegexFunctions) {
  EXPECT_EQ(
      RunL(R"({{ regexReplaceAll "(a*)bc" .some_label "${1}a" }})", {{"some_label", "aaabc"}}),
      "aaaa");
  EXPECT_EQ(Render(R"({{ regexReplaceAll "a(x*)b" "-ab-axxb-" "${1}W" }})"), "-W-xxW-");
  EXPECT_EQ(Render(R"({{ regexReplaceAll "a(x*)b" "-ab-axxb-" "$1W" }})"), "---");
  EXPECT_EQ(Render(R"({{ regexReplaceAll "a(?P<x>x*)b" "-axb-" "[$x][$$]" }})"), "-[x][$]-");
  EXPECT_EQ(Render(R"({{ regexReplaceAll "x*" "abc" "-" }})"), "-a-b-c-");
  EXPECT_EQ(Render(R"~({{ regexReplaceAllLiteral "(ts=)" "ts=1" "timestamp=" }})~"), "timestamp=1");
  EXPECT_EQ(Render(R"({{ regexReplaceAllLiteral "a(x*)b" "-axb-" "$1" }})"), "-$1-");
  EXPECT_EQ(Render(R"({{ count "a|b" "abab" }} {{ count "o" "foo" }} {{ count "x*" "ab" }})"),
            "4 2 3");
  EXPECT_EQ(Render(R"({{ __line__ | count "XYZ" }})", Input{{}, "XYZ-XYZ", 0}), "2");
  // A bad regex is a runtime error (Loki keeps the line and sets __error__).
  EXPECT_ERR(Render(R"({{ regexReplaceAll "(a" "x" "y" }})"),
             "error calling regexReplaceAll: error parsing regexp: ");
  EXPECT_ERR(RunL(R"({{ count .re "x" }})", {{"re", "[z"}}),
             "error calling count: error parsing regexp");
}

TEST(TemplateTest, ConversionFunctions) {
  EXPECT_EQ(
      Render(
          R"({{ "1KB" | bytes }} {{ "1 KiB" | bytes }} {{ bytes "2.5MB" }} {{ bytes "1,024" }})"),
      "1000 1024 2.5e+06 1024");
  EXPECT_ERR(Render(R"({{ bytes "12 parsecs" }})"),
             "error calling bytes: unhandled size name: parsecs");
  EXPECT_ERR(Render(R"({{ bytes "abc" }})"),
             "error calling bytes: strconv.ParseFloat: parsing \"\": invalid syntax");
  EXPECT_EQ(
      Render(
          R"({{ "1m30s" | duration }} {{ duration_seconds "1.5h" }} {{ duration "500ms" }} {{ duration "-1us" }})"),
      "90 5400 0.5 -1e-06");
  EXPECT_ERR(Render(R"({{ duration "1d" }})"),
             "error calling duration: time: unknown unit \"d\" in duration \"1d\"");
  EXPECT_ERR(Render(R"({{ duration "10" }})"), "time: missing unit in duration \"10\"");
  EXPECT_EQ(
      Render(
          R"({{ "3" | int }} {{ "3.00" | int }} {{ "3.5" | int }} {{ "0x10" | int }} {{ 3.9 | int }} {{ "x" | int }})"),
      "3 3 0 16 3 0");
  EXPECT_EQ(Render(R"({{ "3.5" | float64 }} {{ "x" | float64 }} {{ 2 | float64 }})"), "3.5 0 2");
  EXPECT_EQ(
      Render(
          R"({{ default "-" "" }} {{ default "-" "foo" }} {{ default "d" 0 }} {{ default "d" }})"),
      "- foo d d");
  EXPECT_EQ(RunL(R"({{ .foo | default "x" }}|{{ .bar | default "x" }})", {{"bar", "b"}}), "x|b");
  EXPECT_EQ(Render(R"({{ fromJson "{\"foo\": 55}" }})"), "map[foo:55]");
  EXPECT_EQ(Render(R"({{ fromJson "not json" }})"), "<no value>");
  EXPECT_EQ(Render(R"({{ (fromJson "{\"a\":{\"b\":\"c\"}}").a.b }})"), "c");
  EXPECT_EQ(Render(R"({{ (fromJson "{\"s\":\"\u00e9\\u00e9\\ud83d\\ude00\"}").s }})"),
            "\xc3\xa9\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_ERR(Render(R"({{ (fromJson "{}").a.b }})"), "nil pointer evaluating interface {}.b");
}

TEST(TemplateTest, MathFunctions) {
  EXPECT_EQ(
      Render(
          "{{ add 3 2 5 }} {{ add }} {{ sub 5 2 }} {{ mul 5 2 3 }} {{ div 10 2 }} {{ mod 10 3 }}"),
      "10 0 3 30 5 1");
  EXPECT_EQ(
      Render("{{ addf 3.5 2 5 }} {{ subf 5.5 2 1.5 }} {{ mulf 5.5 2 2.5 }} {{ divf 10 2 4 }}"),
      "10.5 2 27.5 1.25");
  // sprig computes with decimals: no binary floating-point residue.
  EXPECT_EQ(Render("{{ addf 0.1 0.2 }} {{ mulf 1.1 1.1 }} {{ divf 1 3 }} {{ subf 0.3 0.1 }}"),
            "0.3 1.21 0.3333333333333333 0.2");
  EXPECT_EQ(Render("{{ max 1 2 3 }} {{ min 1 2 3 }} {{ maxf 1 2.5 3 }} {{ minf 1 2.5 3 }} {{ minf "
                   "1.5 2.5 }}"),
            "3 1 3 1 1.5");
  EXPECT_EQ(Render("{{ ceil 123.001 }} {{ floor 123.9999 }} {{ ceil \"1.2\" }}"), "124 123 2");
  EXPECT_EQ(Render("{{ round 123.555555 3 }} {{ round 123.88571428571 5 .2 }} {{ round "
                   "123.88571428571 5 }}"),
            "123.556 123.88572 123.88571");
  EXPECT_EQ(RunL("{{ add .a .b }} {{ sub .a .b }}", {{"a", "40"}, {"b", "2"}}), "42 38");
  EXPECT_EQ(Render("{{ div 10 0 }}"),
            "ERR: template: line:1:3: executing \"line\" at <div 10 0>: error calling div: runtime "
            "error: integer divide by zero");
  EXPECT_ERR(Render("{{ mod 10 0 }}"), "integer divide by zero");
  EXPECT_ERR(Render("{{ divf 1 0 }}"), "error calling divf: decimal division by 0");
  EXPECT_EQ(Render("{{ div -9223372036854775808 -1 }}"), "-9223372036854775808");
}

TEST(TemplateTest, DateFunctions) {
  EXPECT_EQ(Render(R"({{ date "2006-01-02" now }})"), "2021-11-02");
  EXPECT_EQ(Render("{{ now }}"), "2021-11-02 10:20:30.5 +0000 UTC");
  EXPECT_EQ(Render("{{ unixEpoch now }} {{ unixEpochMillis now }} {{ unixEpochNanos now }}"),
            "1635848430 1635848430500 1635848430500000000");
  EXPECT_EQ(Render(R"({{ toDate "2006-01-02" "2021-11-02" }})"), "2021-11-02 00:00:00 +0000 UTC");
  EXPECT_EQ(RunL(R"({{ .foo | toDate "2006-01-02T15:04:05.999999999Z" }})",
                 {{"foo", "2021-11-02T10:20:30.123Z"}}),
            "2021-11-02 10:20:30.123 +0000 UTC");
  // A value that does not parse gives Go's zero time.
  EXPECT_EQ(Render(R"({{ toDate "2006-01-02" "junk" }})"), "0001-01-01 00:00:00 +0000 UTC");
  EXPECT_EQ(Render(R"({{ toDate "2006-01-02" "junk" | unixEpoch }})"), "-62135596800");
  EXPECT_EQ(Render(R"({{ toDateInZone "2006-01-02" "UTC" "2021-11-02" }})"),
            "2021-11-02 00:00:00 +0000 UTC");
  EXPECT_EQ(Render(R"({{ toDateInZone "2006-01-02 15:04" "Europe/Berlin" "2021-07-02 12:00" }})"),
            "2021-07-02 12:00:00 +0200 CEST");
  EXPECT_EQ(
      Render(
          R"({{ toDateInZone "2006-01-02 15:04" "Europe/Berlin" "2021-01-02 12:00" | unixEpoch }})"),
      "1609585200");
  EXPECT_EQ(Render(R"({{ toDateInZone "2006-01-02" "Not/AZone" "2021-11-02" | unixEpoch }})"),
            "1635811200");
  EXPECT_EQ(
      RunL(R"({{ .foo | toDateInZone "2006-01-02T15:04:05.999999999Z" "UTC" | unixEpochNanos }})",
           {{"foo", "2021-11-02T10:20:30.5Z"}}),
      "1635848430500000000");
  // Loki's doc example: date of a Unix-seconds field.
  EXPECT_EQ(RunL(R"(from="{{date "2006-01-02" (unixToTime .from)}}")", {{"from", "1679577215"}}),
            "from=\"2023-03-23\"");
  EXPECT_EQ(
      Render(
          R"({{ unixToTime "19373" | date "2006-01-02" }} {{ unixToTime "1673798889902" | unixEpochMillis }} {{ unixToTime "1673798889902000" | unixEpochNanos }} {{ unixToTime "1673798889902000001" | unixEpochNanos }})"),
      "2023-01-16 1673798889902 1673798889902000000 1673798889902000001");
  EXPECT_ERR(Render(R"({{ unixToTime "123" }})"), "unable to parse time '123': %!w(<nil>)");
  EXPECT_ERR(Render(R"({{ unixToTime "abc" }})"),
             "unable to parse time 'abc': strconv.ParseInt: parsing \"abc\": invalid syntax");
  EXPECT_EQ(Render(R"({{ date "2006-01-02 15:04" 86400 }})"), "1970-01-02 00:00");
  // sprig formats the current time for anything that is not a time or an integer.
  EXPECT_EQ(Render(R"({{ date "2006" "2019-01-01" }})"), "2021");
  // Loki's doc example of comparing dates through label_format.
  EXPECT_EQ(
      RunL(R"({{unixEpoch (toDate "2006-01-02" .createDate)}})", {{"createDate", "2021-11-01"}}),
      "1635724800");
  EXPECT_EQ(RunL("{{sub .nowEpoch .createDateEpoch}}",
                 {{"nowEpoch", "1635848430"}, {"createDateEpoch", "1635724800"}}),
            "123630");
}

TEST(TemplateTest, DocExamples) {
  // From Loki's template_functions.md.
  EXPECT_EQ(Render(R"({{ if or (contains "he" "hello") (contains "llo" "hello") }} yes {{end}})"),
            " yes ");
  const char* t =
      R"({{ if contains .err "ErrTimeout" }} timeout {{else if contains "he" "hello"}} yes {{else}} no {{end}})";
  EXPECT_EQ(RunL(t, {{"err", "ErrTimeoutX"}}), " yes ");
  EXPECT_EQ(
      RunL(R"({{ if contains "ErrTimeout" .err }} timeout {{end}})", {{"err", "xErrTimeout"}}),
      " timeout ");
  EXPECT_EQ(Render(R"({{ if eq "hello" "hello" }} yes {{end}})"), " yes ");
  EXPECT_EQ(RunL(R"({{ if hasSuffix .err "Timeout" }} timeout {{end}})", {{"err", "out"}}),
            " timeout ");
  EXPECT_EQ(RunL(R"({{ .cluster | replace "-cluster" "" }})", {{"cluster", "prod-cluster"}}),
            "prod");
  EXPECT_EQ(RunL(R"({{ .path | trimAll "/" }})", {{"path", "/a/b/"}}), "a/b");
  EXPECT_EQ(RunL("{{ .request_method | title }}", {{"request_method", "get"}}), "Get");
  EXPECT_EQ(RunL("{{.http_request_headers_x_forwarded_for | default \"-\"}}", {}), "-");
}

// ---- type checking as Go does it ----

TEST(TemplateTest, ArgumentTypes) {
  EXPECT_EQ(Render(R"({{ repeat (add 1 2) "x" }})"),
            "ERR: template: line:1:10: executing \"line\" at <(add 1 2)>: wrong type for value; "
            "expected int; got int64");
  EXPECT_ERR(Render("{{ 3 | upper }}"), "wrong type for value; expected string; got int");
  EXPECT_ERR(Render("{{ upper 3 }}"), "expected string; found 3");
  EXPECT_ERR(Render(R"({{ repeat "3" "x" }})"), "expected integer; found \"3\"");
  EXPECT_ERR(Render(R"({{ repeat 1.5 "x" }})"), "expected integer; found 1.5");
  EXPECT_EQ(Render(R"({{ repeat 2.0 "x" }})"), "xx");
  EXPECT_ERR(Render("{{ upper nil }}"), "cannot assign nil to string");
  EXPECT_ERR(Render("{{ unixEpoch 5 }}"), "can't handle 5 for arg of type time.Time");
  EXPECT_ERR(Render("{{ unixEpoch \"x\" | print }}"),
             "can't handle \"x\" for arg of type time.Time");
  EXPECT_ERR(RunL("{{ .a.b }}", {{"a", "x"}}), "can't evaluate field b in type string");
  EXPECT_ERR(RunL("{{ .a 1 }}", {}), "a is not a method but has arguments");
  EXPECT_ERR(Render("{{ \"x\" 1 }}"), "can't give argument to non-function \"x\"");
  EXPECT_ERR(Render("{{ nil }}"), "nil is not a command");
  EXPECT_ERR(Render("{{ upper (fromJson \"null\") }}"), "invalid value; expected string");
  EXPECT_ERR(Render("{{ . }}"), "printing the label map (.) is not supported");
  EXPECT_ERR(Render("{{ len . }}"), "len of the label map (.) is not supported");
  EXPECT_ERR(Render("{{ upper }}"), "wrong number of args for upper: want 1 got 0");
  EXPECT_ERR(Render("{{ \"a\" | upper \"b\" }}"), "wrong number of args for upper: want 1 got 2");
  EXPECT_EQ(Render("{{ 99999999999999999999.5 | printf \"%d\" }}"), "%!d(float64=1e+20)");
}

// ---- parse errors ----

TEST(TemplateTest, ParseErrors) {
  struct Case {
    const char* tmpl;
    const char* want;
  } cases[] = {
      {"{{ foo }}", "template: line:1: function \"foo\" not defined"},
      {"{{ .a ", "template: line:1: unclosed action"},
      {"{{ if .a }}x", "template: line:1: unexpected EOF"},
      {"{{ end }}", "template: line:1: unexpected {{end}}"},
      {"{{ else }}", "template: line:1: unexpected {{else}}"},
      {"{{ $x }}", "template: line:1: undefined variable \"$x\""},
      {"{{ \"abc }}", "template: line:1: unterminated quoted string"},
      {"{{ `abc }}", "template: line:1: unterminated raw quoted string"},
      {"{{ 'ab' }}", "template: line:1: malformed character constant: 'ab'"},
      {"{{ 1x }}", "template: line:1: bad number syntax: \"1x\""},
      {"{{ 99999999999999999999 }}",
       "template: line:1: integer overflow: \"99999999999999999999\""},
      {"{{}}", "template: line:1: missing value for command"},
      {"{{ .a | 1 }}", "template: line:1: non executable command in pipeline stage 2"},
      {"{{ break }}", "template: line:1: {{break}} outside {{range}}"},
      {"{{ continue }}", "template: line:1: {{continue}} outside {{range}}"},
      {"{{/* x }}", "template: line:1: unclosed comment"},
      {"{{/* x */ .a }}", "template: line:1: comment ends before closing delimiter"},
      {"{{ (.a }}", "template: line:1: unclosed left paren"},
      {"{{ .a) }}", "template: line:1: unexpected right paren"},
      {"{{ # }}", "template: line:1: unexpected \"#\" in command"},
      {"{{ \"\\q\" }}", "template: line:1: invalid syntax"},
      {"{{ if }}{{ end }}", "template: line:1: missing value for if"},
      {"{{ \"a\".b }}", "template: line:1: unexpected . after term \"\\\"a\\\"\""},
      {"{{ range $a, $b, $c := 1 }}{{ end }}", "template: line:1: too many declarations in range"},
      {"{{ if 1 }}{{ else }}{{ else }}{{ end }}", "template: line:1: expected end; found {{else}}"},
      {"a\nb\n{{ foo }}", "template: line:3: function \"foo\" not defined"},
      {"{{ a:b }}", "template: line:1: function \"a\" not defined"},
      {"{{ .a:b }}", "template: line:1: expected :="},
      {"{{ \x01 }}", "template: line:1: unrecognized character in action: U+0001"},
      {"{{ .a\x01 }}", "template: line:1: bad character U+0001"},
  };
  for (const Case& c : cases) {
    auto t = Template::Compile(c.tmpl);
    ASSERT_FALSE(t.ok()) << c.tmpl;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message(), c.want) << c.tmpl;
  }
  auto t = Template::Compile("{{ foo }}", "label");
  EXPECT_EQ(t.status().message(), "template: label:1: function \"foo\" not defined");
}

TEST(TemplateTest, NestingIsBounded) {
  std::string deep_parens;
  for (int i = 0; i < 500; ++i) deep_parens += "(";
  deep_parens = "{{ " + deep_parens + "1" + std::string(500, ')') + " }}";
  EXPECT_ERR(Render(deep_parens), "max expression depth exceeded");

  std::string deep_ifs;
  for (int i = 0; i < 500; ++i) deep_ifs += "{{ if 1 }}";
  for (int i = 0; i < 500; ++i) deep_ifs += "{{ end }}";
  EXPECT_ERR(Render(deep_ifs), "max expression depth exceeded");

  // A recursive template that nests deeply in each call: bounded across calls too.
  std::string body;
  for (int i = 0; i < 90; ++i) body += "{{ if 1 }}";
  body += "{{ template \"r\" }}";
  for (int i = 0; i < 90; ++i) body += "{{ end }}";
  EXPECT_ERR(Render("{{ define \"r\" }}" + body + "{{ end }}{{ template \"r\" }}"),
             "exceeded maximum nesting depth (300)");

  std::string ok_ifs;
  for (int i = 0; i < 50; ++i) ok_ifs += "{{ if 1 }}";
  ok_ifs += "x";
  for (int i = 0; i < 50; ++i) ok_ifs += "{{ end }}";
  EXPECT_EQ(Render(ok_ifs), "x");
}

TEST(TemplateTest, ExecutionIsBounded) {
  EXPECT_ERR(Render("{{ range 1000000000 }}{{ end }}"), "template execution exceeded");
  EXPECT_ERR(Render(R"({{ range 100 }}{{ repeat 1000000 "x" }}{{ end }})"),
             "template output exceeds");
}

TEST(TemplateTest, ReferencedLabels) {
  auto t = Template::Compile(
      R"({{ .a }}{{ if eq .b "x" }}{{ .c | upper }}{{ else }}{{ (.d) }}{{ end }}{{ .a }}{{ index . "e" }}{{ $x := .f.g }})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ReferencedLabels(), (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
  auto none = Template::Compile("{{ __line__ }} text");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->ReferencedLabels().empty());
}

TEST(TemplateTest, TemplateIsCopyableAndShared) {
  auto t = Template::Compile("{{ .a | upper }}");
  ASSERT_TRUE(t.ok());
  Template copy = *t;
  EXPECT_EQ(copy.source(), "{{ .a | upper }}");
  Context ctx;
  ctx.label = [](std::string_view) { return std::optional<std::string_view>("v"); };
  std::string out;
  ASSERT_TRUE(copy.Execute(ctx, &out).ok());
  EXPECT_EQ(out, "V");
}

// Random templates built from template fragments: compiling and executing must never crash,
// hang or grow without bound, whatever the input.
TEST(TemplateTest, FuzzNoCrash) {
  static const char* kPieces[] = {
      "{{",
      "}}",
      "{{-",
      "-}}",
      " ",
      "(",
      ")",
      "|",
      ".a",
      ".b.c",
      "$",
      "$x",
      ":=",
      "=",
      "\"s\"",
      "`r`",
      "'c'",
      "1",
      "-2",
      "3.5",
      "0x1",
      "1e3",
      "true",
      "nil",
      ".",
      "if",
      "else",
      "end",
      "range",
      "with",
      "break",
      "continue",
      "define",
      "template",
      "block",
      "\"t\"",
      ",",
      "/*",
      "*/",
      "eq",
      "lt",
      "and",
      "or",
      "not",
      "len",
      "index",
      "slice",
      "printf",
      "\"%d%s%v\"",
      "print",
      "upper",
      "trunc",
      "substr",
      "repeat",
      "add",
      "div",
      "divf",
      "round",
      "fromJson",
      "\"[1,{\\\"a\\\":2}]\"",
      "date",
      "toDate",
      "now",
      "__line__",
      "__timestamp__",
      "default",
      "regexReplaceAll",
      "\"(a*)\"",
      "count",
      "b64dec",
      "urldecode",
      "duration",
      "bytes",
      "alignLeft",
      "unixToTime",
      "toDateInZone",
      "\"Europe/Paris\"",
      "x",
      "\n",
      "\xff",
      "é",
  };
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> pick(0, std::size(kPieces) - 1);
  std::uniform_int_distribution<int> len(1, 30);
  Input in{{{"a", "alpha"}, {"b", "[1,2]"}}, "a line", 1635848430500000000};
  int compiled = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text;
    int n = len(rng);
    for (int k = 0; k < n; ++k) text += kPieces[pick(rng)];
    std::string got = Render(text, in);
    if (got.rfind("ERR: template: line:", 0) != 0 || got.find("executing") != std::string::npos) {
      ++compiled;
    }
  }
  EXPECT_GT(compiled, 100);  // the fuzzer reaches execution, not only the parser
  // Random bytes, too.
  std::uniform_int_distribution<int> byte(0, 255);
  for (int iter = 0; iter < 5000; ++iter) {
    std::string text = "{{ ";
    int n = len(rng);
    for (int k = 0; k < n; ++k) text.push_back(static_cast<char>(byte(rng)));
    Render(text, in);
  }
}

}  // namespace
}  // namespace sluice::gotemplate
