"""engagebot's platform-neutral core: events, prompts, capture rules, summaries, commands and scheduling."""
