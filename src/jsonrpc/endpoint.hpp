// A JSON-RPC 2.0 endpoint over one framed stream (internal to the protocol servers): reads
// frames, answers malformed ones with the prescribed errors, dispatches requests to handlers on
// a small pool of worker threads (so that pings, cancellations and text changes are read while a
// long request runs), and writes responses and notifications.
//
// Ordering: notifications and "inline" requests run on the reader thread in arrival order, so a
// text change always lands before the requests that follow it. Other requests run on workers and
// may answer out of order (JSON-RPC allows it).
//
// Cancellation: cancel(id) marks the request; its handler sees Context::cancelled() and may stop
// early. What a cancelled request answers is the protocol's choice (Options::on_cancel): nothing
// (MCP) or error -32800 (LSP).
//
// Thread safety: notify(), cancel() and send_request() may be called from any thread, handlers
// included. register_*() only before run().
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "jsonrpc/framing.hpp"
#include "jsonrpc/message.hpp"

namespace ripvec::jsonrpc {

class Endpoint;

// What a running request knows about itself.
class Context {
 public:
  const json& id() const { return id_; }
  const json& params() const { return params_; }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  // Throws when cancelled (the endpoint then answers as Options::on_cancel says): for handlers
  // that loop.
  void check_cancelled() const {
    if (cancelled()) throw RpcError(code::kRequestCancelled, "request cancelled");
  }
  Endpoint& endpoint() const { return *endpoint_; }
  // The handler's answer goes out only once every other request received has answered (LSP
  // "shutdown": what came before it is answered first). The reader goes on meanwhile, so
  // cancellations and "exit" are still read.
  void answer_after_others() { after_others_ = true; }
  // What the endpoint's stamper returned when the request was read (0 without one): on the
  // reader thread, so it orders the request among the notifications around it.
  uint64_t stamp() const { return stamp_; }

 private:
  friend class Endpoint;
  json id_, params_;
  uint64_t stamp_ = 0;
  std::atomic<bool> cancelled_{false};
  bool after_others_ = false;
  Endpoint* endpoint_ = nullptr;
};

class Endpoint {
 public:
  enum class OnCancel { Silent, ErrorResponse };
  struct Options {
    Framing framing = Framing::Newline;
    Limits limits;
    unsigned workers = 2;
    size_t max_pending = 256;  // queued requests beyond this are refused with -32603
    // ... and so are those whose message would take the queued messages' bytes beyond this
    // (256 requests of up to 64 MiB each could hold 16 GiB while the workers are busy).
    size_t max_pending_bytes = size_t(256) << 20;
    OnCancel on_cancel = OnCancel::Silent;
  };
  // Returns the result; throws RpcError for a protocol error (any other exception becomes
  // -32603 with its message).
  using RequestHandler = std::function<json(Context&)>;
  using NotificationHandler = std::function<void(const json& params)>;
  // Decides per request whether it may run at all (e.g. "not initialized" refusals); return
  // nullopt to proceed, or the error to answer.
  using Gate = std::function<std::optional<RpcError>(const std::string& method)>;

  Endpoint(ByteSource& in, ByteSink& out, Options opts);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // inline_: run on the reader thread (fast handlers that must be ordered with notifications).
  void on_request(const std::string& method, RequestHandler h, bool inline_ = false);
  void on_notification(const std::string& method, NotificationHandler h);
  void set_gate(Gate g) { gate_ = std::move(g); }
  // Called on the reader thread for each request as it is read; its value is the request's
  // Context::stamp() (LSP: the document state the request was sent against).
  void set_stamper(std::function<uint64_t()> f) { stamper_ = std::move(f); }
  // Unknown notifications are ignored (JSON-RPC); unknown requests get -32601.

  // Reads until end of stream or stop(), then finishes the requests already received: they
  // still run and answer (a client may close its side and read on), but all of them are
  // cancelled as soon as the output's reader is gone (ByteSink::peer_gone: the client died).
  // Returns 0 when the stream ended cleanly, 1 when it ended inside a frame or on a read/write
  // error.
  int run();
  // Makes run() return after the frame being read; with cancel_running, every request received
  // is cancelled first (LSP "exit": the client asked the process to end, so nothing it sent
  // before is worth finishing; each answers RequestCancelled at its next cancellation point).
  void stop(bool cancel_running = false) {
    if (cancel_running) cancel_on_stop_ = true;
    stopping_ = true;
  }

  // Whether an answer waits for the other requests (Context::answer_after_others).
  bool answers_waiting() const;
  // The smallest Context::stamp() of the requests received and not yet answered (queued or
  // running), or nullopt when there are none. Thread-safe.
  std::optional<uint64_t> oldest_pending_stamp() const;

  void notify(const std::string& method, json params);
  void cancel(const json& id);
  // Sends a request to the peer; the response is passed to `on_response` (on the reader
  // thread) or dropped when the stream ends first.
  void send_request(const std::string& method, json params,
                    std::function<void(const Message&)> on_response);
  bool output_ok() const { return writer_.ok(); }
  // After run() returned 1: why, in words ("end of stream inside a body (5 of 10 bytes
  // missing)", "error writing the output: No space left on device").
  const std::string& end_error() const { return end_error_; }

 private:
  void dispatch(Message m, size_t bytes);
  void run_request(const std::shared_ptr<Context>& ctx, const RequestHandler& h);
  // The reply a finished request sends: `reply`, or the cancellation policy's when cancelled
  // (nullopt: nothing).
  std::optional<json> final_reply(const Context& ctx, json reply) const;
  // Sends the answers that wait for the other requests once no other request runs.
  void flush_waiting();
  void respond(const json& message);
  void worker_loop();
  void cancel_all();
  static std::string id_key(const json& id) { return id.dump(); }

  ByteSource& in_;
  ByteSink& out_;
  FrameWriter writer_;
  std::string end_error_;  // set by run() when it returns 1
  Options opts_;
  std::map<std::string, std::pair<RequestHandler, bool>> requests_;
  std::map<std::string, NotificationHandler> notifications_;
  Gate gate_;
  std::function<uint64_t()> stamper_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::condition_variable done_cv_;  // a request finished
  struct Queued {
    std::shared_ptr<Context> ctx;
    const RequestHandler* handler;
    size_t bytes;  // the message's size, counted in queued_bytes_
  };
  std::deque<Queued> queue_;
  size_t queued_bytes_ = 0;
  std::map<std::string, std::shared_ptr<Context>> running_;  // by id_key
  // Answered requests whose reply waits for the others (still in running_ until it is sent).
  std::vector<std::pair<std::shared_ptr<Context>, json>> waiting_;
  int answering_ = 0;  // requests out of running_ whose answer is being written
  std::map<std::string, std::function<void(const Message&)>> awaiting_;
  int64_t next_request_id_ = 1;
  bool closing_ = false;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cancel_on_stop_{false};
};

}  // namespace ripvec::jsonrpc
