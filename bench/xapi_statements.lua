-- wrk: xAPI statements POSTed to a trust's LRS, BATCH (environment, default 1) per request: a
-- learner (one of 5,000) answered a question of one of 200 activities, in a registration, with a
-- score and a duration: the shape of what e-learning sends. The LRS gives each its id.
local batch = tonumber(os.getenv("BATCH") or "1")
local auth = os.getenv("AUTH")
local n = 0
local function statement(k)
  return string.format(
    '{"actor":{"objectType":"Agent","account":{"homePage":"https://bench.example","name":"learner-%d"}},' ..
    '"verb":{"id":"http://adlnet.gov/expapi/verbs/answered","display":{"en-GB":"answered"}},' ..
    '"object":{"objectType":"Activity","id":"https://bench.example/activities/%d/question/%d","definition":{"type":"http://adlnet.gov/expapi/activities/cmi.interaction","interactionType":"choice"}},' ..
    '"result":{"success":true,"response":"b","score":{"scaled":0.8},"duration":"PT%dS"},' ..
    '"context":{"registration":"%08x-0000-4000-8000-%012x","contextActivities":{"parent":[{"id":"https://bench.example/activities/%d"}]}},' ..
    '"timestamp":"2026-12-01T10:00:00.000Z"}',
    k % 5000, k % 200, k % 10, k % 300, k % 5000, k % 200, k % 200)
end
request = function()
  local parts = {}
  for j = 1, batch do
    n = n + 1
    parts[j] = statement(n * 7919 + j)
  end
  local body = batch == 1 and parts[1] or ("[" .. table.concat(parts, ",") .. "]")
  return wrk.format("POST", "/xapi/statements", {
    ["Content-Type"] = "application/json",
    ["X-Experience-API-Version"] = "2.0.0",
    ["Authorization"] = auth,
  }, body)
end
