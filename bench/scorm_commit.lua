-- wrk: SCORM commits as scorm-again sends them (our envelope around flattened CMI data), spread
-- over many attempts (one launch token each, read from the file TOKENS names, one per line); each
-- attempt's commits carry a growing counter, a new location and session time, suspend data and an
-- answered interaction, as a SCO does while a learner works through it.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do
  if #line > 0 then tokens[#tokens + 1] = line end
end
local seq = {}
local n = 0
request = function()
  n = n + 1
  local i = (n % #tokens) + 1
  local t = tokens[i]
  seq[i] = (seq[i] or 0) + 1
  local s = seq[i]
  local secs = s * 7
  local body = string.format(
    '{"launch":1,"seq":%d,"final":false,"values":{"cmi.core.lesson_status":"incomplete","cmi.core.lesson_location":"page-%d",' ..
    '"cmi.core.session_time":"%04d:%02d:%02d","cmi.core.exit":"suspend","cmi.suspend_data":"{\\"answers\\":{\\"q%d\\":\\"b\\"},\\"visited\\":[1,2,3,4,5,6,7,8,9,10]}",' ..
    '"cmi.core.score.raw":"%d","cmi.core.score.min":"0","cmi.core.score.max":"100",' ..
    '"cmi.interactions.%d.id":"q%d","cmi.interactions.%d.type":"choice","cmi.interactions.%d.student_response":"b","cmi.interactions.%d.result":"correct"}}',
    s, s % 12, math.floor(secs / 3600), math.floor(secs / 60) % 60, secs % 60, s % 10, s % 100, s % 8, s % 8, s % 8, s % 8, s % 8)
  return wrk.format("POST", "/run/" .. t .. "/commit", { ["Content-Type"] = "text/plain;charset=UTF-8" }, body)
end
