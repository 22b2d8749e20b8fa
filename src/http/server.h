#pragma once

// The HTTP front door: Boost.Beast on a pool of io threads. Handlers are plain functions from
// Request to Response, registered on a Router by method and path; the server reads bodies up to
// a cap (413 past it), times each request into loki_request_duration_seconds and serves
// keep-alive connections. Websocket routes (HandleWebSocket) upgrade the connection and hand it
// to a handler running on a thread of its own (websocket.h; the connection itself is
// websocket_connection.h).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "http/websocket.h"

namespace sluice::http {

struct Request {
  std::string method;                              // "GET", "POST" ...
  std::string path;                                // without the query string
  std::multimap<std::string, std::string> params;  // query string, and form bodies of POSTs
  std::map<std::string, std::string> headers;      // names lower-cased
  std::string body;
  std::map<std::string, std::string> path_vars;  // {name} segments of the matched route

  // The first value of a parameter, or `fallback`.
  std::string Param(std::string_view name, std::string_view fallback = {}) const;
  bool HasParam(std::string_view name) const {
    return params.find(std::string(name)) != params.end();
  }
  std::vector<std::string> ParamAll(std::string_view name) const;
  // The header's value, or empty. REQUIRES: name lower-case.
  std::string Header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response Json(std::string body, int status = 200);
  static Response Text(std::string body, int status = 200);
  static Response NoContent() { return Response{204, "", "", {}}; }
  // Loki writes errors as plain text with the message as the whole body.
  static Response Error(const Status& status);
};

using Handler = std::function<Response(Request&)>;

class Router {
 public:
  // `pattern` is a path; a segment "{name}" matches any one segment and lands in path_vars.
  // `route` is the name used in metrics (Loki's: "loki_api_v1_push").
  void Handle(std::vector<std::string> methods, std::string pattern, Handler handler);
  // A GET route served over a websocket. A plain (non-upgrade) request to it gets a 400.
  void HandleWebSocket(std::string pattern, WebSocketHandler handler);

  // 404 / 405 when nothing matches.
  Response Dispatch(Request& request, std::string* route) const;
  // The websocket handler of the request's path, or null (then Dispatch answers).
  const WebSocketHandler* MatchWebSocket(Request& request, std::string* route) const;

 private:
  struct Route {
    std::vector<std::string> methods;
    std::vector<std::string> segments;
    std::string name;
    Handler handler;
    WebSocketHandler ws_handler;  // set for websocket routes
  };
  // The route matching the request's path and method (path_vars filled), or null; *path_matched
  // says whether some route had the path.
  const Route* Match(Request& request, bool* path_matched) const;
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string address = "0.0.0.0";
  int port = 3100;  // 0 = pick a free port (tests)
  int threads = 4;
  uint64_t max_body_bytes = 100ull << 20;
  int64_t read_timeout_ns = 30LL * 1'000'000'000;
};

class Server {
 public:
  Server(ServerOptions options, const Router* router);
  ~Server();

  // Binds and starts serving on the io threads.
  Status Start();
  // Stops accepting and closes connections; returns after the io threads exit.
  void Stop();
  int port() const { return bound_port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int bound_port_ = 0;
};

// "/loki/api/v1/label/{name}/values" -> "loki_api_v1_label_name_values", as Loki names routes.
std::string RouteName(std::string_view pattern);
std::string UrlDecode(std::string_view s);

}  // namespace sluice::http
