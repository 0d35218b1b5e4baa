"""Dialling out: leads called back within a minute, campaigns from call lists, and the rules
no dial may break. Pure decisions (numbers, rules, pacing) beside thin adapters (SQL, Redis,
ARI)."""
