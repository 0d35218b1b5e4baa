"""The agent desktop: who is calling (the CRM card), the screen-pop, and the routes it calls."""
