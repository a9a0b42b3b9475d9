-- Neovim's built-in LSP client against `ripvec lsp` (run by lsp_nvim_test.cpp):
--   nvim --headless --clean -c "luafile nvim_lsp_check.lua"
-- Environment: RIPVEC (binary), MODEL (model dir), CACHE (index cache), TREE (project written by
-- the test), OUT (where the check lines go). Each check is one "ok ..." / "FAIL ..." line.
local ripvec, model, cache = os.getenv('RIPVEC'), os.getenv('MODEL'), os.getenv('CACHE')
local tree, out_path = os.getenv('TREE'), os.getenv('OUT')
local lines = {}
local function check(cond, what)
  table.insert(lines, (cond and 'ok   ' or 'FAIL ') .. what)
end
local function finish()
  local f = io.open(out_path, 'w')
  f:write(table.concat(lines, '\n') .. '\n')
  f:close()
  vim.cmd('qa!')
end

local ok, err = pcall(function()
  vim.cmd('edit ' .. tree .. '/pkg/main.py')
  local main_buf = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start_client({
    name = 'ripvec',
    cmd = { ripvec, 'lsp', '--model', model, '--device', 'cpu', '--cache-dir', cache, '--no-watch' },
    root_dir = tree,
  })
  check(id ~= nil, 'start_client')
  vim.lsp.buf_attach_client(main_buf, id)
  local client = vim.lsp.get_client_by_id(id)
  local ready = vim.wait(20000, function()
    return client.server_capabilities ~= nil and next(client.server_capabilities) ~= nil
  end, 50)
  check(ready, 'initialize: capabilities received')
  check(ready and client.server_capabilities.documentSymbolProvider == true and
        client.server_capabilities.callHierarchyProvider == true, 'capabilities advertise symbols and call hierarchy')

  local function request(method, params)
    local t0 = vim.loop.hrtime()
    local res, e = client.request_sync(method, params, 20000, main_buf)
    table.insert(lines, string.format('time %s %.2f ms', method, (vim.loop.hrtime() - t0) / 1e6))
    if not res then return nil, e end
    return res.result, res.err
  end

  -- documentSymbol on the open buffer: Greeter with its method nested.
  local util_uri = vim.uri_from_fname(tree .. '/pkg/util.py')
  local syms = request('textDocument/documentSymbol', { textDocument = { uri = util_uri } })
  local greeter = syms and syms[1]
  check(greeter and greeter.name == 'Greeter' and greeter.kind == 5, 'documentSymbol: class Greeter')
  check(greeter and greeter.children and greeter.children[1] and greeter.children[1].name == 'greet' and
        greeter.children[1].selectionRange.start.line == 4, 'documentSymbol: method greet nested, line 5')
  check(syms and syms[2] and syms[2].name == 'shout' and syms[2].range.start.line == 9,
        'documentSymbol: function shout at line 10')

  -- workspace/symbol
  local ws = request('workspace/symbol', { query = 'greet' })
  local found = false
  for _, s in ipairs(ws or {}) do
    if s.name == 'Greeter.greet' and s.location.uri == util_uri and s.location.range.start.line == 4 then
      found = true
    end
  end
  check(found, 'workspace/symbol greet -> pkg/util.py:5')

  -- definition of `greet` in main.py (line 6, col 20: "    return Greeter().greet(name)")
  local pos = { textDocument = { uri = vim.uri_from_bufnr(main_buf) }, position = { line = 5, character = 22 } }
  local def = request('textDocument/definition', pos)
  local d1 = def and (def[1] or def)
  check(d1 and d1.uri == util_uri and d1.range.start.line == 4 and d1.range.start.character == 8,
        'definition of greet -> pkg/util.py:5:9')

  -- hover: signature and docstring
  local hov = request('textDocument/hover', pos)
  local value = hov and hov.contents and hov.contents.value or ''
  check(value:find('def greet(self, name: str) -> str', 1, true) ~= nil, 'hover shows the signature')
  check(value:find('Return a friendly greeting', 1, true) ~= nil, 'hover shows the docstring')

  -- references include the call in main.py
  local refs = request('textDocument/references', {
    textDocument = pos.textDocument, position = pos.position, context = { includeDeclaration = true } })
  local in_main, decl = false, false
  for _, r in ipairs(refs or {}) do
    if r.uri == pos.textDocument.uri and r.range.start.line == 5 then in_main = true end
    if r.uri == util_uri and r.range.start.line == 4 then decl = true end
  end
  check(in_main and decl, 'references: the call and the declaration')

  -- call hierarchy: greet is called by run()
  local items = request('textDocument/prepareCallHierarchy', pos)
  check(items and items[1] and items[1].name == 'Greeter.greet', 'prepareCallHierarchy -> Greeter.greet')
  if items and items[1] then
    local inc = request('callHierarchy/incomingCalls', { item = items[1] })
    local by_run = false
    for _, c in ipairs(inc or {}) do
      if c.from.name == 'run' then by_run = true end
    end
    check(by_run, 'incomingCalls: run calls greet')
    local outc = request('callHierarchy/outgoingCalls', { item = items[1] })
    local calls_shout = false
    for _, c in ipairs(outc or {}) do
      if c.to.name == 'shout' then calls_shout = true end
    end
    check(calls_shout, 'outgoingCalls: greet calls shout')
  end

  -- Unsaved edits: a new function typed into the buffer is found without saving.
  vim.api.nvim_buf_set_lines(main_buf, -1, -1, false, { '', 'def farewell_unsaved(name):', '    return name' })
  vim.wait(300)
  local ws2 = request('workspace/symbol', { query = 'farewell_unsaved' })
  check(ws2 and ws2[1] and ws2[1].name == 'farewell_unsaved' and ws2[1].location.range.start.line == 7,
        'workspace/symbol sees the unsaved buffer')

  vim.lsp.stop_client(id)
  vim.wait(3000, function() return vim.lsp.get_client_by_id(id) == nil end, 50)
end)
if not ok then check(false, 'lua error: ' .. tostring(err)) end
finish()
