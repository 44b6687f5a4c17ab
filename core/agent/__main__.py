"""`python -m core.agent`: the robot-PC agent (see core/agent/cli.py)."""

from core.agent.cli import main

raise SystemExit(main())
