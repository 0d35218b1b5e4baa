"""The agent desktop's service side: agent control, dispositions, the wallboard's figures."""
