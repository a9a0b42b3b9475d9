#include "jsonrpc/endpoint.hpp"

#include <chrono>
#include <exception>
#include <new>

namespace ripvec::jsonrpc {

Endpoint::Endpoint(ByteSource& in, ByteSink& out, Options opts)
    : in_(in), out_(out), writer_(out, opts.framing), opts_(opts) {}

Endpoint::~Endpoint() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

void Endpoint::on_request(const std::string& method, RequestHandler h, bool inline_) {
  requests_[method] = {std::move(h), inline_};
}

void Endpoint::on_notification(const std::string& method, NotificationHandler h) {
  notifications_[method] = std::move(h);
}

void Endpoint::respond(const json& message) {
  writer_.write(serialize(message));
}

void Endpoint::notify(const std::string& method, json params) {
  respond(make_notification(method, std::move(params)));
}

void Endpoint::cancel(const json& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(id_key(id));
  if (it != running_.end()) it->second->cancelled_ = true;
}

void Endpoint::send_request(const std::string& method, json params,
                            std::function<void(const Message&)> on_response) {
  json id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = "ripvec-" + std::to_string(next_request_id_++);
    awaiting_[id_key(id)] = std::move(on_response);
  }
  respond(make_request(id, method, std::move(params)));
}

int Endpoint::run() {
  for (unsigned i = 0; i < std::max(1u, opts_.workers); ++i)
    workers_.emplace_back([this] { worker_loop(); });
  // Nobody can read our answers any more (the output's reader is gone, or a write failed):
  // every request received is cancelled and reading ends, even while another process keeps
  // the client's end of our input open (a wrapper shell, an inherited descriptor), and through
  // the drain below, each tick again for one dispatched since (probe 2026-12-05: a server sat
  // in read() for minutes, a full reindex running to the end for nobody).
  std::mutex wd_mu;
  std::condition_variable wd_cv;
  bool serving = true;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(wd_mu);
    while (serving) {
      wd_cv.wait_for(lock, std::chrono::milliseconds(100));
      if (serving && (out_.peer_gone() || !writer_.ok())) {
        cancel_all();
        stopping_ = true;
        in_.interrupt();
      }
    }
  });
  struct JoinWatchdog {
    std::mutex& mu;
    std::condition_variable& cv;
    bool& serving;
    std::thread& t;
    ~JoinWatchdog() {
      {
        std::lock_guard<std::mutex> lock(mu);
        serving = false;
      }
      cv.notify_all();
      t.join();
    }
  } join_watchdog{wd_mu, wd_cv, serving, watchdog};
  FrameReader reader(in_, opts_.framing, opts_.limits);
  std::string body, detail;
  int rc = 0;
  while (!stopping_ && writer_.ok()) {
    FrameStatus st = reader.next(&body, &detail);
    if (st == FrameStatus::Eof) break;
    if (st == FrameStatus::Truncated || st == FrameStatus::IoError) {
      end_error_ = st == FrameStatus::IoError ? "error reading the input"
                   : detail.empty()           ? "end of stream inside a message"
                                              : detail;
      rc = 1;
      break;
    }
    if (st == FrameStatus::TooLarge) {
      respond(make_error(nullptr, code::kInvalidRequest, "Invalid Request: " + detail));
      continue;
    }
    if (st == FrameStatus::BadHeader) {
      respond(make_error(nullptr, code::kParseError, "Parse error: " + detail));
      continue;
    }
    Parsed p = parse_message(body, opts_.limits.max_depth, opts_.limits.max_values);
    const size_t bytes = body.size();
    body.clear();
    body.shrink_to_fit();  // a 64 MiB frame should not pin its buffer for the session
    if (p.error_response) {
      respond(*p.error_response);
      continue;
    }
    dispatch(std::move(*p.message), bytes);
  }
  if (cancel_on_stop_) cancel_all();
  {
    std::unique_lock<std::mutex> lock(mu_);
    closing_ = true;
    cv_.notify_all();
    // Requests received before the end still answer (a client may close its side and read
    // on), unless stop(true) cancelled them; the watchdog cancels them when nobody can read
    // them any more.
    done_cv_.wait(lock, [&] { return running_.empty(); });
  }
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
  if (!writer_.ok()) {
    const std::string why = writer_.error();
    end_error_ = "error writing the output" + (why.empty() ? std::string() : ": " + why);
    rc = 1;
  }
  return rc;
}

bool Endpoint::answers_waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !waiting_.empty();
}

std::optional<json> Endpoint::final_reply(const Context& ctx, json reply) const {
  if (!ctx.cancelled()) return reply;
  if (opts_.on_cancel == OnCancel::Silent) return std::nullopt;
  return make_error(ctx.id_, code::kRequestCancelled, "request cancelled");
}

