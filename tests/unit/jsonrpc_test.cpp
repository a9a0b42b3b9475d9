// The JSON-RPC 2.0 layer: framing (newline and Content-Length), strict message validation,
// the error codes of the specification, and the bounds that keep garbage from crashing or
// hanging a server.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "jsonrpc/endpoint.hpp"
#include "jsonrpc/framing.hpp"
#include "jsonrpc/message.hpp"

using namespace ripvec::jsonrpc;

namespace {

std::vector<std::pair<FrameStatus, std::string>> frames(const std::string& data, Framing f,
                                                        Limits lim = {}) {
  StringSource src(data);
  FrameReader r(src, f, lim);
  std::vector<std::pair<FrameStatus, std::string>> out;
  for (int guard = 0; guard < 1000; ++guard) {
    std::string body;
    FrameStatus s = r.next(&body);
    out.emplace_back(s, body);
    if (s == FrameStatus::Eof) break;
  }
  return out;
}

int error_code(const Parsed& p) {
  if (!p.error_response) return 0;
  return (*p.error_response)["error"]["code"].get<int>();
}

// Runs an endpoint with an echo method over `input`, returns the parsed output messages.
std::vector<json> run_endpoint(const std::string& input, Framing f, Limits lim = {}) {
  StringSource in(input);
  StringSink out;
  Endpoint::Options o;
  o.framing = f;
  o.limits = lim;
  Endpoint ep(in, out, o);
  ep.on_request("echo", [](Context& c) { return c.params(); });
  ep.on_request("boom", [](Context&) -> json { throw std::runtime_error("kaput"); });
  ep.on_request("bad_params", [](Context&) -> json {
    throw RpcError(code::kInvalidParams, "Invalid params: x must be a number");
  });
  ep.run();
  std::vector<json> msgs;
  StringSource back(out.data());
  FrameReader r(back, f);
  std::string body;
  while (r.next(&body) == FrameStatus::Ok) msgs.push_back(json::parse(body));
  return msgs;
}

const json* find_id(const std::vector<json>& msgs, const json& id) {
  for (const auto& m : msgs)
    if (m.contains("id") && m["id"] == id) return &m;
  return nullptr;
}

}  // namespace

TEST(JsonRpcFraming, NewlineSplitsAndSkipsBlankLines) {
  auto f = frames("{\"a\":1}\n\n  \r\n{\"b\":2}\r\n{\"c\":3}", Framing::Newline);
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].second, "{\"a\":1}");
  EXPECT_EQ(f[1].second, "{\"b\":2}");
  EXPECT_EQ(f[2].second, "{\"c\":3}");  // last line without its newline
  EXPECT_EQ(f[3].first, FrameStatus::Eof);
}

TEST(JsonRpcFraming, NewlineTooLongLineIsSkippedAndStreamContinues) {
  Limits lim;
  lim.max_message_bytes = 16;
  auto f = frames(std::string(100000, 'x') + "\n{\"ok\":1}\n", Framing::Newline, lim);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].first, FrameStatus::TooLarge);
  EXPECT_EQ(f[1].first, FrameStatus::Ok);
  EXPECT_EQ(f[1].second, "{\"ok\":1}");
}

TEST(JsonRpcFraming, ContentLengthBasic) {
  std::string a = "{\"x\":1}", b = "{\"y\":\"\xC3\xA9\"}";
  auto f = frames("Content-Length: " + std::to_string(a.size()) + "\r\n\r\n" + a +
                      "content-length:" + std::to_string(b.size()) +
                      "\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" + b,
                  Framing::ContentLength);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].second, a);
  EXPECT_EQ(f[1].second, b);
  EXPECT_EQ(f[2].first, FrameStatus::Eof);
}

TEST(JsonRpcFraming, ContentLengthMissingOrGarbageHeader) {
  auto f = frames("Content-Type: x\r\n\r\n", Framing::ContentLength);
  EXPECT_EQ(f[0].first, FrameStatus::BadHeader);
  f = frames("Content-Length: 12abc\r\n\r\n{}", Framing::ContentLength);
  EXPECT_EQ(f[0].first, FrameStatus::BadHeader);
  f = frames("Content-Length: -5\r\n\r\n", Framing::ContentLength);
  EXPECT_EQ(f[0].first, FrameStatus::BadHeader);
  // A 25-digit length does not overflow into something small.
  f = frames("Content-Length: 9999999999999999999999999\r\n\r\n{}", Framing::ContentLength);
  EXPECT_EQ(f[0].first, FrameStatus::BadHeader);
}

