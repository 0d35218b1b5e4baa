"""The agent desktop's server side: the people who sign in (``users``) and what they work with."""