void Endpoint::flush_waiting() {
  std::vector<std::pair<std::shared_ptr<Context>, json>> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (waiting_.empty() || running_.size() > waiting_.size() || answering_ > 0) return;
    ready.swap(waiting_);
    for (const auto& [ctx, reply] : ready) running_.erase(id_key(ctx->id_));
  }
  done_cv_.notify_all();
  for (auto& [ctx, reply] : ready)
    if (auto r = final_reply(*ctx, std::move(reply))) respond(*r);
}

void Endpoint::cancel_all() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, ctx] : running_) ctx->cancelled_ = true;
}

void Endpoint::dispatch(Message m, size_t bytes) {
  if (m.kind == Message::Kind::Response) {
    std::function<void(const Message&)> cb;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = awaiting_.find(id_key(m.id));
      if (it != awaiting_.end()) {
        cb = std::move(it->second);
        awaiting_.erase(it);
      }
    }
    if (cb) cb(m);
    return;  // responses to nothing we sent are ignored
  }
  if (m.kind == Message::Kind::Notification) {
    auto it = notifications_.find(m.method);
    if (it == notifications_.end()) return;
    try {
      it->second(m.params);
    } catch (...) {
      // Notifications have no response to carry an error; a bad one must not end the session.
    }
    return;
  }
  // Request.
  if (gate_) {
    if (auto refusal = gate_(m.method)) {
      respond(make_error(m.id, refusal->code(), refusal->what(), refusal->data()));
      return;
    }
  }
  auto it = requests_.find(m.method);
  if (it == requests_.end()) {
    respond(make_error(m.id, code::kMethodNotFound, "Method not found: " + m.method));
    return;
  }
  auto ctx = std::make_shared<Context>();
  if (stamper_) ctx->stamp_ = stamper_();
  ctx->id_ = m.id;
  ctx->params_ = std::move(m.params);
  ctx->endpoint_ = this;
  const std::string key = id_key(ctx->id_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_.count(key)) {
      respond(make_error(ctx->id_, code::kInvalidRequest,
                         "Invalid Request: id " + key + " is already in use"));
      return;
    }
    if (!it->second.second &&
        (queue_.size() >= opts_.max_pending || queued_bytes_ + bytes > opts_.max_pending_bytes)) {
      respond(make_error(ctx->id_, code::kInternalError, "server busy: too many pending requests"));
      return;
    }
    running_[key] = ctx;
    if (!it->second.second) {
      queue_.push_back({ctx, &it->second.first, bytes});
      queued_bytes_ += bytes;
      cv_.notify_one();
      return;
    }
  }
  run_request(ctx, it->second.first);
}

std::optional<uint64_t> Endpoint::oldest_pending_stamp() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::optional<uint64_t> oldest;
  for (const auto& [key, ctx] : running_)
    if (!oldest || ctx->stamp_ < *oldest) oldest = ctx->stamp_;
  return oldest;
}

void Endpoint::run_request(const std::shared_ptr<Context>& ctx, const RequestHandler& h) {
  json reply;
  try {
    // A request cancelled while it waited in the queue does not start.
    if (ctx->cancelled()) throw RpcError(code::kRequestCancelled, "request cancelled");
    json result = h(*ctx);
    reply = make_result(ctx->id_, std::move(result));
  } catch (const RpcError& e) {
    reply = make_error(ctx->id_, e.code(), e.what(), e.data());
  } catch (const std::bad_alloc&) {
    reply = make_error(ctx->id_, code::kInternalError, "out of memory");
  } catch (const std::exception& e) {
    reply = make_error(ctx->id_, code::kInternalError, e.what());
  } catch (...) {
    reply = make_error(ctx->id_, code::kInternalError, "unknown error");
  }
  if (ctx->after_others_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiting_.emplace_back(ctx, std::move(reply));
    }
    flush_waiting();
    return;
  }
  {
    // Out of running_ before the answer is written (a client may reuse the id as soon as it
    // reads it), but counted in answering_ until it is: an answer waiting for the others goes
    // out behind this one, never before it.
    std::lock_guard<std::mutex> lock(mu_);
    running_.erase(id_key(ctx->id_));
    ++answering_;
  }
  done_cv_.notify_all();
  struct Answered {  // also when writing throws: a waiting answer must not wait for ever
    Endpoint& e;
    ~Answered() {
      {
        std::lock_guard<std::mutex> lock(e.mu_);
        --e.answering_;
      }
      try {
        e.flush_waiting();
      } catch (...) {  // (out of memory building a reply: the session ends on its own)
      }
    }
  } answered{*this};
  if (auto r = final_reply(*ctx, std::move(reply))) respond(*r);
}

void Endpoint::worker_loop() {
  for (;;) {
    std::shared_ptr<Context> ctx;
    const RequestHandler* h = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing and drained
      ctx = std::move(queue_.front().ctx);
      h = queue_.front().handler;
      queued_bytes_ -= queue_.front().bytes;
      queue_.pop_front();
    }
    run_request(ctx, *h);
  }
}

}  // namespace ripvec::jsonrpc
