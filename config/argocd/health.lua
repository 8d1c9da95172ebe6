-- Argo CD health for core.opdemo.net/Action, from the conditions the advance-phase function
-- writes: Running -> Progressing, finished -> Healthy, invalid spec -> Degraded, paused ->
-- Suspended. Installed as argocd-cm's resource.customizations.health.core.opdemo.net_Action
-- (config/argocd/argocd-cm-patch.yaml carries this file).
local function condition(kind)
  for _, c in ipairs(obj.status and obj.status.conditions or {}) do
    if c.type == kind then return c end
  end
  return nil
end

local status = obj.status or {}
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  return { status = "Progressing", message = "waiting for the function to see generation " .. tostring(generation) }
end

local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  return { status = "Degraded", message = stalled.message }
end
local succeeded = condition("Succeeded")
if succeeded == nil then
  return { status = "Progressing", message = "waiting for the function to begin the first phase" }
end
if succeeded.status == "True" then
  return { status = "Healthy", message = succeeded.message }
end
if succeeded.status == "False" then
  return { status = "Degraded", message = succeeded.message }
end
if succeeded.reason == "Paused" then
  return { status = "Suspended", message = succeeded.message }
end
return { status = "Progressing", message = succeeded.message }
