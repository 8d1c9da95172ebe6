-- Runs an Argo CD health script the way Argo CD does: the object as the global `obj`, the
-- script's returned table as the verdict. Usage: lua5.1 run-health.lua <script> < object.json
-- prints {"status": ..., "message": ...}.
local cjson = require("cjson")
obj = cjson.decode(io.read("*a"))
local check = assert(loadfile(arg[1]))
local verdict = check()
io.write(cjson.encode({ status = verdict.status, message = verdict.message or "" }))
