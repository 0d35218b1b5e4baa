"""The agent desktop's server side: the push channel, where screen-pops come from, the pop."""
