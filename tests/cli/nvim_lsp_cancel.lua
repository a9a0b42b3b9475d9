-- Neovim's built-in LSP client cancels a running request of `ripvec lsp` (run by lsp_test.cpp):
--   nvim --headless --clean -c "luafile nvim_lsp_cancel.lua"
-- Environment: RIPVEC (binary), TREE (a project of a few thousand files written by the test),
-- OUT (where the check lines go). The first workspace/symbol builds the repo graph (seconds);
-- the client cancels it with client.cancel_request ($/cancelRequest). Neovim 0.7 mutes the
-- server's RequestCancelled (-32800) reply: its handler is not called, but the request leaves
-- client.requests when the reply arrives. That must happen long before an uncancelled build of
-- the same graph finishes.
local ripvec, tree, out_path = os.getenv('RIPVEC'), os.getenv('TREE'), os.getenv('OUT')
local lines = {}
local function check(cond, what)
  table.insert(lines, (cond and 'ok   ' or 'FAIL ') .. what)
end

local ok, err = pcall(function()
  vim.cmd('edit ' .. tree .. '/p0/m0.py')
  local buf = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start_client({
    name = 'ripvec',
    -- No model is needed for the graph; a missing one also keeps the background indexer idle.
    cmd = { ripvec, 'lsp', '--model', '/nonexistent/model', '--no-watch' },
    root_dir = tree,
  })
  vim.lsp.buf_attach_client(buf, id)
  local client = vim.lsp.get_client_by_id(id)
  check(vim.wait(20000, function()
    return client.server_capabilities ~= nil and next(client.server_capabilities) ~= nil
  end, 20), 'initialize: capabilities received')

  local handled = false
  local sent, req_id = client.request('workspace/symbol', { query = 'f1_1' }, function()
    handled = true
  end, buf)
  check(sent and req_id ~= nil, 'workspace/symbol sent')
  vim.wait(300)
  local t0 = vim.loop.hrtime()
  client.cancel_request(req_id)
  local answered = vim.wait(120000, function() return client.requests[req_id] == nil end, 5)
  local cancel_ms = (vim.loop.hrtime() - t0) / 1e6
  vim.wait(200)
  check(answered and not handled,
        string.format('cancelled workspace/symbol answered RequestCancelled %.0f ms after the cancel', cancel_ms))

  t0 = vim.loop.hrtime()
  local res = client.request_sync('workspace/symbol', { query = 'f1_1' }, 120000, buf)
  local full_ms = (vim.loop.hrtime() - t0) / 1e6
  check(res and res.result and #res.result > 0,
        string.format('the same request uncancelled builds the graph and answers in %.0f ms', full_ms))
  check(answered and cancel_ms < full_ms / 2,
        string.format('the cancel stopped the build early (%.0f ms vs %.0f ms)', cancel_ms, full_ms))
  vim.lsp.stop_client(id)
  vim.wait(3000, function() return vim.lsp.get_client_by_id(id) == nil end, 50)
end)
if not ok then check(false, 'lua error: ' .. tostring(err)) end
local f = io.open(out_path, 'w')
f:write(table.concat(lines, '\n') .. '\n')
f:close()
vim.cmd('qa!')
