"""The agent desktop's server side: the people who sign in (``users``), who is calling (the CRM
card), the screen-pop, and what agents work with."""
