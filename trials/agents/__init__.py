"""The robot agent protocol (/api/v1/agent/): a physical robot's agent takes its trial's episodes as
jobs, streams events and reports each episode. It lives in trials, which owns episodes; robots keeps
the robot, its token, heartbeats, lease expiry and the AgentJob rows (robots.services)."""
