"""The Teams adapter (being split into one module per concern; these names move with it)."""

from adapters.teams.adapter import TeamsAdapter, card_to_adaptive, command_text, parse_activity

__all__ = ["TeamsAdapter", "card_to_adaptive", "command_text", "parse_activity"]
