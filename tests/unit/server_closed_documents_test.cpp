// ClosedDocuments (src/server/closed_documents.hpp): the LSP server's record of when documents
// were closed, kept only while a pending request may need it.
#include <gtest/gtest.h>

#include <string>

#include "server/closed_documents.hpp"

namespace ripvec::server {
namespace {

// Hostile probe 2026-12-06: 200,000 documents opened and closed (distinct URIs) stayed in the
// record forever, each request copying all of them (80-90 ms per hover, 234 MB). With nothing
// pending every entry goes; with a request pending since epoch s, exactly the closings after s
// stay (a closing at or before s cannot make that request's answer stale).
TEST(ClosedDocuments, ManyClosedDocumentsArePrunedToWhatPendingRequestsNeed) {
  ClosedDocuments c;
  uint64_t epoch = 0;
  for (int i = 0; i < 200000; ++i) {
    c.closed("/w/f" + std::to_string(i) + ".py", ++epoch);
    c.prune(epoch);  // nothing pending: the current epoch
  }
  EXPECT_EQ(c.size(), 0u);

  const uint64_t pending = epoch;  // a request read now, still running below
  for (int i = 0; i < 1000; ++i) {
    c.closed("/w/g" + std::to_string(i) + ".py", ++epoch);
    c.prune(pending);
  }
  EXPECT_EQ(c.size(), 1000u);
  EXPECT_EQ(c.closed_at("/w/g0.py"), pending + 1);
  EXPECT_EQ(c.closed_at("/w/f7.py"), 0u);
  c.prune(epoch);  // that request answered
  EXPECT_EQ(c.size(), 0u);
}

// A path closed twice keeps its latest closing until that one is pruned.
TEST(ClosedDocuments, ReclosedPathKeepsItsLatestClosing) {
  ClosedDocuments c;
  c.closed("/w/a.py", 1);
  c.closed("/w/b.py", 2);
  c.closed("/w/a.py", 3);
  c.prune(1);  // the first closing of a.py goes, not its entry
  EXPECT_EQ(c.closed_at("/w/a.py"), 3u);
  EXPECT_EQ(c.closed_at("/w/b.py"), 2u);
  c.prune(2);
  EXPECT_EQ(c.closed_at("/w/b.py"), 0u);
  EXPECT_EQ(c.closed_at("/w/a.py"), 3u);
  c.prune(3);
  EXPECT_EQ(c.size(), 0u);
}

}  // namespace
}  // namespace ripvec::server
