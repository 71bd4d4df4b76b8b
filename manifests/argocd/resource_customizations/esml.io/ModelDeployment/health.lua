-- Argo CD health check for esml.io/ModelDeployment (esml-operator).
--
-- Install it as resource.customizations.health.esml.io_ModelDeployment in
-- argocd-cm (manifests/argocd/kustomization.yaml, or docs/guides/gitops.md).
-- It reads the kstatus-style conditions the operator writes, in this order:
--   1. the operator has not observed the current spec yet
--      (no status.observedGeneration, or it is older than metadata.generation) -> Progressing
--   2. spec.paused is true                                                  -> Suspended
--   3. condition Stalled is True (no progress possible without a change)   -> Degraded
--   4. condition Ready is True                                              -> Healthy
--   5. anything else (starting, scaling, retrying)                          -> Progressing
local hs = {}

local function find(conditions, kind)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == kind then
      return condition
    end
  end
  return nil
end

local function describe(condition)
  local text = condition.reason or condition.type
  if condition.message ~= nil and condition.message ~= "" then
    text = text .. ": " .. condition.message
  end
  return text
end

local spec = obj.spec or {}
local status = obj.status or {}
local generation = obj.metadata.generation
local observed = status.observedGeneration

if observed == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the resource"
  return hs
end
if generation ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation .. " (observed " .. observed .. ")"
  return hs
end

local ready = find(status.conditions, "Ready")
local reconciling = find(status.conditions, "Reconciling")
local stalled = find(status.conditions, "Stalled")

if spec.paused == true then
  hs.status = "Suspended"
  hs.message = "Reconciliation is paused (spec.paused)"
  if ready ~= nil then
    hs.message = hs.message .. "; Ready " .. ready.status .. ", " .. describe(ready)
  end
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
elseif ready ~= nil then
  hs.message = describe(ready)
else
  hs.message = "Waiting for the operator to report the deployment"
end
return hs