// Probe 2026-12-05: after a frame whose body length was unknown ("Content-Length: +84", "0x54")
// or too short (0), the rest of its body ran into the next header line and every later frame
// was eaten the same way: `shutdown` never arrived and the LSP session ended with status 2.
// The reader now resynchronises at the next "Content-Length:" and the stream goes on.
TEST(JsonRpcFraming, ContentLengthStreamResynchronisesAfterABrokenFrame) {
  const std::string a = R"({"id":1})", b = R"({"id":2})", c = R"({"id":3})";
  auto frame = [](const std::string& body) {
    return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  for (const std::string bad_header :
       {"Content-Length: +8\r\n\r\n", "Content-Length: 0x8\r\n\r\n", "Content-Length: 0\r\n\r\n",
        "Content-Length: 3\r\n\r\n", "Content-Type: x\r\n\r\n", "Content-Length: 8\r\n\r\n\r\n"}) {
    SCOPED_TRACE(bad_header);
    auto f =
        frames(frame(a) + bad_header + "{\"id\":9}" + frame(b) + frame(c), Framing::ContentLength);
    std::vector<std::string> ok;
    for (const auto& [st, body] : f)
      if (st == FrameStatus::Ok) ok.push_back(body);
    ASSERT_GE(ok.size(), 3u) << "frames after the broken one were lost";
    EXPECT_EQ(ok.front(), a);
    EXPECT_EQ(ok[ok.size() - 2], b);
    EXPECT_EQ(ok.back(), c);
    EXPECT_EQ(f.back().first, FrameStatus::Eof);
  }
  // The tail of a body before the first header of the stream, too.
  auto f = frames(R"("tail"}])" + frame(b), Framing::ContentLength);
  ASSERT_GE(f.size(), 1u);
  EXPECT_EQ(f[0].first, FrameStatus::Ok);
  EXPECT_EQ(f[0].second, b);
}

// Hostile probe 2026-12-07: a line of no header before a frame (a server's own log line, a
// stray newline-ended text) made that frame's header part of the broken block and its body was
// read as header lines: the frame was lost without an answer (a stray line before `initialize`
// left the client waiting). A body longer than its Content-Length, or a junk header line, when
// the client ends its bodies with CR LF, lost every later frame. Now the junk is reported on its
// own, the next "Content-Length:" line starts a frame, and a frame refused for a junk header has
// its body skipped.
TEST(JsonRpcFraming, ContentLengthFrameAfterAStrayLineIsRead) {
  const std::string a = R"({"id":1})", b = R"({"id":2})", c = R"({"id":3})";
  auto frame = [](const std::string& body) {
    return "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body + "\r\n";
  };
  auto oks = [](const std::vector<std::pair<FrameStatus, std::string>>& f) {
    std::vector<std::string> ok;
    for (const auto& [st, body] : f)
      if (st == FrameStatus::Ok) ok.push_back(body);
    return ok;
  };
  auto f = frames("starting language server...\n" + frame(a) + frame(b), Framing::ContentLength);
  ASSERT_GE(f.size(), 4u);
  EXPECT_EQ(f[0].first, FrameStatus::BadHeader);
  EXPECT_EQ(oks(f), (std::vector<std::string>{a, b}));
  for (const std::string broken : {"Content-Length: 3\r\n\r\n{\"id\":9}\r\n",
                                   "Content-Length: 8\r\nJunk line\r\n\r\n{\"id\":9}\r\n",
                                   "Junk line\r\nContent-Length: 8\r\n\r\n{\"id\":9}\r\n"}) {
    SCOPED_TRACE(broken);
    f = frames(frame(a) + broken + frame(b) + frame(c), Framing::ContentLength);
    const auto ok = oks(f);
    ASSERT_GE(ok.size(), 3u) << "frames after the broken one were lost";
    EXPECT_EQ(ok.front(), a);
    EXPECT_EQ(ok[ok.size() - 2], b);
    EXPECT_EQ(ok.back(), c);
    EXPECT_EQ(f.back().first, FrameStatus::Eof);
  }
  // Review 2026-12-07: junk lines counted as header lines, so 32 of them swallowed the frame's
  // Content-Length line as "too many header lines"; an over-long stray line was not junk.
  std::string banner;
  for (int i = 0; i < 40; ++i) banner += "log line " + std::to_string(i) + "\n";
  f = frames(banner + frame(a) + frame(b), Framing::ContentLength);
  EXPECT_EQ(oks(f), (std::vector<std::string>{a, b}));
  Limits lim;
  f = frames(std::string(lim.max_header_bytes + 100, 'x') + "\n" + frame(a) + frame(b),
             Framing::ContentLength, lim);
  EXPECT_EQ(oks(f), (std::vector<std::string>{a, b}));
}

TEST(JsonRpcFraming, ContentLengthHugeLengthIsSkippedWithoutBuffering) {
  Limits lim;
  lim.max_message_bytes = 10;
  std::string big(1000, 'z');
  auto f = frames("Content-Length: 1000\r\n\r\n" + big + "Content-Length: 2\r\n\r\n{}",
                  Framing::ContentLength, lim);
  ASSERT_GE(f.size(), 2u);
  EXPECT_EQ(f[0].first, FrameStatus::TooLarge);
  EXPECT_EQ(f[1].first, FrameStatus::Ok);
  EXPECT_EQ(f[1].second, "{}");
}

TEST(JsonRpcFraming, ContentLengthTruncatedBodyAndHeader) {
  auto f = frames("Content-Length: 100\r\n\r\n{\"a\":", Framing::ContentLength);
  EXPECT_EQ(f[0].first, FrameStatus::Truncated);
  EXPECT_EQ(f[1].first, FrameStatus::Eof);
  f = frames("Content-Len", Framing::ContentLength);
  EXPECT_EQ(f[0].first, FrameStatus::Truncated);
}

TEST(JsonRpcFraming, ContentLengthOverlongHeaderLine) {
  Limits lim;
  lim.max_header_bytes = 64;
  auto f = frames("X-Junk: " + std::string(100000, 'j') + "\r\nContent-Length: 2\r\n\r\n{}",
                  Framing::ContentLength, lim);
  EXPECT_EQ(f[0].first, FrameStatus::BadHeader);
}

// Hostile probe 2026-12-06: a 60 MB tools/call whose argument held 20 million empty arrays
// (under the 64 MiB message limit) took the MCP server to 3.4 GB, four of them to 9.7 GB: a
// parsed value costs tens of bytes against the 1-3 it takes in the text. Messages with more
// than max_values values are refused before parsing (-32700, naming the limit); strings of any
// length inside the limit are one value.
TEST(JsonRpcMessage, TooManyValuesAreRefusedBeforeParsing) {
  const std::string head = R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"a":[)";
  std::string many = head;
  for (int i = 0; i < 2000000; ++i) many += i ? ",[]" : "[]";
  many += "]}}";
  const Parsed p = parse_message(many);
  ASSERT_TRUE(p.error_response);
  EXPECT_EQ((*p.error_response)["error"]["code"], code::kParseError);
  EXPECT_NE((*p.error_response)["error"]["message"].get<std::string>().find("1048576 values"),
            std::string::npos)
      << *p.error_response;
  // Commas and brackets inside strings are not values; a message at the limit parses.
  std::string fine = head + "\"" + std::string(3000000, ',') + std::string(1000, '[') + "\"";
  for (int i = 0; i < 1000000; ++i) fine += ",0";
  fine += "]}}";
  EXPECT_TRUE(parse_message(fine).message);
  EXPECT_TRUE(parse_message(many, 128, size_t(1) << 23).message);  // the limit is the caller's
}

TEST(JsonRpcMessage, ErrorCodes) {
  EXPECT_EQ(error_code(parse_message("{not json")), code::kParseError);
  EXPECT_EQ(error_code(parse_message("")), code::kParseError);
  EXPECT_EQ(error_code(parse_message("{\"jsonrpc\":\"2.0\",\"method\":\"x\"} trailing")),
            code::kParseError);
  EXPECT_EQ(error_code(parse_message("\"\xff\xfe\"")), code::kParseError);  // invalid UTF-8
  EXPECT_EQ(error_code(parse_message("42")), code::kInvalidRequest);
  EXPECT_EQ(error_code(parse_message("[]")), code::kInvalidRequest);
  EXPECT_EQ(error_code(parse_message("[{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1}]")),
            code::kInvalidRequest);
  EXPECT_EQ(error_code(parse_message("{\"method\":\"a\",\"id\":1}")), code::kInvalidRequest);
  EXPECT_EQ(error_code(parse_message("{\"jsonrpc\":\"1.0\",\"method\":\"a\",\"id\":1}")),
            code::kInvalidRequest);
  EXPECT_EQ(error_code(parse_message("{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":1}")),
            code::kInvalidRequest);
  EXPECT_EQ(error_code(parse_message("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":{}}")),
            code::kInvalidRequest);
  EXPECT_EQ(error_code(parse_message("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":3}")),
            code::kInvalidRequest);
  EXPECT_EQ(error_code(parse_message("{\"jsonrpc\":\"2.0\",\"id\":1}")), code::kInvalidRequest);
  // The id of an invalid request is echoed when it could be read.
  auto p = parse_message("{\"jsonrpc\":\"2.0\",\"method\":7,\"id\":\"abc\"}");
  EXPECT_EQ((*p.error_response)["id"], "abc");

  auto ok = parse_message("{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":7,\"params\":{}}");
  ASSERT_TRUE(ok.message);
  EXPECT_EQ(ok.message->kind, Message::Kind::Request);
  auto n = parse_message("{\"jsonrpc\":\"2.0\",\"method\":\"m\"}");
  ASSERT_TRUE(n.message);
  EXPECT_EQ(n.message->kind, Message::Kind::Notification);
  auto r = parse_message("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":null}");
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.message->kind, Message::Kind::Response);
}

// Hostile probe 2026-12-05: a request with "id": null was answered as a request; MCP and LSP
// both require a string or integer id. A response may still carry a null id (an error about
// a request whose id could not be read).
TEST(JsonRpcMessage, RequestWithNullIdIsInvalid) {
  auto p = parse_message("{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":null}");
  ASSERT_FALSE(p.message);
  EXPECT_EQ(error_code(p), code::kInvalidRequest);
  EXPECT_TRUE((*p.error_response)["id"].is_null());
  auto r = parse_message(
      "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"x\"}}");
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.message->kind, Message::Kind::Response);
}

TEST(JsonRpcMessage, HugeNumbersAreParseErrorsOrValues) {
  // 1e99999 overflows a double: nlohmann refuses it (parse error), never UB.
  EXPECT_EQ(
      error_code(parse_message("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":[1e99999]}")),
      code::kParseError);
  // A 400-digit integer becomes a double or a parse error, never a crash.
  auto p = parse_message("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":[" +
                         std::string(400, '9') + "]}");
  EXPECT_TRUE(p.message || error_code(p) == code::kParseError);
}

TEST(JsonRpcMessage, DeepNestingIsRejectedBeforeParsing) {
  std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  EXPECT_EQ(error_code(parse_message(deep)), code::kParseError);
  std::string deep_obj;
  for (int i = 0; i < 200000; ++i) deep_obj += "{\"a\":";
  deep_obj += "1" + std::string(200000, '}');
  EXPECT_EQ(error_code(parse_message(deep_obj)), code::kParseError);
  // Brackets inside strings do not count.
  std::string in_string = "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{\"s\":\"" +
                          std::string(10000, '[') + "\\\"\"}}";
  EXPECT_TRUE(parse_message(in_string).message);
}

TEST(JsonRpcEndpoint, AnswersEveryErrorClassAndKeepsGoing) {
  std::string in =
      "{garbage\n"
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"echo\",\"params\":{\"v\":[1,2]}}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"boom\"}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"bad_params\"}\n"
      "{\"jsonrpc\":\"2.0\",\"method\":\"unknown/notification\"}\n"
      "[1,2]\n" +
      std::string(200, '[') + "\n" + "{\"jsonrpc\":\"2.0\",\"id\":\"last\",\"method\":\"echo\"}\n";
  auto out = run_endpoint(in, Framing::Newline);
  int parse_errors = 0, invalid = 0;
  for (const auto& m : out)
    if (m["id"].is_null()) {
      int c = m["error"]["code"];
      parse_errors += c == code::kParseError;
      invalid += c == code::kInvalidRequest;
    }
  EXPECT_EQ(parse_errors, 2);  // "{garbage" and the deep nesting
  EXPECT_EQ(invalid, 1);       // the batch
  ASSERT_TRUE(find_id(out, 1));
  EXPECT_EQ((*find_id(out, 1))["error"]["code"], code::kMethodNotFound);
  ASSERT_TRUE(find_id(out, 2));
  EXPECT_EQ((*find_id(out, 2))["result"]["v"], json::array({1, 2}));
  ASSERT_TRUE(find_id(out, 3));
  EXPECT_EQ((*find_id(out, 3))["error"]["code"], code::kInternalError);
  ASSERT_TRUE(find_id(out, 4));
  EXPECT_EQ((*find_id(out, 4))["error"]["code"], code::kInvalidParams);
  ASSERT_TRUE(find_id(out, "last"));
  EXPECT_EQ(out.size(), 8u);  // nothing for the notification
}

TEST(JsonRpcEndpoint, ContentLengthFramingErrorsGetResponses) {
  std::string good = "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"echo\",\"params\":[1]}";
  std::string in = "Content-Length: abc\r\n\r\n" + std::string("Content-Length: 3\r\n\r\n{x}") +
                   "Content-Length: " + std::to_string(good.size()) + "\r\n\r\n" + good;
  auto out = run_endpoint(in, Framing::ContentLength);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["error"]["code"], code::kParseError);
  EXPECT_EQ(out[1]["error"]["code"], code::kParseError);
  EXPECT_EQ((*find_id(out, 9))["result"], json::array({1}));
}

TEST(JsonRpcEndpoint, TruncatedStreamEndsRunWithStatusOne) {
  StringSource in("Content-Length: 50\r\n\r\n{\"jsonrpc\"");
  StringSink out;
  Endpoint::Options o;
  o.framing = Framing::ContentLength;
  Endpoint ep(in, out, o);
  EXPECT_EQ(ep.run(), 1);
}

TEST(JsonRpcEndpoint, DuplicateIdWhileRunningIsRefused) {
  // Two requests with one id: the second arrives while the first still runs on a worker.
  std::string in =
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"slow\"}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"slow\"}\n";
  StringSource src(in);
  StringSink out;
  Endpoint ep(src, out, {});
  std::atomic<int> calls{0};
  ep.on_request("slow", [&](Context&) {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return json("done");
  });
  ep.run();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_NE(out.data().find("already in use"), std::string::npos);
}

TEST(JsonRpcEndpoint, CancelledRequestIsSilentOrErrorByPolicy) {
  for (auto policy : {Endpoint::OnCancel::Silent, Endpoint::OnCancel::ErrorResponse}) {
    std::string in =
        "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"wait\"}\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"cancel\",\"params\":{\"id\":5}}\n";
    StringSource src(in);
    StringSink out;
    Endpoint::Options o;
    o.on_cancel = policy;
    Endpoint ep(src, out, o);
    ep.on_request("wait", [](Context& c) {
      for (int i = 0; i < 500 && !c.cancelled(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      return json(c.cancelled() ? "saw cancel" : "timeout");
    });
    ep.on_notification("cancel", [&](const json& p) { ep.cancel(p["id"]); });
    ep.run();
    if (policy == Endpoint::OnCancel::Silent) {
      EXPECT_EQ(out.data(), "");
    } else {
      auto m = json::parse(out.data());
      EXPECT_EQ(m["error"]["code"], code::kRequestCancelled);
    }
  }
}

// Probe 2026-12-05: a client that died (its end of our output closed) left a full reindex it
// had asked for running to the end (37 s); the request is now cancelled once the output's
// reader is gone, and run() returns.
TEST(JsonRpcEndpoint, RequestsAreCancelledWhenTheOutputReaderIsGone) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // the client is gone
  std::signal(SIGPIPE, SIG_IGN);
  StringSource src("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"long\"}\n");
  FdSink out(fds[1]);
  Endpoint ep(src, out, {});
  std::atomic<bool> saw_cancel{false};
  ep.on_request("long", [&](Context& c) {
    for (int i = 0; i < 3000 && !c.cancelled(); ++i)  // 30 s unless cancelled
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    saw_cancel = c.cancelled();
    return json("done");
  });
  ep.run();
  ::close(fds[1]);
  EXPECT_TRUE(saw_cancel.load());
}

// ... while a client that only closed its side (a script piping requests in) still gets every
// answer.
TEST(JsonRpcEndpoint, RequestsStillAnswerAfterTheEndOfInput) {
  StringSource src(
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"slow\"}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"slow\"}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"slow\"}\n");
  StringSink out;
  Endpoint::Options o;
  o.workers = 1;
  Endpoint ep(src, out, o);
  ep.on_request("slow", [](Context& c) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    return json(c.cancelled() ? "cancelled" : "done");
  });
  ep.run();
  EXPECT_EQ(out.data(),
            "{\"id\":1,\"jsonrpc\":\"2.0\",\"result\":\"done\"}\n"
            "{\"id\":2,\"jsonrpc\":\"2.0\",\"result\":\"done\"}\n"
            "{\"id\":3,\"jsonrpc\":\"2.0\",\"result\":\"done\"}\n");
}

// Probe 2026-12-05: 40 queued tool calls of 20 MB each took the MCP server from 215 MB to
// 1 GB (the bound was 256 requests of up to 64 MiB); queued messages are now bounded in bytes.
TEST(JsonRpcEndpoint, QueuedRequestsAreBoundedInBytes) {
  const std::string big(3000, 'x');
  std::string in;
  for (int i = 1; i <= 6; ++i)
    in += "{\"jsonrpc\":\"2.0\",\"id\":" + std::to_string(i) +
          ",\"method\":\"slow\",\"params\":{\"q\":\"" + big + "\"}}\n";
  StringSource src(in);
  StringSink out;
  Endpoint::Options o;
  o.workers = 1;
  o.max_pending_bytes = 10000;  // three of these messages
  Endpoint ep(src, out, o);
  std::atomic<int> calls{0};
  ep.on_request("slow", [&](Context&) {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return json("done");
  });
  ep.run();
  int busy = 0, done = 0;
  StringSource back(out.data());
  FrameReader r(back, Framing::Newline);
  std::string body;
  while (r.next(&body) == FrameStatus::Ok) {
    const json m = json::parse(body);
    busy += m.contains("error") &&
            m["error"]["message"].get<std::string>().find("busy") != std::string::npos;
    done += m.contains("result");
  }
  EXPECT_EQ(busy + done, 6);
  EXPECT_GE(busy, 2);  // the first may already run; at most three wait
  EXPECT_EQ(done, calls.load());
}

// Probe 2026-12-05 (second round): a client that died while another process kept its end of
// our input open sent no end of input; the server sat in read() for minutes (its reply could
// not be written) and a long request ran to the end. The output's reader being gone ends the
// session and cancels what runs, with the input still open.
TEST(JsonRpcEndpoint, SessionEndsWhenTheOutputReaderIsGoneWhileInputStaysOpen) {
  int in[2], out[2];
  ASSERT_EQ(::pipe(in), 0);
  ASSERT_EQ(::pipe(out), 0);
  std::signal(SIGPIPE, SIG_IGN);
  const std::string req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"long\"}\n";
  ASSERT_EQ(::write(in[1], req.data(), req.size()), static_cast<ssize_t>(req.size()));
  FdSource src(in[0]);
  FdSink sink(out[1]);
  Endpoint ep(src, sink, {});
  std::atomic<bool> saw_cancel{false}, started{false};
  ep.on_request("long", [&](Context& c) {
    started = true;
    for (int i = 0; i < 3000 && !c.cancelled(); ++i)  // 30 s unless cancelled
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    saw_cancel = c.cancelled();
    return json("done");
  });
  std::atomic<bool> done{false};
  std::thread t([&] {
    ep.run();
    done = true;
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::close(out[0]);  // the client dies; in[1] stays open (held elsewhere)
  for (int i = 0; i < 200 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(done.load()) << "the session did not end within 10 s";
  ::close(in[1]);  // lets a run() that did not end return, so the test can finish
  t.join();
  EXPECT_TRUE(saw_cancel.load());
  ::close(in[0]);
  ::close(out[1]);
}

TEST(JsonRpcMessage, SerializeReplacesInvalidUtf8) {
  json j = {{"s", std::string("a\xff"
                              "b\n")}};
  std::string s = serialize(j);
  EXPECT_EQ(s.find('\n'), std::string::npos);
  EXPECT_NE(s.find("\\n"), std::string::npos);
  EXPECT_NE(s.find("\xEF\xBF\xBD"), std::string::npos);
}
