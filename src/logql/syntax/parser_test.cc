#include "logql/syntax/parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "logql/syntax/printer.h"

namespace sluice::logql::syntax {
namespace {

struct ValidCase {
  const char* in;
  const char* want;  // canonical print
};

// Queries from Loki's LogQL documentation and parser tests, with their canonical form.
const ValidCase kValid[] = {
    // Stream selectors.
    {R"q({app="foo"})q", R"q({app="foo"})q"},
    {R"q({ foo = "bar" })q", R"q({foo="bar"})q"},
    {R"q({ namespace="buzz", foo != "bar" })q", R"q({namespace="buzz", foo!="bar"})q"},
    {R"q({ foo =~ "bar" })q", R"q({foo=~"bar"})q"},
    {R"q({ namespace="buzz", foo !~ "bar" })q", R"q({namespace="buzz", foo!~"bar"})q"},
    {R"q({app="foo", env=~"prod|staging", team!="x", tier!~"dev.*"})q",
     R"q({app="foo", env=~"prod|staging", team!="x", tier!~"dev.*"})q"},
    {R"q({app="#"})q", R"q({app="#"})q"},
    {R"q({app=`raw\w+`})q", R"q({app="raw\\w+"})q"},
    {R"q({app="foo"} # |= "bar" | json)q", R"q({app="foo"})q"},
    {"{app=\"foo\"}\n   # |= \"bar\"\n   | json", R"q({app="foo"} | json)q"},
    {R"q(({app="foo"} |= "x"))q", R"q({app="foo"} |= "x")q"},
    // Line filters.
    {R"q({app="foo"} |= "bar")q", R"q({app="foo"} |= "bar")q"},
    {R"q({app="foo"} != "bar")q", R"q({app="foo"} != "bar")q"},
    {R"q({app="foo"} |~ "ba[rz]")q", R"q({app="foo"} |~ "ba[rz]")q"},
    {R"q({app="foo"} !~ "ba[rz]")q", R"q({app="foo"} !~ "ba[rz]")q"},
    {R"q({app="foo"} |> "<_> error <_>")q", R"q({app="foo"} |> "<_> error <_>")q"},
    {R"q({app="foo"} !> "<_> debug <_>")q", R"q({app="foo"} !> "<_> debug <_>")q"},
    {R"q({app="foo"} |= "a" or "b" or "c")q", R"q({app="foo"} |= "a" or "b" or "c")q"},
    {R"q({app="foo"} != "a" or "b")q", R"q({app="foo"} != "a" != "b")q"},
    {R"q({app="foo"} |~ "a" or "b" |= "c")q", R"q({app="foo"} |~ "a" or "b" |= "c")q"},
    {R"q({foo="bar"} |= "baz" |= ip("123.123.123.123"))q",
     R"q({foo="bar"} |= "baz" |= ip("123.123.123.123"))q"},
    {R"q({foo="bar"} != ip("123.123.123.123") |= "baz")q",
     R"q({foo="bar"} != ip("123.123.123.123") |= "baz")q"},
    {R"q({job_name="myapp"} != ip("192.168.4.5-192.168.4.20"))q",
     R"q({job_name="myapp"} != ip("192.168.4.5-192.168.4.20"))q"},
    // Parsers and formatters.
    {R"q({app="foo"} | json)q", R"q({app="foo"} | json)q"},
    {R"q({app="foo"} | json a="x.y", b)q", R"q({app="foo"} | json a="x.y",b="b")q"},
    {R"q({app="foo"} | json bob="top.sub[\"index\"]")q",
     R"q({app="foo"} | json bob="top.sub[\"index\"]")q"},
    {R"q({app="foo"} | json response_code="response.code", api_key="request.headers[\"X-API-KEY\"]")q",
     R"q({app="foo"} | json response_code="response.code",api_key="request.headers[\"X-API-KEY\"]")q"},
    {R"q({app="foo"} | logfmt)q", R"q({app="foo"} | logfmt)q"},
    {R"q({app="foo"} | logfmt --strict)q", R"q({app="foo"} | logfmt --strict)q"},
    {R"q({app="foo"} | logfmt --keep-empty --strict)q",
     R"q({app="foo"} | logfmt --strict --keep-empty)q"},
    {R"q({app="foo"} | logfmt --keep-empty a="b", c)q",
     R"q({app="foo"} | logfmt --keep-empty a="b",c="c")q"},
    {R"q({app="foo"} | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+)")q",
     R"q({app="foo"} | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+)")q"},
    {R"q({app="foo"} | pattern "<ip> - - <_> \"<method> <uri> <_>\" <status> <size>")q",
     R"q({app="foo"} | pattern "<ip> - - <_> \"<method> <uri> <_>\" <status> <size>")q"},
    {R"q({app="foo"} | unpack)q", R"q({app="foo"} | unpack)q"},
    {R"q({app="foo"} | decolorize)q", R"q({app="foo"} | decolorize)q"},
    {R"q({app="foo"} | line_format "{{.msg}}")q", R"q({app="foo"} | line_format "{{.msg}}")q"},
    {R"q({app="foo"} | label_format foo=bar, status_code="buzz{{.bar}}")q",
     R"q({app="foo"} | label_format foo=bar,status_code="buzz{{.bar}}")q"},
    {R"q({app="foo"} | drop a, b="v", c=~"x.*")q", R"q({app="foo"} | drop a,b="v",c=~"x.*")q"},
    {R"q({app="foo"} | keep a, b!="v")q", R"q({app="foo"} | keep a,b!="v")q"},
    // Label filters.
    {R"q({app="foo"} | json | level="error")q", R"q({app="foo"} | json | level="error")q"},
    {R"q({app="foo"} | logfmt | __error__="")q", R"q({app="foo"} | logfmt | __error__="")q"},
    {R"q({app="foo"} | logfmt | status >= 500)q", R"q({app="foo"} | logfmt | status>=500)q"},
    {R"q({app="foo"} | logfmt | status == 500)q", R"q({app="foo"} | logfmt | status==500)q"},
    {R"q({app="foo"} | logfmt | status = 500)q", R"q({app="foo"} | logfmt | status==500)q"},
    {R"q({app="foo"} | logfmt | status != -1.5)q", R"q({app="foo"} | logfmt | status!=-1.5)q"},
    {R"q({app="foo"} | logfmt | status < +2)q", R"q({app="foo"} | logfmt | status<2)q"},
    {R"q({app="foo"} | logfmt | latency > 250ms)q", R"q({app="foo"} | logfmt | latency>250ms)q"},
    {R"q({app="foo"} | logfmt | latency <= 1m30s)q", R"q({app="foo"} | logfmt | latency<=1m30s)q"},
    {R"q({app="foo"} | logfmt | latency == 1h)q", R"q({app="foo"} | logfmt | latency==1h0m0s)q"},
    {R"q({app="foo"} | logfmt | size > 20MB)q", R"q({app="foo"} | logfmt | size>20MB)q"},
    {R"q({app="foo"} | logfmt | size < 1KiB)q", R"q({app="foo"} | logfmt | size<1KiB)q"},
    {R"q({app="foo"} | logfmt | size == 1500B)q", R"q({app="foo"} | logfmt | size==1500B)q"},
    {R"q({app="foo"} | logfmt | size >= 1.5kB)q", R"q({app="foo"} | logfmt | size>=1500B)q"},
    {R"q({app="foo"} | logfmt | addr = ip("192.168.4.5/16"))q",
     R"q({app="foo"} | logfmt | addr=ip("192.168.4.5/16"))q"},
    {R"q({app="foo"} | logfmt | addr != ip("192.168.4.2"))q",
     R"q({app="foo"} | logfmt | addr!=ip("192.168.4.2"))q"},
    {R"q({app="foo"} | logfmt | a="1" and b="2")q",
     R"q({app="foo"} | logfmt | ( a="1" , b="2" ))q"},
    {R"q({app="foo"} | logfmt | a="1" or b="2")q",
     R"q({app="foo"} | logfmt | ( a="1" or b="2" ))q"},
    {R"q({app="foo"} | logfmt | a="1", b="2")q", R"q({app="foo"} | logfmt | ( a="1" , b="2" ))q"},
    {R"q({app="foo"} | logfmt | a="1" b="2")q", R"q({app="foo"} | logfmt | ( a="1" , b="2" ))q"},
    {R"q({app="foo"} | logfmt | a="1" or b="2" and c="3")q",
     R"q({app="foo"} | logfmt | ( a="1" or ( b="2" , c="3" ) ))q"},
    {R"q({app="foo"} | logfmt | a="1" and b="2" or c="3")q",
     R"q({app="foo"} | logfmt | ( ( a="1" , b="2" ) or c="3" ))q"},
    {R"q({app="foo"} | logfmt | a="1" , b="2" or c="3")q",
     R"q({app="foo"} | logfmt | ( a="1" , ( b="2" or c="3" ) ))q"},
    {R"q({app="foo"} | logfmt | a="1" or b="2" , c="3")q",
     R"q({app="foo"} | logfmt | ( a="1" or ( b="2" , c="3" ) ))q"},
    {R"q({app="foo"} | logfmt | (a="1" or b="2") and c="3")q",
     R"q({app="foo"} | logfmt | ( ( a="1" or b="2" ) , c="3" ))q"},
    {R"q({app="foo"} |= "bar" | json | latency >= 250ms or ( status_code < 500 and status_code > 200))q",
     R"q({app="foo"} |= "bar" | json | ( latency>=250ms or ( status_code<500 , status_code>200 ) ))q"},
    {R"q({ foo = "bar" }|logfmt|rate="a")q", R"q({foo="bar"} | logfmt | rate="a")q"},
    {R"q({ foo = "bar" , ip="foo"}|logfmt|= ip("127.0.0.1")|ip="2.3.4.5"|ip="abc"|ipaddr=ip("4.5.6.7")|ip=ip("6.7.8.9"))q",
     R"q({foo="bar", ip="foo"} | logfmt |= ip("127.0.0.1") | ip="2.3.4.5" | ip="abc" | ipaddr=ip("4.5.6.7") | ip=ip("6.7.8.9"))q"},
    {R"q({job="cortex-ops/query-frontend"} |= "logging.go" | logfmt | line_format "{{.msg}}" | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+) \\((?P<status>\\d+?)\\) (?P<duration>.*)" | (duration > 1s or status==200) and method="POST" | line_format "{{.duration}}|{{.method}}|{{.status}}")q",
     R"q({job="cortex-ops/query-frontend"} |= "logging.go" | logfmt | line_format "{{.msg}}" | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+) \\((?P<status>\\d+?)\\) (?P<duration>.*)" | ( ( duration>1s or status==200 ) , method="POST" ) | line_format "{{.duration}}|{{.method}}|{{.status}}")q"},
    {R"q({cluster="ops-tools1", namespace="loki-dev", job="loki-dev/query-frontend"} |= "metrics.go" != "out of order" | logfmt | duration > 30s or status_code != "200")q",
     R"q({cluster="ops-tools1", namespace="loki-dev", job="loki-dev/query-frontend"} |= "metrics.go" != "out of order" | logfmt | ( duration>30s or status_code!="200" ))q"},
    {R"q({cluster="ops-tools1", name="querier", namespace="loki-dev"} |= "metrics.go" != "loki-canary" | logfmt | query != "" | label_format query="{{ Replace .query \"\\n\" \"\" -1 }}" | line_format "{{ .ts}}\t{{.duration}}\ttraceID = {{.traceID}}\t{{ printf \"%-100.100s\" .query }} ")q",
     R"q({cluster="ops-tools1", name="querier", namespace="loki-dev"} |= "metrics.go" != "loki-canary" | logfmt | query!="" | label_format query="{{ Replace .query \"\\n\" \"\" -1 }}" | line_format "{{ .ts}}\t{{.duration}}\ttraceID = {{.traceID}}\t{{ printf \"%-100.100s\" .query }} ")q"},
    {R"q({job="security"} |~ "Invalid user.*" | regexp "(^(?P<user>\\S+ {1,2}){8})" | regexp "(^(?P<ip>\\S+ {1,2}){10})" | line_format "IP = {{.ip}}\tUSER = {{.user}}")q",
     R"q({job="security"} |~ "Invalid user.*" | regexp "(^(?P<user>\\S+ {1,2}){8})" | regexp "(^(?P<ip>\\S+ {1,2}){10})" | line_format "IP = {{.ip}}\tUSER = {{.user}}")q"},
    // Log range aggregations.
    {R"q(count_over_time({job="mysql"}[5m]))q", R"q(count_over_time({job="mysql"}[5m]))q"},
    {R"q(bytes_over_time({ foo = "bar" }[12m]))q", R"q(bytes_over_time({foo="bar"}[12m]))q"},
    {R"q(bytes_rate({ foo = "bar" }[12m]))q", R"q(bytes_rate({foo="bar"}[12m]))q"},
    {R"q(rate({ foo = "bar" }[5h]))q", R"q(rate({foo="bar"}[5h]))q"},
    {R"q(rate({ foo = "bar" }[5d]))q", R"q(rate({foo="bar"}[5d]))q"},
    {R"q(rate({ foo = "bar" }[90s]))q", R"q(rate({foo="bar"}[1m30s]))q"},
    {R"q(count_over_time({ foo = "bar" }[1w]))q", R"q(count_over_time({foo="bar"}[1w]))q"},
    {R"q(absent_over_time({ foo = "bar" }[1w]))q", R"q(absent_over_time({foo="bar"}[1w]))q"},
    {R"q(sum(rate({ foo ="bar" }[1y])))q", R"q(sum(rate({foo="bar"}[1y])))q"},
    {R"q(count_over_time({foo=~`bar\w+`}[12h] |~ `error\\`))q",
     R"q(count_over_time({foo=~"bar\\w+"} |~ "error\\\\"[12h]))q"},
    {R"q(count_over_time({foo="bar"}[12h] |= "error"))q",
     R"q(count_over_time({foo="bar"} |= "error"[12h]))q"},
    {R"q(count_over_time({foo="bar"} |= "error" [12h]))q",
     R"q(count_over_time({foo="bar"} |= "error"[12h]))q"},
    {R"q(count_over_time({job="mysql"}[5m] offset 5m))q",
     R"q(count_over_time({job="mysql"}[5m] offset 5m0s))q"},
    {R"q(count_over_time({job="mysql"} |= "x" [5m] offset 1h30m))q",
     R"q(count_over_time({job="mysql"} |= "x"[5m] offset 1h30m0s))q"},
    {R"q(count_over_time({job="mysql"}[5m] offset -5m))q",
     R"q(count_over_time({job="mysql"}[5m] offset -5m0s))q"},
    {R"q(rate(({job="nginx"} |= "GET" | json | path="/home")[10s]))q",
     R"q(rate({job="nginx"} |= "GET" | json | path="/home"[10s]))q"},
    {R"q(avg(rate(({job="nginx"} |= "GET" | json | path="/home")[10s])) by (region))q",
     R"q(avg by (region)(rate({job="nginx"} |= "GET" | json | path="/home"[10s])))q"},
    {R"q(count_over_time(({job="nginx"})[10s] offset 1m))q",
     R"q(count_over_time({job="nginx"}[10s] offset 1m0s))q"},
    {R"q(count_over_time((({job="nginx"}[10s]))))q", R"q(count_over_time({job="nginx"}[10s]))q"},
    {R"q(sum by (host) (rate({job="mysql"} |= "error" != "timeout" | json | duration > 10s [1m])))q",
     R"q(sum by (host)(rate({job="mysql"} |= "error" != "timeout" | json | duration>10s[1m])))q"},
    // Unwrapped range aggregations.
    {R"q(sum_over_time({app="foo"} | logfmt | unwrap bytes_processed [1m]))q",
     R"q(sum_over_time({app="foo"} | logfmt | unwrap bytes_processed[1m]))q"},
    {R"q(sum_over_time({app="foo"} | logfmt | unwrap bytes(size) [1m]))q",
     R"q(sum_over_time({app="foo"} | logfmt | unwrap bytes(size)[1m]))q"},
    {R"q(avg_over_time({app="foo"} | logfmt | unwrap duration(latency) [1m]) by (path))q",
     R"q(avg_over_time({app="foo"} | logfmt | unwrap duration(latency)[1m]) by (path))q"},
    {R"q(max_over_time({app="foo"} | logfmt | unwrap duration_seconds(latency) | __error__="" [1m]) without (pod))q",
     R"q(max_over_time({app="foo"} | logfmt | unwrap duration_seconds(latency) | __error__=""[1m]) without (pod))q"},
    {R"q(quantile_over_time(0.99, {cluster="ops-tools1",container="ingress-nginx"} | json | __error__ = "" | unwrap request_time [1m]) by (path))q",
     R"q(quantile_over_time(0.99,{cluster="ops-tools1", container="ingress-nginx"} | json | __error__="" | unwrap request_time[1m]) by (path))q"},
    {R"q(quantile_over_time(.99998,{app="foo"} |= "bar" | json | unwrap foo | __error__ !~".+"[5m]) by (namespace,instance))q",
     R"q(quantile_over_time(0.99998,{app="foo"} |= "bar" | json | unwrap foo | __error__!~".+"[5m]) by (namespace,instance))q"},
    {R"q(min_over_time({app="foo"} | unwrap latency [5m]))q",
     R"q(min_over_time({app="foo"} | unwrap latency[5m]))q"},
    {R"q(first_over_time({app="foo"} | unwrap latency [5m]) by (a))q",
     R"q(first_over_time({app="foo"} | unwrap latency[5m]) by (a))q"},
    {R"q(last_over_time({app="foo"} | unwrap latency [5m]))q",
     R"q(last_over_time({app="foo"} | unwrap latency[5m]))q"},
    {R"q(stdvar_over_time({app="foo"} | unwrap latency [5m]))q",
     R"q(stdvar_over_time({app="foo"} | unwrap latency[5m]))q"},
    {R"q(stddev_over_time({app="foo"} | unwrap latency [5m]) by ())q",
     R"q(stddev_over_time({app="foo"} | unwrap latency[5m]) by ())q"},
    {R"q(rate({app="foo"} | unwrap latency [5m]))q", R"q(rate({app="foo"} | unwrap latency[5m]))q"},
    {R"q(rate_counter({app="foo"} | unwrap latency [5m]))q",
     R"q(rate_counter({app="foo"} | unwrap latency[5m]))q"},
    {R"q(absent_over_time({app="foo"} | unwrap latency [5m]))q",
     R"q(absent_over_time({app="foo"} | unwrap latency[5m]))q"},
    {R"q(sum_over_time({app="foo"}[5m] | unwrap latency))q",
     R"q(sum_over_time({app="foo"} | unwrap latency[5m]))q"},
    {R"q(sum_over_time({app="foo"}[5m] offset 1m | json | unwrap latency))q",
     R"q(sum_over_time({app="foo"} | json | unwrap latency[5m] offset 1m0s))q"},
    {R"q(sum_over_time({app="foo"} | unwrap latency [5m] offset 1m))q",
     R"q(sum_over_time({app="foo"} | unwrap latency[5m] offset 1m0s))q"},
    {R"q(sum_over_time(({app="foo"} | unwrap latency)[5m]))q",
     R"q(sum_over_time({app="foo"} | unwrap latency[5m]))q"},
    {R"q(sum by (org_id) (sum_over_time({cluster="ops-tools1",container="loki-dev"} |= "metrics.go" | logfmt | unwrap bytes_processed [1m])))q",
     R"q(sum by (org_id)(sum_over_time({cluster="ops-tools1", container="loki-dev"} |= "metrics.go" | logfmt | unwrap bytes_processed[1m])))q"},
    {R"q(sum without (foo) (quantile_over_time(0.99998,{app="foo"} |= "bar" | json | latency >= 250ms or ( status_code < 500 and status_code > 200) | line_format "blip{{ .foo }}blop {{.status_code}}" | label_format foo=bar,status_code="buzz{{.bar}}" | unwrap foo [5m] offset 5m) by (namespace,instance)))q", R"q(sum without (foo)(quantile_over_time(0.99998,{app="foo"} |= "bar" | json | ( latency>=250ms or ( status_code<500 , status_code>200 ) ) | line_format "blip{{ .foo }}blop {{.status_code}}" | label_format foo=bar,status_code="buzz{{.bar}}" | unwrap foo[5m] offset 5m0s) by (namespace,instance)))q"},
    // Vector aggregations.
    {R"q(sum(count_over_time({job="mysql"}[5m])) by (level))q",
     R"q(sum by (level)(count_over_time({job="mysql"}[5m])))q"},
    {R"q(sum by (level) (count_over_time({job="mysql"}[5m])))q",
     R"q(sum by (level)(count_over_time({job="mysql"}[5m])))q"},
    {R"q(sum without (level) (count_over_time({job="mysql"}[5m])))q",
     R"q(sum without (level)(count_over_time({job="mysql"}[5m])))q"},
    {R"q(avg(count_over_time({ foo = "bar" }[5h])) by (bar,foo))q",
     R"q(avg by (bar,foo)(count_over_time({foo="bar"}[5h])))q"},
    {R"q(avg(count_over_time({ foo = "bar" }[5h])) by ())q",
     R"q(avg(count_over_time({foo="bar"}[5h])))q"},
    {R"q(max without () (count_over_time({ foo = "bar" }[5h])))q",
     R"q(max without ()(count_over_time({foo="bar"}[5h])))q"},
    {R"q(topk(10,sum(rate({region="us-east1"}[5m])) by (name)))q",
     R"q(topk(10,sum by (name)(rate({region="us-east1"}[5m]))))q"},
    {R"q(topk(10,count_over_time({ foo = "bar" }[5h])) without (bar))q",
     R"q(topk without (bar)(10,count_over_time({foo="bar"}[5h])))q"},
    {R"q(bottomk(30 ,sum(rate({ foo = "bar" }[5h])) by (foo)))q",
     R"q(bottomk(30,sum by (foo)(rate({foo="bar"}[5h]))))q"},
    {R"q(max( sum(count_over_time({ foo = "bar" }[5h])) without (foo,bar) ) by (foo))q",
     R"q(max by (foo)(sum without (foo,bar)(count_over_time({foo="bar"}[5h]))))q"},
    {R"q(min(rate({a="b"}[1m])))q", R"q(min(rate({a="b"}[1m])))q"},
    {R"q(count(rate({a="b"}[1m])))q", R"q(count(rate({a="b"}[1m])))q"},
    {R"q(stddev(rate({a="b"}[1m])))q", R"q(stddev(rate({a="b"}[1m])))q"},
    {R"q(stdvar(rate({a="b"}[1m])))q", R"q(stdvar(rate({a="b"}[1m])))q"},
    {R"q(sort(rate({a="b"}[1m])))q", R"q(sort(rate({a="b"}[1m])))q"},
    {R"q(sort_desc(rate({a="b"}[1m])))q", R"q(sort_desc(rate({a="b"}[1m])))q"},
    {R"q(approx_topk(5, rate({a="b"}[1m])))q", R"q(approx_topk(5,rate({a="b"}[1m])))q"},
    {R"q(SUM BY (a) (RATE({a="b"}[1m])))q", R"q(sum by (a)(rate({a="b"}[1m])))q"},
    {R"q(sum(1))q", R"q(sum(1))q"},
    // Functions, literals and binary operations.
    {"sum(count_over_time({namespace=\"traefik\"}[5m])) # will return nothing\n  or\nvector(0) # "
     "will return 0",
     R"q((sum(count_over_time({namespace="traefik"}[5m])) or vector(0.000000)))q"},
    {R"q(vector(1))q", R"q(vector(1.000000))q"},
    {R"q(vector(1.5) + rate({a="b"}[1m]))q", R"q((vector(1.500000) + rate({a="b"}[1m])))q"},
    {R"q(1)q", R"q(1)q"},
    {R"q(-1)q", R"q(-1)q"},
    {R"q(+2.5)q", R"q(2.5)q"},
    {R"q(1 + 1 + 1)q", R"q(3)q"},
    {R"q(1 >= 1 > 1)q", R"q(0)q"},
    {R"q(1 > 1 < 1)q", R"q(1)q"},
    {R"q(1 > 1 > bool 1)q", R"q(0)q"},
    {R"q(2 ^ 3 ^ 2)q", R"q(512)q"},
    {R"q(2 * 3 + 4 * 5)q", R"q(26)q"},
    {R"q(7 % 4 - 10 / 4)q", R"q(0.5)q"},
    {R"q(1e6)q", R"q(1e+06)q"},
    {R"q(0.00001)q", R"q(1e-05)q"},
    {R"q(123456789)q", R"q(1.23456789e+08)q"},
    {R"q(rate({a="b"}[1m]) * -1)q", R"q((rate({a="b"}[1m]) * -1))q"},
    {R"q(rate({a="b"}[1m]) + 1 * 2)q", R"q((rate({a="b"}[1m]) + 2))q"},
    {R"q((rate({a="b"}[1m]) + 1) * 2)q", R"q(((rate({a="b"}[1m]) + 1) * 2))q"},
    {R"q(rate({a="b"}[1m]) - rate({a="b"}[1m]) - rate({a="b"}[1m]))q",
     R"q(((rate({a="b"}[1m]) - rate({a="b"}[1m])) - rate({a="b"}[1m])))q"},
    {R"q(rate({a="b"}[1m]) ^ rate({a="b"}[1m]) ^ rate({a="b"}[1m]))q",
     R"q((rate({a="b"}[1m]) ^ (rate({a="b"}[1m]) ^ rate({a="b"}[1m]))))q"},
    {R"q(rate({a="b"}[1m]) / rate({a="b"}[1m]) % 2)q",
     R"q(((rate({a="b"}[1m]) / rate({a="b"}[1m])) % 2))q"},
    {R"q(rate({a="b"}[1m]) > 1 and rate({a="b"}[1m]) < 5 or rate({a="b"}[1m]) unless rate({a="b"}[1m]))q",
     R"q((((rate({a="b"}[1m]) > 1) and (rate({a="b"}[1m]) < 5)) or (rate({a="b"}[1m]) unless rate({a="b"}[1m]))))q"},
    {R"q(rate({a="b"}[1m]) > bool 1)q", R"q((rate({a="b"}[1m]) > bool 1))q"},
    {R"q(rate({a="b"}[1m]) == bool rate({a="b"}[1m]))q",
     R"q((rate({a="b"}[1m]) == bool rate({a="b"}[1m])))q"},
    {R"q(rate({a="b"}[1m]) != 1)q", R"q((rate({a="b"}[1m]) != 1))q"},
    {R"q(rate({a="b"}[1m]) <= 1)q", R"q((rate({a="b"}[1m]) <= 1))q"},
    {R"q(rate({a="b"}[1m]) >= 1)q", R"q((rate({a="b"}[1m]) >= 1))q"},
    {R"q(sum by (a) (rate({a="b"}[1m])) / on (a) sum by (a) (rate({a="c"}[1m])))q",
     R"q((sum by (a)(rate({a="b"}[1m])) / on (a) sum by (a)(rate({a="c"}[1m]))))q"},
    {R"q(sum by (a) (rate({a="b"}[1m])) / ignoring (b) sum by (a) (rate({a="c"}[1m])))q",
     R"q((sum by (a)(rate({a="b"}[1m])) / ignoring (b) sum by (a)(rate({a="c"}[1m]))))q"},
    {R"q(sum by (a,b) (rate({a="b"}[1m])) * on (a) group_left (b) sum by (a) (rate({a="c"}[1m])))q",
     R"q((sum by (a,b)(rate({a="b"}[1m])) * on (a) group_left (b) sum by (a)(rate({a="c"}[1m]))))q"},
    {R"q(sum by (a,b) (rate({a="b"}[1m])) * on (a) group_right sum by (a) (rate({a="c"}[1m])))q",
     R"q((sum by (a,b)(rate({a="b"}[1m])) * on (a) group_right sum by (a)(rate({a="c"}[1m]))))q"},
    {R"q(sum by (a,b) (rate({a="b"}[1m])) * ignoring () group_left () sum by (a) (rate({a="c"}[1m])))q",
     R"q((sum by (a,b)(rate({a="b"}[1m])) * ignoring () group_left sum by (a)(rate({a="c"}[1m]))))q"},
    {R"q(sum by (a) (rate({a="b"}[1m])) > bool on () sum(rate({a="c"}[1m])))q",
     R"q((sum by (a)(rate({a="b"}[1m])) > bool on () sum(rate({a="c"}[1m]))))q"},
    {R"q(count_over_time({ foo ="bar" }[12m]) or count_over_time({ foo = "bar" }[12m]) > 1)q",
     R"q((count_over_time({foo="bar"}[12m]) or (count_over_time({foo="bar"}[12m]) > 1)))q"},
    {R"q(label_replace(rate({job="api"}[5m]), "foo", "$1", "service", "(.*):.*"))q",
     R"q(label_replace(rate({job="api"}[5m]),"foo","$1","service","(.*):.*"))q"},
    {R"q(avg(label_replace(count_over_time({ foo = "bar" }[5h]), "bar", "$1$2", "foo", "(.*).(.*)")) by (bar,foo))q",
     R"q(avg by (bar,foo)(label_replace(count_over_time({foo="bar"}[5h]),"bar","$1$2","foo","(.*).(.*)")))q"},
    {R"q(1 + count_over_time({app=~".+"}[5m]) + count_over_time({app=~".+"}[5m]) + 1)q",
     R"q((((1 + count_over_time({app=~".+"}[5m])) + count_over_time({app=~".+"}[5m])) + 1))q"},
};

TEST(ParserTest, ValidQueriesPrintCanonicallyAndRoundTrip) {
  for (const auto& tc : kValid) {
    SCOPED_TRACE(tc.in);
    auto e = Parse(tc.in);
    ASSERT_TRUE(e.ok()) << e.status().message();
    std::string printed = Print(**e);
    EXPECT_EQ(printed, tc.want);
    auto again = Parse(printed);
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_EQ(Print(**again), printed);
  }
}

struct InvalidCase {
  const char* in;
  const char* message;  // the whole message after the "parse error ...: " prefix
  int col;              // 0: a semantic error, reported without position as Loki does
};

const InvalidCase kInvalid[] = {
    {"", "syntax error: unexpected $end", 1},
    {"{", "syntax error: unexpected $end, expecting IDENTIFIER", 2},
    {"{foo", "syntax error: unexpected $end, expecting = or != or =~ or !~", 5},
    {"{foo=", "syntax error: unexpected $end, expecting STRING", 6},
    {R"q({foo="bar")q", "syntax error: unexpected $end, expecting } or ,", 11},
    {R"q({foo="bar",})q", "syntax error: unexpected }, expecting IDENTIFIER", 12},
    {R"q({foo="bar" |= "x")q", "syntax error: unexpected |=, expecting } or ,", 12},
    {R"q(unk({ foo = "bar" }[5m]))q", "syntax error: unexpected IDENTIFIER", 1},
    {R"q(absent_over_time({ foo = "bar" }[5h]) by (foo))q",
     "grouping not allowed for absent_over_time aggregation", 0},
    {R"q(rate({ foo = "bar" }[5minutes]))q", R"q(not a valid duration string: "5minutes")q", 21},
    {R"q(label_replace(rate({ foo = "bar" }[5m]),""))q", "syntax error: unexpected ), expecting ,",
     43},
    {R"q(label_replace(rate({ foo = "bar" }[5m]),"foo","$1","bar","^^^^x43\\q"))q",
     "invalid regex in label_replace: error parsing regexp: invalid escape sequence: `\\q`", 0},
    {R"q(rate({ foo = "bar" }[5))q", "missing closing ']' in duration", 21},
    {R"q(min({ foo = "bar" }[5m]))q", "syntax error: unexpected RANGE", 20},
    {R"q({ foo = "bar" }|logfmt|addr>=ip("1.2.3.4"))q",
     "syntax error: unexpected ip, expecting BYTES or NUMBER or DURATION", 30},
    {R"q({ foo = "bar" }|logfmt|addr>ip("1.2.3.4"))q",
     "syntax error: unexpected ip, expecting BYTES or NUMBER or DURATION", 29},
    {R"q({ foo = "bar" }|logfmt|addr<=ip("1.2.3.4"))q",
     "syntax error: unexpected ip, expecting BYTES or NUMBER or DURATION", 30},
    {R"q({foo="bar"} + {foo="bar"})q",
     "unexpected type for left leg of binary operation (+): *syntax.MatchersExpr", 0},
    {R"q(sum(count_over_time({foo="bar"}[5m])) by (foo) - {foo="bar"})q",
     "unexpected type for right leg of binary operation (-): *syntax.MatchersExpr", 0},
    {R"q({foo="bar"} |= "x" / sum(count_over_time({foo="bar"}[5m])) by (foo))q",
     "unexpected type for left leg of binary operation (/): *syntax.PipelineExpr", 0},
    {R"q(sum(count_over_time({foo="bar"}[5m])) by (foo) or 1)q",
     "unexpected literal for right leg of logical/set binary operation (or): 1.000000", 0},
    {R"q(1 unless sum(count_over_time({foo="bar"}[5m])) by (foo))q",
     "unexpected literal for left leg of logical/set binary operation (unless): 1.000000", 0},
    {R"q(sum(count_over_time({foo="bar"}[5m])) by (foo) + 1 or 1)q",
     "unexpected literal for right leg of logical/set binary operation (or): 1.000000", 0},
    {"bool 1 > 1 > bool 1", "syntax error: unexpected bool", 1},
    {R"q(sum_over_time({namespace="tns"} |= "level=error" | json |foo>=5,bar<25ms| unwrap latency [5m]) by (foo))q",
     "grouping not allowed for sum_over_time aggregation", 0},
    {R"q(sum_over_time(50,{namespace="tns"} |= "level=error" | json |foo>=5,bar<25ms| unwrap latency [5m]))q",
     "parameter 50 not supported for operation sum_over_time", 0},
    {R"q(quantile_over_time({namespace="tns"} |= "level=error" | json |foo>=5,bar<25ms| unwrap latency [5m]))q",
     "parameter required for operation quantile_over_time", 0},
    {R"q(quantile_over_time(foo,{namespace="tns"} |= "level=error" | json |foo>=5,bar<25ms| unwrap latency [5m]))q",
     "syntax error: unexpected IDENTIFIER, expecting NUMBER or { or (", 20},
    {R"q(#{app="foo"} | json)q", "syntax error: unexpected $end", 20},
    {R"q(count_over_time({foo!="bar"}[5m]))q",
     R"q(queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will)q",
     0},
    {R"q({app=~".*"})q", "queries require at least one regexp or equality matcher", 0},
    {R"q({foo!~"bar|baz"})q", "queries require at least one regexp or equality matcher", 0},
    {R"q({foo=""})q", "queries require at least one regexp or equality matcher", 0},
    {"{}", "queries require at least one regexp or equality matcher", 0},
    {R"q(1 + count_over_time({app=~".+"}[5m]) + count_over_time({app=~".*"}[5m]))q",
     "queries require at least one regexp or equality matcher", 0},
    {R"q({foo="bar"} |= "x" | unwrap foo)q", "syntax error: unexpected unwrap", 22},
    {R"q(count_over_time({foo="bar"} | unwrap foo [5m]))q",
     "invalid aggregation count_over_time with unwrap", 0},
    {R"q(bytes_rate({foo="bar"} | unwrap foo [5m]))q", "invalid aggregation bytes_rate with unwrap",
     0},
    {R"q(sum_over_time({foo="bar"}[5m]))q", "invalid aggregation sum_over_time without unwrap", 0},
    {R"q(rate({foo="bar"}))q", "syntax error: unexpected ), expecting RANGE", 17},
    {R"q(rate({foo="bar"}[5m] offset))q", "syntax error: unexpected ), expecting DURATION", 28},
    {R"q(rate({foo="bar"}[5m]) offset 5m)q", "syntax error: unexpected offset", 23},
    {R"q({foo=~"("})q", "error parsing regexp: missing closing ): `(`", 0},
    {R"q({foo="bar"} |~ "(")q", "error parsing regexp: missing closing ): `(`", 0},
    {R"q({foo="bar"} | json | x=~"[")q", "error parsing regexp: missing closing ]: `[`", 0},
    {R"q({foo="bar"} | drop x=~"a**")q",
     "error parsing regexp: invalid nested repetition operator: `**`", 0},
    {R"q({foo="bar"} | regexp "(\\w+)")q",
     "invalid regexp parser: at least one named capture must be supplied", 0},
    {R"q({foo="bar"} | regexp "(")q",
     "invalid regexp parser: error parsing regexp: missing closing ): `(`", 0},
    {R"q({foo="bar"} | pattern "foo")q", "invalid pattern parser: at least one capture is required",
     0},
    {R"q({foo="bar"} | pattern "<a><b>")q",
     "invalid pattern parser: found consecutive capture '<a><b>': invalid expression", 0},
    {R"q({foo="bar"} | pattern "<a> <a>")q",
     "invalid pattern parser: duplicate capture name (a): invalid expression", 0},
    {R"q(label_replace(rate({ foo = "bar" }[5m]),"foo","$1","bar","("))q",
     "invalid regex in label_replace: error parsing regexp: missing closing ): `(`", 0},
    {R"q(topk(rate({foo="bar"}[5m])))q", "parameter required for operation topk", 0},
    {R"q(topk(1.5, rate({foo="bar"}[5m])))q", "invalid parameter topk(1.5,", 0},
    {R"q(topk(0, rate({foo="bar"}[5m])))q", "invalid parameter (must be greater than 0) topk(0", 0},
    {R"q(sum(5, rate({foo="bar"}[5m])))q", "unsupported parameter for operation sum(5,", 0},
    {R"q(approx_topk(5, rate({foo="bar"}[5m])) by (a))q",
     "grouping not allowed for approx_topk aggregation", 0},
    {R"q(sort by (a) (rate({foo="bar"}[5m])))q", "sort and sort_desc doesn't allow grouping by ",
     0},
    {R"q(sum({foo="bar"}))q", "unexpected type for sum aggregation: *syntax.MatchersExpr", 0},
    {R"q({foo="bar"} | unknown)q", "syntax error: unexpected $end", 22},
    {R"q({foo="bar"} | json | x > "a")q",
     "syntax error: unexpected STRING, expecting BYTES or NUMBER or DURATION", 26},
    {R"q(rate({foo="bar"}[5m]) +)q", "syntax error: unexpected $end", 24},
    {R"q({foo="bar"} |= "unterminated)q", "literal not terminated", 16},
    {R"q({foo="bar"} |= `unterminated)q", "literal not terminated", 16},
    {R"q({foo="bar"} |= "bad \q escape")q", "invalid char escape", 16},
    {R"q(rate({foo="bar"}[-5m]))q", R"q(not a valid duration string: "-5m")q", 17},
    {R"q(rate({foo="bar"}[]))q", "empty duration string", 17},
    {R"q({foo="bar"} | logfmt | x="1" and)q",
     "syntax error: unexpected $end, expecting IDENTIFIER or (", 33},
    {R"q({foo="bar"} @)q", "syntax error: unexpected IDENTIFIER", 13},
    {R"q(rate({foo="bar"}[5m] | unwrap x | json))q",
     "syntax error: unexpected json, expecting IDENTIFIER or (", 35},
    {R"q(sum by (a) (rate({foo="bar"}[5m])) by (b))q", "syntax error: unexpected by", 36},
    {R"q(vector(a))q", "syntax error: unexpected IDENTIFIER, expecting NUMBER", 8},
    {R"q(- rate({foo="bar"}[5m]))q", "syntax error: unexpected RATE, expecting NUMBER", 3},
    {R"q({foo="bar"} |= "x" or vector(0))q",
     "syntax error: unexpected VECTOR, expecting STRING or ip", 23},
    {"1e999", "unable to parse literal as a float", 0},
    {R"q(rate({foo="bar"}[5m]) * on (a) group_left (b)q",
     "syntax error: unexpected $end, expecting ) or ,", 45},
    {"/* unterminated", "comment not terminated", 1},
    {"{foo=\"bar\"}\n  | json\n  | x >", "syntax error: unexpected $end", 8},
    {R"q({foo="bar"} | label_format a=1)q",
     "syntax error: unexpected NUMBER, expecting IDENTIFIER or STRING", 30},
    {R"q({foo="bar"} | line_format x)q", "syntax error: unexpected IDENTIFIER, expecting STRING",
     27},
};

TEST(ParserTest, InvalidQueriesReportLokiStyleErrors) {
  for (const auto& tc : kInvalid) {
    SCOPED_TRACE(tc.in);
    auto e = Parse(tc.in);
    ASSERT_FALSE(e.ok()) << Print(**e);
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
    const std::string& msg = e.status().message();
    if (tc.col == 0) {
      EXPECT_EQ(msg.rfind("parse error : ", 0), 0u) << msg;
    } else {
      EXPECT_NE(msg.find(", col " + std::to_string(tc.col) + ": "), std::string::npos) << msg;
      EXPECT_EQ(msg.rfind("parse error at line ", 0), 0u) << msg;
    }
    EXPECT_NE(msg.find(tc.message), std::string::npos) << msg;
  }
}

TEST(ParserTest, ErrorPositionsCountLines) {
  auto e = Parse("{foo=\"bar\"}\n  | json\n  | x >");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "parse error at line 3, col 8: syntax error: unexpected $end, expecting BYTES or "
            "NUMBER or DURATION");
}

// --- The shape of the tree. ------------------------------------------------------------------

TEST(ParserTest, LogSelectorTree) {
  auto e = Parse(
      R"q({app="foo", env=~"prod.*"} |= "a" or "b" != "c" or "d" | json x="y.z" | level="error" | line_format "{{.x}}")q");
  ASSERT_TRUE(e.ok()) << e.status().message();
  ASSERT_TRUE(IsLogQuery(**e));
  const auto& sel = (*e)->Cast<LogSelectorExpr>();
  ASSERT_EQ(sel.matchers.size(), 2u);
  EXPECT_EQ(sel.matchers[1].type(), model::LabelMatcher::Type::kRegexMatch);
  EXPECT_TRUE(sel.matchers[1].Matches("production"));
  ASSERT_EQ(sel.stages.size(), 6u);
  const auto& lf = sel.stages[0]->Cast<LineFilterStage>();
  EXPECT_EQ(lf.op, LineFilterOp::kContains);
  EXPECT_EQ(lf.values, (std::vector<LineFilterValue>{{"a", false}, {"b", false}}));
  // A negative `or` becomes one stage per value.
  EXPECT_EQ(sel.stages[1]->Cast<LineFilterStage>().values[0].value, "c");
  EXPECT_EQ(sel.stages[2]->Cast<LineFilterStage>().values[0].value, "d");
  EXPECT_EQ(sel.stages[2]->Cast<LineFilterStage>().op, LineFilterOp::kNotContains);
  const auto& json = sel.stages[3]->Cast<ParserStage>();
  EXPECT_EQ(json.parser, ParserKind::kJson);
  EXPECT_EQ(json.extractions, (std::vector<LabelExtraction>{{"x", "y.z"}}));
  const auto& filter = sel.stages[4]->Cast<LabelFilterStage>().filter->Cast<StringLabelFilter>();
  EXPECT_EQ(filter.matcher.name(), "level");
  EXPECT_EQ(sel.stages[5]->Cast<LineFormatStage>().tmpl, "{{.x}}");
}

TEST(ParserTest, LabelFilterTree) {
  auto e = Parse(R"q({a="b"} | x > 1.5 or y < 10ms and z >= 2KiB, w = ip("1.2.3.4"))q");
  ASSERT_TRUE(e.ok()) << e.status().message();
  const auto& root = (*e)->Cast<LogSelectorExpr>()
                         .stages[0]
                         ->Cast<LabelFilterStage>()
                         .filter->Cast<BinaryLabelFilter>();
  EXPECT_FALSE(root.is_and);  // x or (y and (z , w))
  const auto& x = root.left->Cast<NumericLabelFilter>();
  EXPECT_EQ(x.op, CompareOp::kGt);
  EXPECT_EQ(x.value, 1.5);
  const auto& and1 = root.right->Cast<BinaryLabelFilter>();
  EXPECT_TRUE(and1.is_and);
  EXPECT_EQ(and1.left->Cast<DurationLabelFilter>().nanos, 10'000'000);
  const auto& and2 = and1.right->Cast<BinaryLabelFilter>();
  EXPECT_EQ(and2.left->Cast<BytesLabelFilter>().bytes, 2048u);
  const auto& ip = and2.right->Cast<IpLabelFilter>();
  EXPECT_EQ(ip.pattern, "1.2.3.4");
  EXPECT_FALSE(ip.negated);
}

TEST(ParserTest, RangeAggregationTree) {
  auto e = Parse(
      R"q(quantile_over_time(0.99, {a="b"} | json | unwrap duration(latency) | __error__="" [5m] offset 1h) by (path))q");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_FALSE(IsLogQuery(**e));
  const auto& r = (*e)->Cast<RangeAggregationExpr>();
  EXPECT_EQ(r.op, RangeOp::kQuantileOverTime);
  EXPECT_EQ(r.param, 0.99);
  EXPECT_EQ(r.range.range_nanos, 300'000'000'000);
  EXPECT_EQ(r.range.offset_nanos, 3'600'000'000'000);
  ASSERT_TRUE(r.range.unwrap.has_value());
  EXPECT_EQ(r.range.unwrap->label, "latency");
  EXPECT_EQ(r.range.unwrap->conversion, UnwrapConversion::kDuration);
  EXPECT_EQ(r.range.unwrap->post_filters.size(), 1u);
  EXPECT_EQ(r.range.selector->stages.size(), 1u);  // | json; the unwrap is not a stage
  ASSERT_TRUE(r.grouping.has_value());
  EXPECT_FALSE(r.grouping->without);
  EXPECT_EQ(r.grouping->labels, std::vector<std::string>{"path"});
}

TEST(ParserTest, VectorAggregationAndBinaryTree) {
  auto e = Parse(
      R"q(topk(3, sum by (a) (rate({x="y"}[1m]))) / on (a) group_left (b) count without (c) (rate({x="z"}[1m])) > bool 2)q");
  ASSERT_TRUE(e.ok()) << e.status().message();
  // > binds looser than /.
  const auto& cmp = (*e)->Cast<BinaryOpExpr>();
  EXPECT_EQ(cmp.op, BinaryOp::kGt);
  EXPECT_TRUE(cmp.return_bool);
  EXPECT_EQ(cmp.rhs->Cast<LiteralExpr>().value, 2);
  const auto& div = cmp.lhs->Cast<BinaryOpExpr>();
  EXPECT_EQ(div.op, BinaryOp::kDiv);
  EXPECT_TRUE(div.matching.on);
  EXPECT_EQ(div.matching.labels, std::vector<std::string>{"a"});
  EXPECT_EQ(div.matching.card, MatchCardinality::kManyToOne);
  EXPECT_EQ(div.matching.include, std::vector<std::string>{"b"});
  const auto& topk = div.lhs->Cast<VectorAggregationExpr>();
  EXPECT_EQ(topk.op, VectorOp::kTopK);
  EXPECT_EQ(topk.param, 3);
  EXPECT_EQ(topk.inner->Cast<VectorAggregationExpr>().grouping.labels,
            std::vector<std::string>{"a"});
  const auto& count = div.rhs->Cast<VectorAggregationExpr>();
  EXPECT_TRUE(count.grouping.without);
  auto selectors = Selectors(**e);
  ASSERT_EQ(selectors.size(), 2u);
  EXPECT_EQ(selectors[0]->matchers[0].value(), "y");
  EXPECT_EQ(selectors[1]->matchers[0].value(), "z");
}

TEST(ParserTest, ParseMatchers) {
  auto m = ParseMatchers(R"q({app="foo",cluster=~".+bar"})q");
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[1].ToString(), R"q(cluster=~".+bar")q");
  EXPECT_FALSE(ParseMatchers(R"q({app!="foo",cluster=~".+bar",bar!~".?boo")q").ok());
  auto piped = ParseMatchers(R"q({app="foo"} |= "test")q");
  ASSERT_FALSE(piped.ok());
  EXPECT_EQ(piped.status().message(), "only label matchers is supported");
  EXPECT_FALSE(ParseMatchers("{}").ok());
  auto empty = ParseMatchers("{}", /*validate=*/false);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_TRUE(ParseMatchers(R"q({a=~".*"})q", /*validate=*/false).ok());
}

// --- Hostile input. --------------------------------------------------------------------------

TEST(ParserTest, DeepNestingIsAnErrorNotACrash) {
  const std::pair<const char*, const char*> kNests[] = {{"", "("},
                                                        {"", "sum("},
                                                        {"", "1 + ("},
                                                        {"", "2 ^ "},
                                                        {"{a=\"b\"} | ", "("},
                                                        {"", "label_replace("},
                                                        {"count_over_time(", "("}};
  for (const auto& [prefix, open] : kNests) {
    std::string q = prefix;
    for (int i = 0; i < 10000; ++i) q += open;
    auto e = Parse(q);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.status().message().find("nested too deeply"), std::string::npos)
        << e.status().message();
  }
  // Long operator chains are bounded too (they make the tree as deep as nesting would).
  std::string chain = "rate({a=\"b\"}[1m])";
  for (int i = 0; i < 5000; ++i) chain += " + rate({a=\"b\"}[1m])";
  EXPECT_FALSE(Parse(chain).ok());
  std::string filters = "{a=\"b\"} | x=\"1\"";
  for (int i = 0; i < 5000; ++i) filters += " y=\"2\"";
  EXPECT_FALSE(Parse(filters).ok());
  std::string ors = "{a=\"b\"} | x=\"1\"";
  for (int i = 0; i < 5000; ++i) ors += " or y=\"2\"";
  EXPECT_FALSE(Parse(ors).ok());
  // ...but ordinary depths are fine.
  std::string ok = "rate({a=\"b\"}[1m])";
  for (int i = 0; i < 50; ++i) ok = "sum(" + ok + ")";
  EXPECT_TRUE(Parse(ok).ok());
  std::string stages = "{a=\"b\"}";
  for (int i = 0; i < 2000; ++i) stages += " |= \"x\" | y=\"z\"";
  EXPECT_TRUE(Parse(stages).ok());
}

// Each parse either fails cleanly or prints to a query that reparses to the same print.
void CheckNoCrashAndStable(const std::string& q) {
  auto e = Parse(q);
  if (!e.ok()) {
    EXPECT_EQ(e.status().message().rfind("parse error", 0), 0u)
        << q << " -> " << e.status().message();
    return;
  }
  std::string printed = Print(**e);
  if (printed.find("NaN") != std::string::npos || printed.find("Inf") != std::string::npos) {
    return;  // folded 0/0 literals: Loki prints them unparseably too
  }
  auto again = Parse(printed);
  ASSERT_TRUE(again.ok()) << q << " -> " << printed << " -> " << again.status().message();
  EXPECT_EQ(Print(**again), printed) << q;
}

TEST(ParserTest, FuzzRandomBytes) {
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    std::string q(rng() % 40, '\0');
    for (char& c : q) c = static_cast<char>(rng() % 256);
    CheckNoCrashAndStable(q);
  }
}

TEST(ParserTest, FuzzTokenSoup) {
  static const char* kPieces[] = {"{",
                                  "}",
                                  "(",
                                  ")",
                                  "[5m]",
                                  "[",
                                  "]",
                                  ",",
                                  "=",
                                  "!=",
                                  "=~",
                                  "!~",
                                  "|=",
                                  "|~",
                                  "|>",
                                  "!>",
                                  "|",
                                  "==",
                                  ">",
                                  ">=",
                                  "<",
                                  "<=",
                                  "+",
                                  "-",
                                  "*",
                                  "/",
                                  "%",
                                  "^",
                                  "a",
                                  "app",
                                  "\"x\"",
                                  "\"(\"",
                                  "`y`",
                                  "1",
                                  "0.5",
                                  "5m",
                                  "20MB",
                                  "-5m",
                                  "by",
                                  "without",
                                  "bool",
                                  "on",
                                  "ignoring",
                                  "group_left",
                                  "group_right",
                                  "or",
                                  "and",
                                  "unless",
                                  "json",
                                  "logfmt",
                                  "--strict",
                                  "regexp",
                                  "\"(?P<a>.)\"",
                                  "pattern",
                                  "\"<a> x\"",
                                  "unpack",
                                  "line_format",
                                  "label_format",
                                  "drop",
                                  "keep",
                                  "decolorize",
                                  "unwrap",
                                  "offset",
                                  "rate(",
                                  "sum(",
                                  "topk(",
                                  "quantile_over_time(",
                                  "count_over_time(",
                                  "vector(",
                                  "label_replace(",
                                  "ip(",
                                  "bytes(",
                                  "duration(",
                                  " ",
                                  "\n",
                                  "#",
                                  "{a=\"b\"}",
                                  "@"};
  std::mt19937 rng(7);
  for (int i = 0; i < 4000; ++i) {
    std::string q;
    int n = static_cast<int>(rng() % 16);
    for (int k = 0; k < n; ++k) q += kPieces[rng() % std::size(kPieces)];
    CheckNoCrashAndStable(q);
  }
}

TEST(ParserTest, FuzzMutatedValidQueries) {
  std::mt19937 rng(1234);
  static const char kChars[] = "{}()[],=!~|<>+-*/%^ \"`abz019._#\\";
  for (int i = 0; i < 3000; ++i) {
    std::string q = kValid[rng() % std::size(kValid)].in;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits && !q.empty(); ++k) {
      size_t pos = rng() % q.size();
      switch (rng() % 3) {
        case 0:
          q.erase(pos, 1);
          break;
        case 1:
          q.insert(pos, 1, kChars[rng() % (sizeof(kChars) - 1)]);
          break;
        default:
          q[pos] = kChars[rng() % (sizeof(kChars) - 1)];
          break;
      }
    }
    CheckNoCrashAndStable(q);
  }
}

}  // namespace
}  // namespace sluice::logql::syntax
