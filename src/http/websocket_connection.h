#pragma once

// The server side of websocket routes on Boost.Beast, for server.cc: the upgrade of a request
// whose route accepts it, and the connection after it. Frames the handler sends are queued and
// written on the connection's strand (at most WebSocketConnection::kMaxQueuedBytes behind);
// frames the client sends are read and dropped, so that its close is noticed.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "http/server.h"
#include "http/websocket.h"

namespace sluice::http {

class WebSocketConnection;

// The websocket connections being served, so that Server::Stop() can close them and wait for
// their handler threads. Shared with the connections, which may outlive a stopping server only
// until their handler returns. Thread-safe.
class WebSocketRegistry {
 public:
  // Refuses new connections, ends the open ones (their handlers see them closed) and returns
  // once every handler has returned. REQUIRES: the io threads still run.
  void AbortAllAndWait();

  // A connection whose handler starts; false when the server is stopping (then it must end).
  bool Add(std::shared_ptr<WebSocketConnection> connection);
  // A connection whose handler returned.
  void Remove(const std::shared_ptr<WebSocketConnection>& connection);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::shared_ptr<WebSocketConnection>> active_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                                  // GUARDED_BY(mu_)
};

// Called with how long a connection's handler ran, once it returned.
using WebSocketDoneFn = std::function<void(double seconds)>;

// Offers the upgrade request `request` (read by `parser` from `stream`) to its route's
// `handler`. When the handler accepts it, the stream and the request are handed over to a new
// connection, which completes the handshake and runs the handler's WebSocketRun on a thread of
// its own, and the result is nullopt: the caller must not touch stream or parser again. When it
// refuses (or throws), the result is the plain HTTP error to answer with.
std::optional<Response> UpgradeToWebSocket(
    const WebSocketHandler& handler, Request& request, const std::string& route,
    boost::beast::tcp_stream& stream,
    boost::beast::http::request_parser<boost::beast::http::string_body>& parser,
    std::shared_ptr<WebSocketRegistry> registry, WebSocketDoneFn on_done);

}  // namespace sluice::http
