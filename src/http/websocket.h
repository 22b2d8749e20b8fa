#pragma once

// What a websocket route's handler sees. Router::HandleWebSocket registers a route, the server
// upgrades matching requests (websocket_connection.h) and runs the handler's WebSocketRun on a
// thread of its own.

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace sluice::http {

struct Request;

// A websocket connection after the upgrade, as its handler sees it. Thread-safe: the handler runs
// on a thread of its own while the server's io threads do the socket work.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  // Queues one text frame. False once the connection is closed (by the client, by Close() or by
  // Server::Stop()) or when the client is too slow to read what is queued.
  virtual bool SendText(std::string text) = 0;
  // Waits up to `timeout_ns` for the connection to close; true when it is closed. Handlers use
  // it as their sleep so that they notice a close at once.
  virtual bool WaitClosed(int64_t timeout_ns) = 0;
  // Sends a close frame (after the queued frames) with `code` (1000 normal, 1011 error) and
  // `reason`, and ends the connection.
  virtual void Close(uint16_t code, std::string reason) = 0;
};
// Serves an upgraded connection until it returns (the server then closes the connection).
using WebSocketRun = std::function<void(WebSocketSession&)>;
// Checks an upgrade request: an error is answered as a plain HTTP error instead of upgrading.
using WebSocketHandler = std::function<Result<WebSocketRun>(Request&)>;

}  // namespace sluice::http
